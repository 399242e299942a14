//! How long a picture takes: the median of repeated SVG and PNG renders of the builtin
//! modeler's options for a long description (the largest about 40 nodes), and of each file given.
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
    let nodes = xml.matches("<bpmndi:BPMNShape ").count();
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
    // Twenty steps with decisions and parallel work: the largest option has about 40 nodes
    // once the builtin modeler has drawn its gateways and events.
    let prompt = "The clerk receives the order. The clerk checks the customer's credit. \
        If the credit is bad, the manager reviews the order; otherwise the clerk confirms it. \
        The warehouse picks the items and the finance team prepares the invoice at the same time. \
        The warehouse packs the parcel. The courier ships the parcel. The clerk sends the invoice. \
        If the customer pays within 30 days the clerk closes the order, otherwise finance sends a reminder. \
        The clerk archives the documents. The manager reviews the monthly report. \
        The clerk updates the customer record. The clerk notifies the customer. \
        The warehouse restocks the shelves. The finance team books the payment. \
        The auditor samples the bookings. If a booking is wrong, the finance team corrects it. \
        The manager signs the report. The clerk files the report. The courier returns the crates. \
        The warehouse counts the stock. The clerk orders new stock. The supplier delivers the stock.";
    match procmap_engine::generate_options(prompt) {
        Ok(options) => {
            for (i, option) in options.iter().enumerate() {
                time(&format!("builtin option {}", i + 1), option);
            }
        }
        Err(e) => eprintln!("the builtin modeler failed: {e}"),
    }
    for file in std::env::args().skip(1) {
        match std::fs::read_to_string(&file) {
            Ok(xml) => time(&file, &xml),
            Err(e) => eprintln!("{file}: {e}"),
        }
    }
}
