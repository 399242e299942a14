//! Process configuration, read once from `PROCMAP_*` environment variables.
//!
//! Every variable has a default that works on a developer machine with Postgres and RabbitMQ on
//! localhost. A value that does not parse stops the process at start-up with a message naming the
//! variable, rather than failing later in some request.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

pub use procmap_engine::{LlmProvider, OpenAiConfig};

/// Everything the API and the worker need to know about their surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Postgres connection string; Postgres is the source of truth.
    pub database_url: String,
    /// RabbitMQ connection string; it carries jobs and status events.
    pub amqp_url: String,
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Base of the absolute `links.self` URLs handed to clients (no trailing slash).
    pub public_base_url: String,
    /// Prefix of every exchange and queue name, so tests and tenants of one broker don't collide.
    pub queue_prefix: String,
    /// The modeling engine the worker uses.
    pub llm_provider: LlmProvider,
    /// How many jobs one worker process runs at once (also its prefetch).
    pub worker_concurrency: u16,
    /// How long a `wait=true` request waits before answering 202.
    pub wait_timeout: Duration,
    /// How long a worker may hold a job before another may take it over.
    pub job_lease: Duration,
    /// How many times a job is attempted before it is marked failed.
    pub max_attempts: i32,
    /// Size of the Postgres connection pool of each process.
    pub database_pool_size: usize,
    /// Requests one key may make per rate-limit window, across all API replicas.
    pub rate_limit: i64,
    pub rate_limit_window: Duration,
    /// Generations one key may create per quota window (rolling).
    pub generation_quota: i64,
    pub generation_quota_window: Duration,
}

/// A configuration variable that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads configuration from a map of variables, so tests need not touch the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str, default: &str| -> String {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };

        let database_url = get(
            "PROCMAP_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/procmap",
        );
        database_url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| ConfigError {
                variable: "PROCMAP_DATABASE_URL",
                value: database_url.clone(),
                reason: e.to_string(),
            })?;

        let amqp_url = get("PROCMAP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
            return Err(ConfigError {
                variable: "PROCMAP_AMQP_URL",
                value: amqp_url,
                reason: "must start with amqp:// or amqps://".into(),
            });
        }

        let bind_raw = get("PROCMAP_BIND", "127.0.0.1:8080");
        let bind = bind_raw
            .parse()
            .map_err(|e: std::net::AddrParseError| ConfigError {
                variable: "PROCMAP_BIND",
                value: bind_raw.clone(),
                reason: e.to_string(),
            })?;

        let public_base_url = http_url(
            "PROCMAP_PUBLIC_BASE_URL",
            get("PROCMAP_PUBLIC_BASE_URL", &format!("http://{bind}")),
        )?;

        let queue_prefix = get("PROCMAP_QUEUE_PREFIX", "procmap");
        let prefix_ok = !queue_prefix.is_empty()
            && queue_prefix.len() <= 100
            && queue_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !prefix_ok {
            return Err(ConfigError {
                variable: "PROCMAP_QUEUE_PREFIX",
                value: queue_prefix,
                reason: "use 1-100 characters from [A-Za-z0-9._-]".into(),
            });
        }

        let provider_raw = get("PROCMAP_LLM_PROVIDER", "builtin");
        let llm_provider = match provider_raw.as_str() {
            "builtin" => LlmProvider::Builtin,
            "openai" => {
                let base_url = http_url(
                    "PROCMAP_OPENAI_BASE_URL",
                    get("PROCMAP_OPENAI_BASE_URL", "https://api.openai.com/v1"),
                )?;
                LlmProvider::OpenAi(OpenAiConfig {
                    base_url,
                    api_key: vars
                        .get("PROCMAP_OPENAI_API_KEY")
                        .filter(|k| !k.is_empty())
                        .map(|k| k.clone().into()),
                    model: get("PROCMAP_OPENAI_MODEL", "gpt-4o-mini"),
                    timeout: Duration::from_secs(parse_number(
                        vars,
                        "PROCMAP_LLM_TIMEOUT_SECS",
                        120,
                        1..=3600,
                    )?),
                    max_retries: parse_number(vars, "PROCMAP_LLM_MAX_RETRIES", 4, 0..=20)?,
                    repair_rounds: parse_number(vars, "PROCMAP_LLM_REPAIR_ROUNDS", 2, 0..=10)?,
                    max_tokens: parse_number(vars, "PROCMAP_LLM_MAX_TOKENS", 4096, 64..=131_072)?,
                })
            }
            _ => {
                return Err(ConfigError {
                    variable: "PROCMAP_LLM_PROVIDER",
                    value: provider_raw,
                    reason: "use \"builtin\" or \"openai\"".into(),
                })
            }
        };

        Ok(Config {
            database_url,
            amqp_url,
            bind,
            public_base_url,
            queue_prefix,
            llm_provider,
            worker_concurrency: parse_number(vars, "PROCMAP_WORKER_CONCURRENCY", 8, 1..=1024)?,
            wait_timeout: Duration::from_millis(parse_number(
                vars,
                "PROCMAP_WAIT_TIMEOUT_MS",
                60_000,
                0..=600_000,
            )?),
            job_lease: Duration::from_secs(parse_number(
                vars,
                "PROCMAP_JOB_LEASE_SECS",
                300,
                5..=86_400,
            )?),
            max_attempts: parse_number(vars, "PROCMAP_MAX_ATTEMPTS", 3, 1..=100)?,
            database_pool_size: parse_number(vars, "PROCMAP_DATABASE_POOL_SIZE", 16, 1..=1024)?,
            rate_limit: parse_number(vars, "PROCMAP_RATE_LIMIT", 120, 1..=1_000_000)?,
            rate_limit_window: Duration::from_secs(parse_number(
                vars,
                "PROCMAP_RATE_LIMIT_WINDOW_SECS",
                60,
                1..=86_400,
            )?),
            generation_quota: parse_number(vars, "PROCMAP_GENERATION_QUOTA", 500, 0..=100_000_000)?,
            generation_quota_window: Duration::from_secs(
                86_400 * parse_number(vars, "PROCMAP_GENERATION_QUOTA_WINDOW_DAYS", 30, 1..=366)?,
            ),
        })
    }
}

