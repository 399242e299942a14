//! Load harness: sends generations to a running procmap and prints latency figures.
//!
//! Latency is measured from the start of the POST to the moment the generation is seen
//! `succeeded`: the 200 of a `wait=true` request, or the first poll that sees it with
//! `wait=false`. Requests are bounded in count and only go to the given base URL.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Drives a running procmap and prints latency figures")]
struct Args {
    /// Base URL of a procmap API, such as http://127.0.0.1:8080 (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// API key with the generate scope.
    #[arg(long, env = "PROCMAP_LOADTEST_KEY")]
    key: String,
    /// How many generations to create.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// How many requests are in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// `wait`: one wait=true request each; `poll`: wait=false, then poll links.self.
    #[arg(long, value_enum, default_value_t = Style::Wait)]
    style: Style,
    /// Delay between polls in the poll style, in milliseconds.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Style {
    Wait,
    Poll,
}

const PROMPT: &str = "Map the customer support ticket triage process from intake to resolution.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args.base_url.split("://").nth(1).unwrap_or_default();
    if !(host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")) {
        bail!(
            "the load harness only targets loopback addresses, not {}",
            args.base_url
        );
    }
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(args.count);
    let mut failures = 0usize;
    let mut pending = tokio::task::JoinSet::new();
    let mut next = 0usize;
    while next < args.count || !pending.is_empty() {
        while next < args.count && pending.len() < args.concurrency {
            let (client, base, key, style, poll) = (
                client.clone(),
                args.base_url.clone(),
                args.key.clone(),
                args.style,
                args.poll_ms,
            );
            pending.spawn(async move {
                one(&client, &base, &key, style, Duration::from_millis(poll)).await
            });
            next += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(latency))) => latencies.push(latency),
            Some(Ok(Err(e))) => {
                failures += 1;
                eprintln!("generation failed: {e:#}");
            }
            Some(Err(e)) => bail!("task panicked: {e}"),
            None => {}
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .map(ms)
            .unwrap_or(f64::NAN)
    };
    println!(
        "generations: {} ok, {failures} failed, concurrency {}",
        latencies.len(),
        args.concurrency
    );
    println!(
        "POST → succeeded (ms): median {:.1}  p90 {:.1}  p99 {:.1}  min {:.1}  max {:.1}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.0),
        at(1.0)
    );
    println!(
        "throughput: {:.1} generations/s over {:.1} s",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if failures > 0 {
        bail!("{failures} generations failed");
    }
    Ok(())
}

async fn one(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    style: Style,
    poll: Duration,
) -> anyhow::Result<Duration> {
    let wait = matches!(style, Style::Wait);
    let started = Instant::now();
    let response = client
        .post(format!(
            "{base}/api/v1/process-maps/generations?wait={wait}"
        ))
        .bearer_auth(key)
        .json(&json!({"mode": "initial", "prompt": PROMPT, "language": "english"}))
        .send()
        .await?;
    let mut body: Value = response.json().await?;
    let link = body["links"]["self"]
        .as_str()
        .context("no links.self in the answer")?
        .to_owned();
    loop {
        match body["status"].as_str() {
            Some("succeeded") => return Ok(started.elapsed()),
            Some("failed") => bail!("generation failed: {}", body["error"]),
            Some(_) => {}
            None => bail!("unexpected answer: {body}"),
        }
        tokio::time::sleep(poll).await;
        // links.self uses the public base URL; poll the same path on the address we were given.
        let path = link.find("/api/").map_or(link.as_str(), |i| &link[i..]);
        body = client
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .send()
            .await?
            .json()
            .await?;
    }
}
