//! How long a picture takes: the median of repeated SVG and PNG renders of a builtin
//! diagram of about 40 nodes, and of each file given.
//!
//! Usage: `cargo run --release -p procmap-render --example render_speed [FILE.bpmn...]`

use std::time::{Duration, Instant};

use procmap_render::Theme;

const RUNS: usize = 31;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(label: &str, xml: &str) {
    let nodes = xml.matches("BPMNShape ").count();
    let mut svg = Vec::with_capacity(RUNS);
    let mut png = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        match procmap_render::svg(xml, Theme::Light) {
            Ok(s) => bytes = s.len(),
            Err(e) => {
                eprintln!("{label}: {e}");
                return;
            }
        }
        svg.push(started.elapsed());
        let started = Instant::now();
        if let Err(e) = procmap_render::png(xml, Theme::Dark) {
            eprintln!("{label}: {e}");
            return;
        }
        png.push(started.elapsed());
    }
    println!(
        "{label}: {nodes} shapes, svg {bytes} bytes: svg median {:.2} ms, png median {:.2} ms ({RUNS} runs)",
        median(svg).as_secs_f64() * 1e3,
        median(png).as_secs_f64() * 1e3,
    );
}

fn main() {
    // Twelve steps with decisions and parallel work: about 40 nodes once the builtin modeler
    // has drawn its gateways, events and lanes.
    let prompt = "The clerk receives the order. The clerk checks the customer's credit. \
        If the credit is bad, the manager reviews the order; otherwise the clerk confirms it. \
        The warehouse picks the items and the finance team prepares the invoice at the same time. \
        The warehouse packs the parcel. The courier ships the parcel. The clerk sends the invoice. \
        If the customer pays within 30 days the clerk closes the order, otherwise finance sends a reminder. \
        The clerk archives the documents. The manager reviews the monthly report. \
        The clerk updates the customer record. The clerk notifies the customer. \
        The warehouse restocks the shelves. The finance team books the payment.";
    match procmap_engine::generate_options(prompt) {
        Ok(options) => time("builtin option 1", &options[0]),
        Err(e) => eprintln!("the builtin modeler failed: {e}"),
    }
    for file in std::env::args().skip(1) {
        match std::fs::read_to_string(&file) {
            Ok(xml) => time(&file, &xml),
            Err(e) => eprintln!("{file}: {e}"),
        }
    }
}
