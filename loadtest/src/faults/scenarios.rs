//! The faults, each on a fresh deployment: what an operator meets when a process dies, a
//! service restarts, or the model server misbehaves, injected while jobs are in flight.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::{task::block_in_place, time::Instant};

use crate::{
    deployment::{submit, Deployment, Request, Row},
    infra::{free_port, Postgres, RabbitMq},
    model::FakeModel,
};

pub struct Suite {
    pub postgres: Postgres,
    pub rabbitmq: RabbitMq,
    pub model: FakeModel,
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
}

/// How long after a fault ends its jobs may take before the unfinished count as lost.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// What one fault did to the jobs in flight.
pub struct Outcome {
    pub fault: &'static str,
    /// Requests procmap accepted (answered 2xx with a generation id).
    pub accepted: usize,
    /// Requests the client gave up on after two minutes of retries.
    pub refused: usize,
    /// Accepted requests whose generation did not finish within [`DEADLINE`] of the fault's end.
    pub lost: usize,
    /// Requests that got more than one generation.
    pub twice: usize,
    pub failed: usize,
    /// Generations that took more than one attempt (the first was lost with its worker).
    pub rerun: usize,
    /// From the fault's end to the last job's end; `None` when some never ended.
    pub recovery: Option<Duration>,
    /// Whether the fault ends at all (a long job is not a fault that heals).
    pub heals: bool,
    /// Re-runs are a defect here: the job should have kept its attempt.
    pub reruns_are_defects: bool,
    pub note: String,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.refused == 0
            && self.lost == 0
            && self.twice == 0
            && self.failed == 0
            && !(self.reruns_are_defects && self.rerun > 0)
    }
}

/// Every fault, by name, in the order they run.
pub const FAULTS: [&str; 8] = [
    "kill-worker",
    "restart-broker",
    "stop-postgres",
    "kill-api-before-publish",
    "sigterm-worker",
    "job-longer-than-lease",
    "model-storm",
    "idempotent-retries-broker-restart",
];

/// Injects the fault called `name` (one of [`FAULTS`]) into a fresh deployment.
pub async fn inject(suite: &Suite, name: &str) -> anyhow::Result<Outcome> {
    match name {
        "kill-worker" => kill_worker(suite).await,
        "restart-broker" => restart_broker(suite).await,
        "stop-postgres" => stop_postgres(suite).await,
        "kill-api-before-publish" => kill_api_before_publish(suite).await,
        "sigterm-worker" => sigterm_worker(suite).await,
        "job-longer-than-lease" => job_longer_than_lease(suite).await,
        "model-storm" => model_storm(suite).await,
        "idempotent-retries-broker-restart" => {
            idempotent_retries_during_broker_restart(suite).await
        }
        _ => anyhow::bail!("no fault named {name}"),
    }
}

impl Suite {
    async fn deploy(&self, name: &str) -> anyhow::Result<Deployment> {
        Deployment::new(
            &format!("faults_{}", name.replace('-', "_")),
            &self.bin_dir,
            &self.log_dir.join(name),
            &self.postgres,
            &self.rabbitmq,
            &self.model,
        )
        .await
    }
}

fn no_vars() -> &'static [(&'static str, String)] {
    &[]
}

/// SIGKILL a worker while it runs jobs; a replacement starts at once, as an orchestrator would.
async fn kill_worker(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(4));
    let d = suite.deploy("kill-worker").await?;
    let api = d.api("api", None).await?;
    let workers = d.workers(&[no_vars(), no_vars()]).await?;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let requests = submit(
        apis,
        d.key.clone(),
        "kill".into(),
        12,
        Duration::from_millis(50),
        false,
    )
    .await;
    d.running(8).await?;
    workers[0].signal("KILL")?;
    let _replacement = d.worker("worker-3", no_vars())?;
    let healed = Instant::now();
    Ok(observe(
        "kill a worker mid-job",
        &d,
        requests,
        Some(healed),
        String::new(),
    )
    .await)
}

