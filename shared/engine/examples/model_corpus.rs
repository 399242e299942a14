//! Runs the conformance corpus through a real language model with the OpenAI-compatible
//! provider, exactly as a worker would, and writes every diagram it gets so the outside
//! validators can check them. Prints, per description: succeeded or failed and why, the repair
//! rounds, the output tokens, the seconds, and the activities of each option; then the same for
//! refinements of the first diagrams; then medians.
//!
//! Usage: `cargo run --release -p procmap-engine --example model_corpus -- CORPUS OUT_DIR BASE_URL MODEL [COUNT] [REFINEMENTS]`
//! (`deploy/model_corpus.sh` starts a local model and runs this). With
//! `RUST_LOG=procmap_engine=debug` it also prints every answer that went back for repair.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration, time::Instant};

use procmap_engine::{bpmn::reader, llm::OpenAiModeler, Modeler, OpenAiConfig, Usage};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{median, write};

/// Follow-ups for the refinements, one per refined diagram.
const FOLLOW_UPS: &[&str] = &[
    "Add a final step that archives the case.",
    "Add an approval by a manager before the last step.",
    "Remove the first task.",
    "Rename the first task to Register request.",
    "Add a reminder if the second task takes longer than 2 days.",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // RUST_LOG=procmap_engine=debug shows every answer that went back for repair.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [corpus_path, out, base_url, model, rest @ ..] = args.as_slice() else {
        eprintln!("usage: model_corpus CORPUS OUT_DIR BASE_URL MODEL [COUNT] [REFINEMENTS]");
        return ExitCode::FAILURE;
    };
    let descriptions = match corpus::read(corpus_path) {
        Ok(descriptions) => descriptions,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let number =
        |i: usize, default: usize| rest.get(i).and_then(|c| c.parse().ok()).unwrap_or(default);
    let (count, refinements) = (number(0, descriptions.len()), number(1, 0));
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    // The worker's defaults, with room for a CPU that decodes a few tokens a second.
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
    let mut run = Run::default();
    for (i, description) in descriptions.iter().take(count).enumerate() {
        run.generate(&modeler, &out, i, description).await;
    }
    let sources = run.sources.clone();
    for (i, (name, source)) in sources.iter().take(refinements).enumerate() {
        let follow_up = FOLLOW_UPS[i % FOLLOW_UPS.len()];
        run.refine(&modeler, &out, name, source, follow_up).await;
    }
    let tried = count.min(descriptions.len());
    println!(
        "model corpus ({model}): {}/{tried} generations succeeded ({} options written), \
         median {:.0} output tokens per option and {:.0} s per generation; {}/{} refinements \
         succeeded, median {:.0} output tokens and {:.0} s per refinement (medians over every \
         attempt, failed ones included)",
        run.succeeded,
        3 * run.succeeded,
        median(&mut run.generation_tokens_per_option),
        median(&mut run.generation_seconds),
        run.refined,
        refinements.min(sources.len()),
        median(&mut run.refinement_tokens),
        median(&mut run.refinement_seconds),
    );
    ExitCode::SUCCESS
}

#[derive(Default)]
struct Run {
    succeeded: usize,
    refined: usize,
    /// Output tokens of a generation, repairs included, over its three options.
    generation_tokens_per_option: Vec<f64>,
    generation_seconds: Vec<f64>,
    /// Output tokens of a refinement, repairs included.
    refinement_tokens: Vec<f64>,
    refinement_seconds: Vec<f64>,
    /// The first option of each succeeded generation, to refine: (file name, BPMN).
    sources: Vec<(String, String)>,
}

impl Run {
    async fn generate(&mut self, modeler: &Modeler, out: &std::path::Path, i: usize, text: &str) {
        let started = Instant::now();
        let result = modeler.generate(text, "english").await;
        let seconds = started.elapsed().as_secs_f64();
        let usage = match &result {
            Ok(output) => output.usage.clone(),
            Err(failure) => failure.usage.clone(),
        }
        .unwrap_or_default();
        let figures = figures(&usage, seconds);
        self.generation_tokens_per_option
            .push(usage.completion_tokens as f64 / 3.0);
        self.generation_seconds.push(seconds);
        match result {
            Ok(output) => {
                self.succeeded += 1;
                let mut activities = Vec::new();
                for (n, xml) in output.bpmn_xml.iter().enumerate() {
                    let name = format!("d{i:02}_option{}", n + 1);
                    write(&out.join(format!("{name}.bpmn")), xml);
                    activities.push(format!("option {}: {}", n + 1, activities_of(xml)));
                    if n == 0 {
                        self.sources.push((name, xml.clone()));
                    }
                }
                println!("d{i:02}: succeeded; {figures}");
                for line in activities {
                    println!("      {line}");
                }
            }
            Err(failure) => println!(
                "d{i:02}: failed ({}); {figures}: {}",
                failure.code(),
                first_chars(&failure.error.to_string(), 200)
            ),
        }
    }

    async fn refine(
        &mut self,
        modeler: &Modeler,
        out: &std::path::Path,
        name: &str,
        source: &str,
        follow_up: &str,
    ) {
        let started = Instant::now();
        let result = modeler.refine(source, follow_up).await;
        let seconds = started.elapsed().as_secs_f64();
        let usage = match &result {
            Ok(output) => output.usage.clone(),
            Err(failure) => failure.usage.clone(),
        }
        .unwrap_or_default();
        let figures = figures(&usage, seconds);
        self.refinement_tokens.push(usage.completion_tokens as f64);
        self.refinement_seconds.push(seconds);
        match result {
            Ok(output) => {
                self.refined += 1;
                let xml = &output.bpmn_xml[0];
                write(&out.join(format!("{name}_refined.bpmn")), xml);
                println!("{name} + {follow_up:?}: succeeded; {figures}");
                println!("      after: {}", activities_of(xml));
            }
            Err(failure) => println!(
                "{name} + {follow_up:?}: failed ({}); {figures}: {}",
                failure.code(),
                first_chars(&failure.error.to_string(), 200)
            ),
        }
    }
}

/// Repair rounds, output tokens (in all and per answer) and seconds, as one line.
fn figures(usage: &Usage, seconds: f64) -> String {
    let per_answer = usage.completion_tokens as f64 / f64::from(usage.requests.max(1));
    format!(
        "{} repair rounds, {} requests, {} output tokens ({per_answer:.0} per answer), {seconds:.0} s",
        usage.repair_rounds, usage.requests, usage.completion_tokens
    )
}

/// The names of a diagram's activities, in document order.
fn activities_of(xml: &str) -> String {
    reader::read(xml)
        .map(|d| {
            d.model
                .nodes
                .iter()
                .filter(|n| n.kind.is_activity())
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn first_chars(text: &str, count: usize) -> String {
    text.chars().take(count).collect()
}
