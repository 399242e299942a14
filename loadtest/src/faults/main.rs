//! The fault suite: runs procmap's real binaries on private Postgres and RabbitMQ instances,
//! injects the faults an operator meets while jobs are in flight, and prints what became of
//! the jobs: accepted, lost, run twice, failed, and the time to recover. It fails when a
//! job is lost, written twice or failed.
//!
//! `deploy/faults.sh` builds the binaries and runs it; see the README.

mod deployment;
mod infra;
mod model;
mod scenarios;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;

use scenarios::{Outcome, Suite, FAULTS};

#[derive(Parser)]
#[command(about = "Injects faults into a running procmap and prints what became of its jobs")]
struct Args {
    /// Where procmap-api and procmap-worker are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Where the private services keep their data and every process its log; emptied first.
    #[arg(long, default_value = "target/faults")]
    work_dir: PathBuf,
    /// Run only these faults (by name); all of them when none is given.
    #[arg(long = "only")]
    only: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("faults: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    for name in &args.only {
        if !FAULTS.contains(&name.as_str()) {
            anyhow::bail!(
                "no fault named {name}; the faults are {}",
                FAULTS.join(", ")
            );
        }
    }
    std::fs::create_dir_all(&args.work_dir)?;
    let work_dir = std::fs::canonicalize(&args.work_dir)?;
    // What an earlier run left; only what the suite itself makes there.
    for made in ["postgres", "rabbitmq", "logs"] {
        let _ = std::fs::remove_dir_all(work_dir.join(made));
    }
    eprintln!(
        "faults: starting private Postgres and RabbitMQ under {}",
        work_dir.display()
    );
    let suite = Suite {
        postgres: infra::Postgres::start_new(&work_dir.join("postgres"))?,
        rabbitmq: infra::RabbitMq::start_new(&work_dir.join("rabbitmq"))?,
        model: model::FakeModel::start().await?,
        bin_dir: args.bin_dir.clone(),
        log_dir: work_dir.join("logs"),
    };
    let mut outcomes = Vec::new();
    for name in FAULTS {
        if !args.only.is_empty() && !args.only.iter().any(|only| only == name) {
            continue;
        }
        eprintln!("faults: {name}…");
        let outcome = scenarios::inject(&suite, name)
            .await
            .map_err(|e| e.context(format!("fault {name}")))?;
        eprintln!(
            "faults: {name}: {}",
            if outcome.passed() { "passed" } else { "FAILED" }
        );
        outcomes.push(outcome);
    }
    print_table(&outcomes);
    let passed = outcomes.iter().all(Outcome::passed);
    if !passed {
        eprintln!(
            "faults: some jobs were lost, run twice, failed or re-run; the processes' logs are under {}",
            suite.log_dir.display()
        );
    }
    Ok(passed)
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "| fault | accepted | refused | lost | run twice | failed | re-run | recovery | notes |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for o in outcomes {
        let recovery = match (o.heals, o.recovery) {
            (_, None) => format!("> {}", seconds(scenarios::DEADLINE)),
            (false, Some(took)) => format!("(done in {})", seconds(took)),
            (true, Some(took)) => seconds(took),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            o.fault, o.accepted, o.refused, o.lost, o.twice, o.failed, o.rerun, recovery, o.note
        );
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
