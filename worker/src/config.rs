//! The worker's configuration: its infrastructure, the modeler it runs, and how much at once.

use std::{net::SocketAddr, time::Duration};

use procmap_core::config::{ConfigError, Infrastructure, Vars};
use procmap_engine::{LlmProvider, OpenAiConfig};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub infrastructure: Infrastructure,
    /// The modeling engine; test-mode generations use the builtin modeler regardless.
    pub llm_provider: LlmProvider,
    /// How many jobs one worker process runs at once.
    pub worker_concurrency: u16,
    /// How many unacked jobs the broker may hand this worker; those beyond the concurrency
    /// wait in the worker for a free slot.
    pub worker_prefetch: u16,
    /// How long a job's lease lasts; the worker renews it at a third of that while the job runs.
    /// It bounds how long a dead worker's jobs wait before the relay takes them back, so it is
    /// short: the heartbeat, not the lease, covers a long job.
    pub job_lease: Duration,
    /// How long shutdown waits for jobs in flight before releasing them back to the queue.
    pub drain_timeout: Duration,
    /// How long a job keeps trying again while the model server is unavailable.
    pub provider_retry_budget: Duration,
    /// Where `/healthz`, `/readyz` and `/metrics` listen; `None` when turned off.
    pub http_bind: Option<SocketAddr>,
}

impl WorkerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        // A job mostly waits: for the model server, or for its claim and result to be written
        // with the other jobs' (`batch`). More jobs at once make bigger batches; the builtin
        // modeler's CPU work runs on the blocking pool, bounded by the cores.
        let worker_concurrency = vars.number("PROCMAP_WORKER_CONCURRENCY", 64, 1..=1024)?;
        Ok(WorkerConfig {
            infrastructure: Infrastructure::from_vars(vars)?,
            llm_provider: llm_provider(vars)?,
            worker_concurrency,
            worker_prefetch: vars.number(
                "PROCMAP_WORKER_PREFETCH",
                worker_concurrency,
                1..=4096,
            )?,
            job_lease: Duration::from_secs(vars.number(
                "PROCMAP_JOB_LEASE_SECS",
                15,
                3..=86_400,
            )?),
            drain_timeout: Duration::from_secs(vars.number(
                "PROCMAP_WORKER_DRAIN_SECS",
                20,
                0..=3_600,
            )?),
            provider_retry_budget: Duration::from_secs(vars.number(
                "PROCMAP_PROVIDER_RETRY_BUDGET_SECS",
                600,
                0..=86_400,
            )?),
            http_bind: http_bind(vars)?,
        })
    }
}

fn http_bind(vars: &Vars) -> Result<Option<SocketAddr>, ConfigError> {
    let raw = vars.text("PROCMAP_WORKER_HTTP_BIND", "127.0.0.1:9464");
    if raw == "off" {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|e: std::net::AddrParseError| ConfigError {
            variable: "PROCMAP_WORKER_HTTP_BIND",
            value: raw.clone(),
            reason: format!("{e}; give host:port, or off"),
        })
}

fn llm_provider(vars: &Vars) -> Result<LlmProvider, ConfigError> {
    let provider = vars.text("PROCMAP_LLM_PROVIDER", "builtin");
    match provider.as_str() {
        "builtin" => Ok(LlmProvider::Builtin),
        "openai" => Ok(LlmProvider::OpenAi(OpenAiConfig {
            base_url: vars.http_url("PROCMAP_OPENAI_BASE_URL", "https://api.openai.com/v1")?,
            api_key: vars.secret("PROCMAP_OPENAI_API_KEY"),
            model: vars.text("PROCMAP_OPENAI_MODEL", "gpt-4o-mini"),
            timeout: Duration::from_secs(vars.number("PROCMAP_LLM_TIMEOUT_SECS", 120, 1..=3600)?),
            max_retries: vars.number("PROCMAP_LLM_MAX_RETRIES", 4, 0..=20)?,
            repair_rounds: vars.number("PROCMAP_LLM_REPAIR_ROUNDS", 2, 0..=10)?,
            max_tokens: vars.number("PROCMAP_LLM_MAX_TOKENS", 4096, 64..=131_072)?,
        })),
        _ => Err(ConfigError {
            variable: "PROCMAP_LLM_PROVIDER",
            value: provider,
            reason: "use \"builtin\" or \"openai\"".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let config = WorkerConfig::from_vars(&Vars::default()).expect("defaults are valid");
        assert_eq!(config.llm_provider, LlmProvider::Builtin);
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (name, value) in [
            ("PROCMAP_WORKER_CONCURRENCY", "zero"),
            ("PROCMAP_WORKER_CONCURRENCY", "0"),
            ("PROCMAP_LLM_PROVIDER", "magic"),
            ("PROCMAP_QUEUE_PREFIX", "has space"),
        ] {
            let err = WorkerConfig::from_vars(&Vars::from_pairs(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn the_model_servers_key_never_prints() {
        let config = WorkerConfig::from_vars(&Vars::from_pairs(&[
            ("PROCMAP_LLM_PROVIDER", "openai"),
            ("PROCMAP_OPENAI_API_KEY", "sk-very-secret"),
        ]))
        .expect("valid");
        assert!(!format!("{config:?}").contains("sk-very-secret"));
    }
}
