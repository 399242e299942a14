//! One open-loop run: requests leave at a fixed arrival rate whatever procmap's answers do,
//! and each latency is measured from the moment its request was meant to leave. A client that
//! waits for an answer before sending the next hides the queueing a slow server causes
//! (coordinated omission); this one does not.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{sync::mpsc, time::Instant};

/// What the requests ask procmap and how the harness knows they are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `wait=false`: done when procmap accepts the generation (202).
    Accept,
    /// `wait=true`: done when procmap answers it succeeded (200).
    E2e,
    /// `wait=false`, then polling `links.self` until it succeeded.
    Poll,
}

#[derive(Clone)]
pub struct Target {
    pub base_url: String,
    pub keys: Arc<Vec<String>>,
    pub mode: Mode,
    pub poll: Duration,
    /// Requests in flight beyond this are not sent, and counted as skipped: the harness
    /// protects itself, and a run that skips did not sustain its rate.
    pub max_in_flight: usize,
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// An HTTP answer other than the mode's success.
    Status(u16),
    /// The generation ended `failed` (or `canceled`).
    Failed,
    /// No answer: connection refused or reset, or the request's own time limit.
    Transport,
    /// Not sent: too many requests were in flight.
    Skipped,
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When the request was meant to leave, from the start of the run.
    pub intended: Duration,
    /// From the intended send to the end.
    pub latency: Duration,
    /// From the intended send to the moment the harness began sending: its own delay (timer
    /// granularity, a busy runtime), which the latency includes, as a client's would.
    pub lag: Duration,
    pub outcome: Outcome,
}

/// The HTTP client of every run of one harness invocation. One client, so the connections a
/// run opened serve the next run (of `--find-max`) as they would a long-lived integrator,
/// instead of each run starting with a storm of new connections.
pub fn client(target: &Target) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(target.max_in_flight)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// Sends `rate` requests a second for `length`, and answers a sample per request.
pub async fn run(
    client: &reqwest::Client,
    target: &Target,
    request: &Request,
    rate: f64,
    length: Duration,
) -> Vec<Sample> {
    let total = (rate * length.as_secs_f64()).round() as usize;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (samples, mut received) = mpsc::unbounded_channel();
    let start = Instant::now() + Duration::from_millis(20);
    let intended_at = move |n: usize| start + Duration::from_secs_f64(n as f64 / rate);
    let mut due = pace(total, move |n| intended_at(n).into_std());
    while let Some(n) = due.recv().await {
        let intended = intended_at(n);
        let since_start = intended - start;
        if in_flight.load(Ordering::Relaxed) >= target.max_in_flight {
            let _ = samples.send(Sample {
                intended: since_start,
                latency: Duration::ZERO,
                lag: Duration::ZERO,
                outcome: Outcome::Skipped,
            });
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, target, request, samples, in_flight) = (
            client.clone(),
            target.clone(),
            request.clone(),
            samples.clone(),
            in_flight.clone(),
        );
        tokio::spawn(async move {
            let key = &target.keys[n % target.keys.len()];
            let lag = intended.elapsed();
            let outcome = one(&client, &target, &request, key).await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = samples.send(Sample {
                intended: since_start,
                latency: intended.elapsed(),
                lag,
                outcome,
            });
        });
    }
    drop(samples);
    let mut all = Vec::with_capacity(total);
    while let Some(sample) = received.recv().await {
        all.push(sample);
    }
    all
}

/// Tells when each of `total` requests is due, from a thread of its own. Tokio's timer counts
/// whole milliseconds, so a request it woke left on average about a millisecond late, and every
/// latency carried that; a thread's sleep wakes within tens of microseconds. A pacer that
/// falls behind sends what is due at once: the lateness is measured (`Sample::lag`), not hidden.
fn pace(
    total: usize,
    intended: impl Fn(usize) -> std::time::Instant + Send + 'static,
) -> mpsc::UnboundedReceiver<usize> {
    let (due, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for n in 0..total {
            let wait = intended(n).saturating_duration_since(std::time::Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            if due.send(n).is_err() {
                // The run was dropped: nobody sends the rest.
                return;
            }
        }
    });
    receiver
}

const PROMPT: &str = "Map the customer support ticket triage process from intake to resolution.";

/// The one request every run sends, built once: the harness's own CPU is taken from the
/// service it measures, on the same cores.
#[derive(Clone)]
pub struct Request {
    url: reqwest::Url,
    body: bytes::Bytes,
}

impl Request {
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let wait = target.mode == Mode::E2e;
        let url = format!(
            "{}/api/v1/process-maps/generations?wait={wait}",
            target.base_url
        );
        let body = json!({"mode": "initial", "prompt": PROMPT, "language": "english"});
        Ok(Request {
            url: url.parse()?,
            body: serde_json::to_vec(&body)?.into(),
        })
    }
}

async fn one(client: &reqwest::Client, target: &Target, request: &Request, key: &str) -> Outcome {
    let sent = client
        .post(request.url.clone())
        .bearer_auth(key)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.body.clone())
        .send()
        .await;
    let Ok(response) = sent else {
        return Outcome::Transport;
    };
    let status = response.status().as_u16();
    let expected = if target.mode == Mode::E2e { 200 } else { 202 };
    if status != expected {
        return Outcome::Status(status);
    }
    if target.mode == Mode::Accept {
        // Read to the end, so the connection serves the next request, but not parsed: the
        // status says it was accepted.
        return match response.bytes().await {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Transport,
        };
    }
    let Ok(body) = response.json::<Value>().await else {
        return Outcome::Transport;
    };
    match target.mode {
        Mode::Accept => Outcome::Ok,
        Mode::E2e => finished(&body),
        Mode::Poll => poll(client, target, key, &body).await,
    }
}

/// Polls the generation's own link until it is done.
async fn poll(client: &reqwest::Client, target: &Target, key: &str, accepted: &Value) -> Outcome {
    let Some(link) = accepted["links"]["self"].as_str() else {
        return Outcome::Status(202);
    };
    // links.self carries the public base URL; poll the same path where the harness sends.
    let path = link.find("/api/").map_or(link, |i| &link[i..]);
    let url = format!("{}{path}", target.base_url);
    loop {
        tokio::time::sleep(target.poll).await;
        let Ok(response) = client.get(&url).bearer_auth(key).send().await else {
            return Outcome::Transport;
        };
        if response.status() != 200 {
            return Outcome::Status(response.status().as_u16());
        }
        let Ok(body) = response.json::<Value>().await else {
            return Outcome::Transport;
        };
        match body["status"].as_str() {
            Some("queued" | "running") => continue,
            _ => return finished(&body),
        }
    }
}

fn finished(generation: &Value) -> Outcome {
    if generation["status"] == "succeeded" {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}
