//! The worker's configuration: its infrastructure, the modeler it runs, and how much at once.

use std::time::Duration;

use procmap_core::config::{ConfigError, Infrastructure, Vars};
use procmap_engine::{LlmProvider, OpenAiConfig};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub infrastructure: Infrastructure,
    /// The modeling engine; test-mode generations use the builtin modeler regardless.
    pub llm_provider: LlmProvider,
    /// How many jobs one worker process runs at once (also its prefetch).
    pub worker_concurrency: u16,
    /// How long a worker may hold a job before another may take it over.
    pub job_lease: Duration,
}

impl WorkerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(WorkerConfig {
            infrastructure: Infrastructure::from_vars(vars)?,
            llm_provider: llm_provider(vars)?,
            worker_concurrency: vars.number("PROCMAP_WORKER_CONCURRENCY", 8, 1..=1024)?,
            job_lease: Duration::from_secs(vars.number(
                "PROCMAP_JOB_LEASE_SECS",
                300,
                5..=86_400,
            )?),
        })
    }
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
