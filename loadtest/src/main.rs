//! Open-loop load harness: sends generations to a running procmap at a fixed arrival rate and
//! reports latency from each request's intended send time (HDR histograms), as JSON and as a
//! picture of throughput and p50/p99 over time. `--find-max` raises the rate until p99 passes
//! a bound and reports the highest rate procmap sustained.
//!
//! Bounded: at most `--max-requests` per run and ten minutes per run, and only to a loopback
//! address unless `--allow-remote` is given.

mod open_loop;
mod report;

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;

use open_loop::{Mode, Target};
use report::Summary;

/// `println!` that ignores a closed stdout (`procmap-loadtest … | head -1`): the run goes on and
/// its report is still written, where `println!` would panic on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(
    about = "Sends generations at a fixed rate and reports latency from the intended send time"
)]
struct Args {
    /// Base URL of a procmap API, such as http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Also send to an address other than loopback: a load test aimed at the wrong host is an
    /// attack on it.
    #[arg(long)]
    allow_remote: bool,
    /// API key with the generate scope; repeat it, or use --keys-file, to spread the load.
    #[arg(long = "key", env = "PROCMAP_LOADTEST_KEY")]
    keys: Vec<String>,
    /// A file of API keys, one per line; requests take them in turn.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// `accept` (wait=false), `e2e` (wait=true), or `poll` (wait=false, then poll links.self).
    #[arg(long, value_enum, default_value_t = Mode::Accept)]
    mode: Mode,
    /// Requests per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// How long each run sends, in seconds (at most 600).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// The most requests one run may send; a rate × duration above it is refused.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Requests in flight beyond this are skipped (and counted): the harness's own bound.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Delay between polls in `poll` mode, in milliseconds.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    /// Raise the rate from --rate by --step each run until p99 passes --p99-bound-ms (or
    /// errors pass 1%, or the achieved rate falls below 95% of the target), then halve the gap
    /// to the last rate that held three times.
    #[arg(long)]
    find_max: bool,
    #[arg(long, default_value_t = 50.0)]
    p99_bound_ms: f64,
    #[arg(long, default_value_t = 1.25)]
    step: f64,
    /// The highest rate --find-max tries.
    #[arg(long, default_value_t = 50_000.0)]
    max_rate: f64,
    /// Where the JSON report goes.
    #[arg(long, default_value = "target/loadtest/report.json")]
    report: PathBuf,
    /// Where the picture goes (SVG).
    #[arg(long, default_value = "target/loadtest/report.svg")]
    plot: PathBuf,
}

// One thread: a request is a little parsing between waits, and a second worker thread only
// added wake-ups between the two (the harness's CPU per request fell by a sixth without it, and
// its own lag's p99 halved), taken from the service it measures on the same cores.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = target(&args)?;
    let length = Duration::from_secs(args.duration_secs);
    if args.duration_secs == 0 || args.duration_secs > 600 {
        bail!("--duration-secs must be between 1 and 600");
    }
    let fits = |rate: f64| rate > 0.0 && rate * length.as_secs_f64() <= args.max_requests as f64;
    if !fits(args.rate) {
        bail!(
            "{} requests/s for {} s is more than --max-requests {}",
            args.rate,
            args.duration_secs,
            args.max_requests
        );
    }

    let client = open_loop::client(&target);
    let request = open_loop::Request::new(&target)?;
    let mut summaries = Vec::new();
    let mut rate = args.rate;
    let mut sustained = None;
    // Once a rate fails, the highest sustained lies between it and the last that held; halving
    // that gap a few times narrows the answer from one step (25%) to about 3%.
    let mut failed: Option<f64> = None;
    let mut narrowings = 0;
    loop {
        let samples = open_loop::run(&client, &target, &request, rate, length).await;
        let summary = Summary::of(rate, &samples);
        say!("{}", summary.line());
        let held = summary.skipped == 0
            && summary.failed() as f64 <= 0.01 * summary.sent.max(1) as f64
            && summary.throughput >= 0.95 * rate
            && summary.p99_ms <= args.p99_bound_ms;
        summaries.push(summary);
        if !args.find_max {
            break;
        }
        if held {
            sustained = Some(rate);
        } else {
            failed = Some(rate);
        }
        let next = match (failed, sustained) {
            (None, _) => rate * args.step,
            (Some(_), None) => break,
            (Some(_), Some(_)) if narrowings == NARROWINGS => break,
            (Some(high), Some(low)) => {
                narrowings += 1;
                (low + high) / 2.0
            }
        };
        if next > args.max_rate || !fits(next) {
            break;
        }
        rate = next;
    }
    if args.find_max {
        match sustained {
            Some(rate) => say!(
                "highest sustained rate: {rate:.0}/s (p99 ≤ {} ms, errors ≤ 1%, no skips)",
                args.p99_bound_ms
            ),
            None => say!(
                "no rate tried was sustained with p99 ≤ {} ms",
                args.p99_bound_ms
            ),
        }
    }

    if let Some(dir) = args.report.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if let Some(dir) = args.plot.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let report = json!({
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "base_url": args.base_url,
        "keys": target.keys.len(),
        "duration_secs": args.duration_secs,
        "find_max": args.find_max.then(|| json!({
            "p99_bound_ms": args.p99_bound_ms,
            "highest_sustained_rate": sustained,
        })),
        "runs": summaries.iter().map(Summary::json).collect::<Vec<_>>(),
    });
    std::fs::write(&args.report, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", args.report.display()))?;
    let title = format!("procmap {:?}, open loop", args.mode).to_lowercase();
    report::plot(&args.plot, &title, &summaries)?;
    say!(
        "report: {}  picture: {}",
        args.report.display(),
        args.plot.display()
    );
    Ok(())
}

/// Halvings of the gap between the last rate that held and the first that did not.
const NARROWINGS: u32 = 3;

fn target(args: &Args) -> anyhow::Result<Target> {
    let host = args.base_url.split("://").nth(1).unwrap_or_default();
    let loopback = ["127.", "localhost", "[::1]"]
        .iter()
        .any(|prefix| host.starts_with(prefix));
    if !loopback && !args.allow_remote {
        bail!(
            "the load harness only targets loopback addresses unless --allow-remote is given, not {}",
            args.base_url
        );
    }
    let mut keys = args.keys.clone();
    if let Some(file) = &args.keys_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if keys.is_empty() {
        bail!("give an API key: --key, PROCMAP_LOADTEST_KEY or --keys-file");
    }
    Ok(Target {
        base_url: args.base_url.trim_end_matches('/').to_owned(),
        keys: Arc::new(keys),
        mode: args.mode,
        poll: Duration::from_millis(args.poll_ms),
        max_in_flight: args.max_in_flight,
    })
}
