//! How long the builtin modeler takes for one generation (three options), split into its
//! steps: reading the prompt, building each option's model, writing the XML, and validating
//! it. The worker's drain rate is bounded by this. Prints medians; asserts nothing.
//!
//!   cargo run --release -p procmap-engine --example builtin_speed [-- ROUNDS]

use std::time::{Duration, Instant};

use procmap_engine::{bpmn, builtin::builder, options::OptionStyle};

/// The load harness's prompt.
const PROMPT: &str = "Map the customer support ticket triage process from intake to resolution.";

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

/// The allocator the worker runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let (mut describe, mut build, mut write, mut check, mut whole) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        let description = builder::describe(PROMPT);
        describe.push(started.elapsed());
        let (mut b, mut w, mut c) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for style in OptionStyle::ALL {
            let t = Instant::now();
            let model = builder::build(&description, style);
            b += t.elapsed();
            let t = Instant::now();
            let xml = bpmn::compile(&model);
            w += t.elapsed();
            let t = Instant::now();
            let problems = bpmn::validate::validate(&xml);
            c += t.elapsed();
            assert!(problems.is_empty(), "{problems:?}");
        }
        build.push(b);
        write.push(w);
        check.push(c);
        whole.push(started.elapsed());
    }
    println!("builtin generation, {rounds} rounds, median µs:");
    println!("  read the prompt   {:8.1}", median(describe));
    println!("  build 3 models    {:8.1}", median(build));
    println!("  write 3 XML       {:8.1}", median(write));
    println!("  validate 3 XML    {:8.1}", median(check));
    println!("  whole generation  {:8.1}", median(whole));
}