/// An absolute http(s) URL, without a trailing slash so paths can be appended.
fn http_url(variable: &'static str, value: String) -> Result<String, ConfigError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError {
            variable,
            value,
            reason: "must be an absolute http:// or https:// URL".into(),
        })
    }
}

fn parse_number<T>(
    vars: &HashMap<String, String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = vars.get(variable).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let err = || ConfigError {
        variable,
        value: raw.clone(),
        reason: format!(
            "expected a whole number from {} to {}",
            range.start(),
            range.end()
        ),
    };
    let value: T = raw.trim().parse().map_err(|_| err())?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let config = Config::from_vars(&HashMap::new()).expect("defaults are valid");
        assert_eq!(config.queue_prefix, "procmap");
        assert_eq!(config.llm_provider, LlmProvider::Builtin);
        assert_eq!(config.wait_timeout, Duration::from_secs(60));
        assert_eq!(config.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(
            (config.rate_limit, config.rate_limit_window),
            (120, Duration::from_secs(60))
        );
        assert_eq!(config.generation_quota, 500);
        assert_eq!(
            config.generation_quota_window,
            Duration::from_secs(30 * 86_400)
        );
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (name, value) in [
            ("PROCMAP_WORKER_CONCURRENCY", "zero"),
            ("PROCMAP_WORKER_CONCURRENCY", "0"),
            ("PROCMAP_BIND", "nowhere"),
            ("PROCMAP_LLM_PROVIDER", "magic"),
            ("PROCMAP_QUEUE_PREFIX", "has space"),
            ("PROCMAP_PUBLIC_BASE_URL", "example.com"),
            ("PROCMAP_AMQP_URL", "http://x"),
            ("PROCMAP_DATABASE_URL", "postgres://[bad"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn the_public_base_url_loses_its_trailing_slash() {
        let config = Config::from_vars(&vars(&[("PROCMAP_PUBLIC_BASE_URL", "https://x.example/")]))
            .expect("valid");
        assert_eq!(config.public_base_url, "https://x.example");
    }
}