/// Shut the broker down and start it again while clients submit.
async fn restart_broker(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(1));
    let d = suite.deploy("restart-broker").await?;
    let api = d.api("api", None).await?;
    let _workers = d.workers(&[no_vars(), no_vars()]).await?;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let submitting = tokio::spawn(submit(
        apis,
        d.key.clone(),
        "broker".into(),
        30,
        Duration::from_millis(200),
        false,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down = Instant::now();
    block_in_place(|| suite.rabbitmq.shutdown())?;
    block_in_place(|| suite.rabbitmq.start())?;
    let healed = Instant::now();
    let requests = submitting.await?;
    let note = format!("broker away {:.1} s", (healed - down).as_secs_f64());
    Ok(observe(
        "restart RabbitMQ mid-publish",
        &d,
        requests,
        Some(healed),
        note,
    )
    .await)
}

/// Stop Postgres for 30 s while jobs run and clients keep submitting.
async fn stop_postgres(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(4));
    let d = suite.deploy("stop-postgres").await?;
    let api = d.api("api", None).await?;
    let _workers = d.workers(&[no_vars(), no_vars()]).await?;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let mut requests = submit(
        apis.clone(),
        d.key.clone(),
        "pg".into(),
        12,
        Duration::from_millis(50),
        false,
    )
    .await;
    d.running(6).await?;
    block_in_place(|| suite.postgres.stop())?;
    let during = tokio::spawn(submit(
        apis,
        d.key.clone(),
        "pg-during".into(),
        6,
        Duration::from_secs(2),
        false,
    ));
    tokio::time::sleep(Duration::from_secs(30)).await;
    block_in_place(|| suite.postgres.start())?;
    let healed = Instant::now();
    requests.extend(during.await?);
    let mut outcome = observe(
        "stop Postgres 30 s mid-job",
        &d,
        requests,
        Some(healed),
        "6 requests sent during the outage".into(),
    )
    .await;
    // Every lease ran out during the outage, but the workers were alive: they keep their jobs.
    outcome.reruns_are_defects = true;
    Ok(outcome)
}

/// With the broker confirming nothing, requests are committed but not published; the API that
/// holds them is killed, and clients retry on the other replica.
async fn kill_api_before_publish(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(1));
    let d = suite.deploy("kill-api-before-publish").await?;
    let port = free_port()?;
    let doomed = d.api("api-a", Some(port)).await?;
    let other = d.api("api-b", None).await?;
    let _workers = d.workers(&[no_vars(), no_vars()]).await?;
    let apis = Arc::new(vec![doomed.base_url.clone(), other.base_url.clone()]);
    block_in_place(|| suite.rabbitmq.block_publishers())?;
    let blocked = Instant::now();
    let submitting = tokio::spawn(submit(
        apis,
        d.key.clone(),
        "api".into(),
        8,
        Duration::from_millis(100),
        false,
    ));
    // Longer than a publish waits for its confirm (5 s), so the rows of the first requests
    // have given up; no answer waits for the broker (the slowest answer tells).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rows = d.rows().await.unwrap_or_default();
    let unpublished = rows.iter().filter(|r| !r.published).count();
    doomed.signal("KILL")?;
    drop(doomed);
    block_in_place(|| suite.rabbitmq.unblock_publishers())?;
    let unblocked = Instant::now();
    let _restarted = d.api("api-a-restarted", Some(port)).await?;
    let healed = Instant::now();
    let requests = submitting.await?;
    let slowest = requests
        .iter()
        .map(|r| r.slowest_answer)
        .max()
        .unwrap_or_default();
    let note = format!(
        "{unpublished} of {} committed rows unpublished at the kill; publishers blocked {:.1} s, slowest answer {:.1} s",
        rows.len(),
        (unblocked - blocked).as_secs_f64(),
        slowest.as_secs_f64(),
    );
    Ok(observe(
        "kill the API between commit and publish",
        &d,
        requests,
        Some(healed),
        note,
    )
    .await)
}

/// SIGTERM a worker whose jobs outlast its drain timeout (2 s here); a replacement starts.
async fn sigterm_worker(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(8));
    let d = suite.deploy("sigterm-worker").await?;
    let api = d.api("api", None).await?;
    let drain = [("PROCMAP_WORKER_DRAIN_SECS", "2".to_owned())];
    let mut workers = d.workers(&[&drain, no_vars()]).await?;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let requests = submit(
        apis,
        d.key.clone(),
        "term".into(),
        12,
        Duration::from_millis(50),
        false,
    )
    .await;
    d.running(8).await?;
    let signalled = Instant::now();
    workers[0].signal("TERM")?;
    let _replacement = d.worker("worker-3", no_vars())?;
    let healed = Instant::now();
    let exited = workers[0].exited(Duration::from_secs(60)).await;
    let note = match exited {
        Ok(()) => format!(
            "worker exited {:.1} s after SIGTERM (drain 2 s)",
            signalled.elapsed().as_secs_f64()
        ),
        Err(e) => format!("worker did not exit: {e}"),
    };
    Ok(observe("SIGTERM a worker mid-job", &d, requests, Some(healed), note).await)
}

/// Model calls of 15 s against a 6 s lease: the heartbeat must keep every job on its worker.
async fn job_longer_than_lease(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(15));
    let d = suite.deploy("job-longer-than-lease").await?;
    let api = d.api("api", None).await?;
    let lease = [("PROCMAP_JOB_LEASE_SECS", "6".to_owned())];
    let _workers = d.workers(&[&lease, &lease]).await?;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let requests = submit(
        apis,
        d.key.clone(),
        "lease".into(),
        6,
        Duration::from_millis(50),
        false,
    )
    .await;
    let mut outcome = observe(
        "a job longer than its lease",
        &d,
        requests,
        None,
        "15 s model calls, 6 s lease".into(),
    )
    .await;
    outcome.reruns_are_defects = true;
    Ok(outcome)
}

