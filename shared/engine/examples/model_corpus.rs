//! Runs the conformance corpus through a real language model with the OpenAI-compatible
//! provider, exactly as a worker would, and writes every option it gets so the outside
//! validators can check them. Prints, per description, what came back and what it cost.
//!
//! Usage: `cargo run --release -p procmap-engine --example model_corpus -- CORPUS OUT_DIR BASE_URL MODEL [COUNT]`
//! (`deploy/model_corpus.sh` starts a local model and runs this.)

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration, time::Instant};

use procmap_engine::{llm::OpenAiModeler, Modeler, OpenAiConfig};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{median, write};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [corpus_path, out, base_url, model, rest @ ..] = args.as_slice() else {
        eprintln!("usage: model_corpus CORPUS OUT_DIR BASE_URL MODEL [COUNT]");
        return ExitCode::FAILURE;
    };
    let descriptions = match corpus::read(corpus_path) {
        Ok(descriptions) => descriptions,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let count = rest
        .first()
        .and_then(|c| c.parse().ok())
        .unwrap_or(descriptions.len());
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    // The worker's defaults, with room for a CPU that decodes a few tokens a second. A whole
    // process model takes 300–1500 tokens; 2048 cuts a looping answer off after minutes, not ten.
    let config = OpenAiConfig {
        base_url: base_url.clone(),
        api_key: None,
        model: model.clone(),
        timeout: Duration::from_secs(1800),
        max_retries: 1,
        repair_rounds: 2,
        max_tokens: 2048,
    };
    let modeler = match OpenAiModeler::new(config) {
        Ok(llm) => Modeler::OpenAi(Arc::new(llm)),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };

    let mut seconds_per_option = Vec::new();
    let (mut succeeded, mut repairs, mut tokens) = (0, 0, 0);
    for (i, description) in descriptions.iter().take(count).enumerate() {
        let started = Instant::now();
        let result = modeler.generate(description, "english").await;
        let elapsed = started.elapsed().as_secs_f64();
        let usage = match &result {
            Ok(output) => output.usage.clone(),
            Err(failure) => failure.usage.clone(),
        }
        .unwrap_or_default();
        repairs += usage.repair_rounds;
        tokens += usage.total_tokens;
        match result {
            Ok(output) => {
                succeeded += 1;
                seconds_per_option.push(elapsed / output.bpmn_xml.len() as f64);
                for (n, xml) in output.bpmn_xml.iter().enumerate() {
                    write(&out.join(format!("d{i:02}_option{}.bpmn", n + 1)), xml);
                }
                println!(
                    "d{i:02}: 3 valid options in {elapsed:.0} s, {} repair rounds, {} tokens",
                    usage.repair_rounds, usage.total_tokens
                );
            }
            Err(failure) => println!(
                "d{i:02}: failed ({}) in {elapsed:.0} s, {} repair rounds, {} tokens: {}",
                failure.code(),
                usage.repair_rounds,
                usage.total_tokens,
                failure
                    .error
                    .to_string()
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        }
    }
    let tried = count.min(descriptions.len());
    println!(
        "model corpus ({model}): {succeeded}/{tried} generations succeeded ({} options written); \
         {repairs} repair rounds; {tokens} tokens; median {:.0} s per option of a succeeded generation",
        3 * succeeded,
        median(&mut seconds_per_option)
    );
    ExitCode::SUCCESS
}
