//! Writes every option and a refinement for each description of the conformance corpus, and
//! refinements of the diagrams from other tools in `conformance/foreign/`, so outside validators
//! (the OMG XSD, bpmnlint) can check exactly what the engine emits.
//!
//! Usage: `cargo run --release -p procmap-engine --example conformance_corpus -- CORPUS OUT_DIR [FOREIGN_DIR]`

use std::{path::PathBuf, process::ExitCode, time::Instant};

use procmap_engine::{self as engine, bpmn::reader};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{median, write};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(corpus_path), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: conformance_corpus CORPUS OUT_DIR");
        return ExitCode::FAILURE;
    };
    let descriptions = match corpus::read(&corpus_path) {
        Ok(descriptions) => descriptions,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let mut option_micros = Vec::new();
    let mut refine_micros = Vec::new();
    let mut failures = 0;
    let mut files = 0;
    for (i, description) in descriptions.iter().enumerate() {
        let started = Instant::now();
        let options = match engine::generate_options(description) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("description {i}: generation failed: {e}");
                failures += 1;
                continue;
            }
        };
        option_micros.push(started.elapsed().as_micros() as f64 / options.len() as f64);
        for (n, xml) in options.iter().enumerate() {
            write(&out.join(format!("d{i:02}_option{}.bpmn", n + 1)), xml);
            files += 1;
        }
        let source = &options[i % options.len()];
        let follow_up = follow_up(i, source);
        let started = Instant::now();
        match engine::refine(source, &follow_up) {
            Ok(refined) => {
                refine_micros.push(started.elapsed().as_micros() as f64);
                write(
                    &out.join(format!("d{i:02}_refined.bpmn")),
                    &refined.bpmn_xml,
                );
                files += 1;
            }
            Err(e) => {
                eprintln!("description {i}: refinement {follow_up:?} failed: {e}");
                failures += 1;
            }
        }
    }
    // Other tools' diagrams: what the model cannot represent is copied through, and must still
    // leave a valid document.
    let foreign: Vec<PathBuf> = args
        .next()
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .map(|entries| {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
                .collect();
            paths.sort();
            paths
        })
        .unwrap_or_default();
    for (i, path) in foreign.iter().enumerate() {
        let Ok(source) = std::fs::read_to_string(path) else {
            eprintln!("cannot read {}", path.display());
            failures += 1;
            continue;
        };
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        for k in 0..FOLLOW_UP_KINDS {
            let follow_up = follow_up(i + k, &source);
            match engine::refine(&source, &follow_up) {
                Ok(refined) => {
                    write(
                        &out.join(format!("foreign_{name}_{k}.bpmn")),
                        &refined.bpmn_xml,
                    );
                    files += 1;
                }
                Err(e) => {
                    eprintln!("{name}: refinement {follow_up:?} failed: {e}");
                    failures += 1;
                }
            }
        }
    }
    println!(
        "corpus: {} descriptions and {} diagrams from other tools, {files} diagrams written, {failures} engine failures",
        descriptions.len(),
        foreign.len()
    );
    println!(
        "engine time: median {:.0} µs per option, median {:.0} µs per refinement",
        median(&mut option_micros),
        median(&mut refine_micros)
    );
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

const FOLLOW_UP_KINDS: usize = 9;

/// A follow-up of each kind the builtin modeler understands, aimed at the source's own tasks.
fn follow_up(i: usize, source: &str) -> String {
    let tasks: Vec<String> = reader::read(source)
        .map(|d| {
            d.model
                .nodes
                .into_iter()
                .filter(|n| n.kind.is_activity())
                .map(|n| n.name)
                .collect()
        })
        .unwrap_or_default();
    let task = tasks
        .get(1)
        .or(tasks.first())
        .cloned()
        .unwrap_or_else(|| "the first step".into());
    match i % FOLLOW_UP_KINDS {
        0 => "Add an escalation path for urgent cases.".to_owned(),
        1 => format!("Add an approval step before {task}."),
        2 => format!("Add a step to notify the customer after {task}."),
        3 => format!("Add a decision whether the case is complex after {task}."),
        4 => format!("Remove {task}."),
        5 => format!("Rename {task} to Double-check everything."),
        6 => format!("Add a deadline of 2 days to {task}."),
        7 => format!(
            "Break {task} down into check the input, record the result and report the outcome."
        ),
        _ => format!("Put {task} in lane Quality team."),
    }
}