/// Every model request refused (429 with Retry-After, and 500) for 30 s while jobs arrive.
async fn model_storm(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_millis(500));
    let d = suite.deploy("model-storm").await?;
    let api = d.api("api", None).await?;
    let _workers = d.workers(&[no_vars(), no_vars()]).await?;
    let (refused_before, _) = suite.model.counts();
    let storm = Duration::from_secs(30);
    suite.model.storm_for(storm);
    let healed = Instant::now() + storm;
    let apis = Arc::new(vec![api.base_url.clone()]);
    let requests = submit(
        apis,
        d.key.clone(),
        "storm".into(),
        16,
        Duration::from_millis(100),
        false,
    )
    .await;
    tokio::time::sleep_until(healed).await;
    let (refused_after, _) = suite.model.counts();
    let note = format!("{} model requests refused", refused_after - refused_before);
    let mut outcome = observe(
        "429/5xx storm from the model server, 30 s",
        &d,
        requests,
        Some(healed),
        note,
    )
    .await;
    outcome.reruns_are_defects = true;
    Ok(outcome)
}

/// Each request sent to both APIs at once with one `Idempotency-Key`, while the broker restarts.
async fn idempotent_retries_during_broker_restart(suite: &Suite) -> anyhow::Result<Outcome> {
    suite.model.answer_after(Duration::from_secs(1));
    let d = suite.deploy("idempotent-retries").await?;
    let a = d.api("api-a", None).await?;
    let b = d.api("api-b", None).await?;
    let _workers = d.workers(&[no_vars(), no_vars()]).await?;
    let apis = Arc::new(vec![a.base_url.clone(), b.base_url.clone()]);
    let submitting = tokio::spawn(submit(
        apis,
        d.key.clone(),
        "idem".into(),
        20,
        Duration::from_millis(300),
        true,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| suite.rabbitmq.shutdown())?;
    block_in_place(|| suite.rabbitmq.start())?;
    let healed = Instant::now();
    let requests = submitting.await?;
    Ok(observe(
        "concurrent idempotent retries on two APIs, broker restart",
        &d,
        requests,
        Some(healed),
        "each request sent to both APIs at once".into(),
    )
    .await)
}

fn terminal(row: &Row) -> bool {
    row.status == "succeeded" || row.status == "failed"
}

/// Waits until every accepted generation has ended, or [`DEADLINE`] after the fault's end,
/// and counts what became of the requests.
async fn observe(
    fault: &'static str,
    d: &Deployment,
    requests: Vec<Request>,
    healed: Option<Instant>,
    note: String,
) -> Outcome {
    let start = healed.unwrap_or_else(Instant::now);
    let until = start.max(Instant::now()) + DEADLINE;
    let ids: Vec<_> = requests
        .iter()
        .flat_map(|r| r.ids.iter().copied())
        .collect();
    let mut ended_at = None;
    let mut rows = Vec::new();
    loop {
        if let Ok(now) = d.rows().await {
            rows = now;
            let all_ended = ids
                .iter()
                .all(|id| rows.iter().any(|row| row.id == *id && terminal(row)));
            if all_ended {
                ended_at = Some(Instant::now());
                break;
            }
        }
        if Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let of = |request: &Request| -> Vec<&Row> {
        let marker = format!("{}.", request.marker);
        rows.iter()
            .filter(|row| row.prompt.contains(&marker))
            .collect()
    };
    let accepted: Vec<&Request> = requests.iter().filter(|r| !r.ids.is_empty()).collect();
    let lost = accepted
        .iter()
        .filter(|r| {
            !r.ids
                .iter()
                .all(|id| rows.iter().any(|row| row.id == *id && terminal(row)))
        })
        .count();
    let twice = requests
        .iter()
        .filter(|r| r.ids.len() > 1 || of(r).len() > 1)
        .count();
    let mine: Vec<&Row> = requests.iter().flat_map(of).collect();
    let mut note = note;
    if let Some(why) = requests.iter().find_map(|r| r.refused.as_deref()) {
        note.push_str(&format!("; a refusal: {why}"));
    }
    Outcome {
        fault,
        accepted: accepted.len(),
        refused: requests.iter().filter(|r| r.ids.is_empty()).count(),
        lost,
        twice,
        failed: mine.iter().filter(|row| row.status == "failed").count(),
        rerun: mine.iter().filter(|row| row.attempts > 1).count(),
        recovery: ended_at.map(|at| at.saturating_duration_since(start)),
        heals: healed.is_some(),
        reruns_are_defects: false,
        note,
    }
}
