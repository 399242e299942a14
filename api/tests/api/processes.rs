//! Running the built binaries as separate processes, as they are deployed.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::{Child, Command};

use crate::helpers::Environment;

pub fn binary(name: &str) -> PathBuf {
    let api = PathBuf::from(env!("CARGO_BIN_EXE_procmap-api"));
    let path = api.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn spawn(env: &Environment, name: &str, args: &[&str], extra: &[(&str, &str)]) -> Child {
    Command::new(binary(name))
        .args(args)
        .envs(env.vars(extra))
        .env(
            "RUST_LOG",
            std::env::var("PROCMAP_TEST_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn binary")
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..150 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

/// Starts `procmap-worker` with its probe and metrics port on a free port, and waits until it
/// consumes. Answers the process, which stops when dropped, and the port's base URL.
pub async fn spawn_worker(env: &Environment, client: &reqwest::Client) -> (Child, String) {
    spawn_worker_with(env, client, &[]).await
}

/// [`spawn_worker`] with further variables.
pub async fn spawn_worker_with(
    env: &Environment,
    client: &reqwest::Client,
    extra: &[(&str, &str)],
) -> (Child, String) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut vars = vec![("PROCMAP_WORKER_HTTP_BIND", bind.as_str())];
    vars.extend_from_slice(extra);
    let worker = spawn(env, "procmap-worker", &[], &vars);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(client, &base).await;
    (worker, base)
}

/// Whether Prometheus text has a sample of `name` carrying every one of `labels`
/// (`key="value"`), whatever their order.
pub fn has_sample(text: &str, name: &str, labels: &[&str]) -> bool {
    text.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(['{', ' ']))
            && labels.iter().all(|label| line.contains(label))
    })
}

/// Starts `procmap-api serve` on a free port and waits until it is ready. Answers the process,
/// which stops when dropped, and its base URL.
pub async fn spawn_api(env: &Environment, client: &reqwest::Client) -> (Child, String) {
    spawn_api_with(env, client, &[]).await
}

/// [`spawn_api`] with further variables.
pub async fn spawn_api_with(
    env: &Environment,
    client: &reqwest::Client,
    extra: &[(&str, &str)],
) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let mut vars = vec![
        ("PROCMAP_BIND", bind.as_str()),
        ("PROCMAP_PUBLIC_BASE_URL", base.as_str()),
    ];
    vars.extend_from_slice(extra);
    let api = spawn(env, "procmap-api", &["serve"], &vars);
    wait_ready(client, &base).await;
    (api, base)
}
