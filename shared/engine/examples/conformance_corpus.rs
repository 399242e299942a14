//! Writes every option and a refinement for each description of the conformance corpus, and
//! refinements of the diagrams from other tools in `conformance/foreign/` and
//! `conformance/executable/`, so outside validators (the OMG XSD, bpmnlint) can check exactly
//! what the engine emits.
//!
//! Usage: `cargo run --release -p procmap-engine --example conformance_corpus -- CORPUS OUT_DIR [DIAGRAM_DIR...]`

use std::{path::PathBuf, process::ExitCode, time::Instant};

use procmap_engine as engine;

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/follow_ups.rs"]
mod follow_ups;
use corpus::{median, write};
use follow_ups::{follow_up, FOLLOW_UP_KINDS};

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
    let mut run = Run {
        out,
        ..Run::default()
    };
    for (i, description) in descriptions.iter().enumerate() {
        run.description(i, description);
    }
    // Other tools' diagrams: what the model cannot represent is copied through, and must still
    // leave a valid document.
    let foreign: Vec<PathBuf> = args.flat_map(foreign_diagrams).collect();
    for (i, path) in foreign.iter().enumerate() {
        run.foreign(i, path);
    }
    println!(
        "corpus: {} descriptions and {} diagrams from other tools, {} diagrams written, {} engine failures",
        descriptions.len(),
        foreign.len(),
        run.files,
        run.failures
    );
    println!(
        "engine time: median {:.0} µs per option, median {:.0} µs per refinement",
        median(&mut run.option_micros),
        median(&mut run.refine_micros)
    );
    if run.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What the run wrote and measured so far.
#[derive(Default)]
struct Run {
    out: PathBuf,
    option_micros: Vec<f64>,
    refine_micros: Vec<f64>,
    failures: usize,
    files: usize,
}

impl Run {
    /// The three options of a description, and one refinement of one of them.
    fn description(&mut self, i: usize, description: &str) {
        let started = Instant::now();
        let options = match engine::generate_options(description) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("description {i}: generation failed: {e}");
                self.failures += 1;
                return;
            }
        };
        self.option_micros
            .push(started.elapsed().as_micros() as f64 / options.len() as f64);
        for (n, xml) in options.iter().enumerate() {
            self.write(&format!("d{i:02}_option{}.bpmn", n + 1), xml);
        }
        let source = &options[i % options.len()];
        let follow_up = follow_up(i, source);
        let started = Instant::now();
        match engine::refine(source, &follow_up) {
            Ok(refined) => {
                self.refine_micros
                    .push(started.elapsed().as_micros() as f64);
                self.write(&format!("d{i:02}_refined.bpmn"), &refined.bpmn_xml);
            }
            Err(e) => {
                eprintln!("description {i}: refinement {follow_up:?} failed: {e}");
                self.failures += 1;
            }
        }
    }

    /// Every kind of follow-up on a diagram another tool saved.
    fn foreign(&mut self, i: usize, path: &PathBuf) {
        let Ok(source) = std::fs::read_to_string(path) else {
            eprintln!("cannot read {}", path.display());
            self.failures += 1;
            return;
        };
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        for k in 0..FOLLOW_UP_KINDS {
            let follow_up = follow_up(i + k, &source);
            match engine::refine(&source, &follow_up) {
                Ok(refined) => self.write(&format!("foreign_{name}_{k}.bpmn"), &refined.bpmn_xml),
                Err(e) => {
                    eprintln!("{name}: refinement {follow_up:?} failed: {e}");
                    self.failures += 1;
                }
            }
        }
    }

    fn write(&mut self, file: &str, xml: &str) {
        write(&self.out.join(file), xml);
        self.files += 1;
    }
}

/// The `.bpmn` files of a directory, in name order.
fn foreign_diagrams(dir: String) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .ok()
        .map(|entries| {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
                .collect();
            paths.sort();
            paths
        })
        .unwrap_or_default()
}
