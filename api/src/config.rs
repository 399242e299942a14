//! The API's configuration: its infrastructure, where it listens, how long `wait=true` waits,
//! and the per-key limits.

use std::{net::SocketAddr, time::Duration};

use procmap_core::config::{ConfigError, Infrastructure, Vars};

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub infrastructure: Infrastructure,
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Base of the absolute `links.self` URLs handed to clients (no trailing slash).
    pub public_base_url: String,
    /// How long a `wait=true` request waits before answering 202.
    pub wait_timeout: Duration,
    /// How many times a job is attempted before the relay marks it failed.
    pub max_attempts: i32,
    /// Requests one key may make per rate-limit window, across all API replicas.
    pub rate_limit: i64,
    pub rate_limit_window: Duration,
    /// Generations one key may create per quota window (rolling).
    pub generation_quota: i64,
    pub generation_quota_window: Duration,
    /// How long a replica trusts a key it has read. A revocation that was announced takes
    /// effect at once; one whose announcement was lost, within this.
    pub key_cache_ttl: Duration,
    /// Requests of `/api/v1` this replica works on at once; more are answered 503 `overloaded`
    /// at once instead of queueing, so an overload costs latency and memory only up to this.
    pub max_in_flight: usize,
    /// Connections this replica holds open at once; past it, new ones wait to be accepted.
    pub max_connections: usize,
    /// Models a workspace may choose for its copilot besides `builtin`
    /// (`PROCMAP_COPILOT_MODELS`, comma-separated).
    pub copilot_models: Vec<String>,
}

impl ApiConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_env())
    }

    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let bind_raw = vars.text("PROCMAP_BIND", "127.0.0.1:8080");
        let bind: SocketAddr =
            bind_raw
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError {
                    variable: "PROCMAP_BIND",
                    value: bind_raw.clone(),
                    reason: e.to_string(),
                })?;
        Ok(ApiConfig {
            infrastructure: Infrastructure::from_vars(vars)?,
            bind,
            public_base_url: vars.http_url("PROCMAP_PUBLIC_BASE_URL", &format!("http://{bind}"))?,
            wait_timeout: Duration::from_millis(vars.number(
                "PROCMAP_WAIT_TIMEOUT_MS",
                // Under the 60 s idle timeout of common proxies and load balancers, so the 202
                // arrives before a proxy cuts the connection.
                50_000,
                0..=600_000,
            )?),
            max_attempts: vars.number("PROCMAP_MAX_ATTEMPTS", 3, 1..=100)?,
            rate_limit: vars.number("PROCMAP_RATE_LIMIT", 120, 1..=1_000_000)?,
            rate_limit_window: Duration::from_secs(vars.number(
                "PROCMAP_RATE_LIMIT_WINDOW_SECS",
                60,
                1..=86_400,
            )?),
            generation_quota: vars.number("PROCMAP_GENERATION_QUOTA", 500, 0..=100_000_000)?,
            generation_quota_window: Duration::from_secs(
                86_400 * vars.number("PROCMAP_GENERATION_QUOTA_WINDOW_DAYS", 30, 1..=366)?,
            ),
            key_cache_ttl: Duration::from_secs(vars.number(
                "PROCMAP_KEY_CACHE_TTL_SECS",
                60,
                1..=3_600,
            )?),
            max_in_flight: vars.number("PROCMAP_MAX_IN_FLIGHT", 256, 1..=100_000)?,
            max_connections: vars.number("PROCMAP_MAX_CONNECTIONS", 1_024, 1..=1_000_000)?,
            copilot_models: vars
                .text("PROCMAP_COPILOT_MODELS", "")
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let config = ApiConfig::from_vars(&Vars::default()).expect("defaults are valid");
        assert_eq!(config.wait_timeout, Duration::from_secs(50));
        assert_eq!(config.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(
            (config.rate_limit, config.rate_limit_window),
            (120, Duration::from_secs(60))
        );
        assert_eq!(config.generation_quota, 500);
        assert_eq!(config.key_cache_ttl, Duration::from_secs(60));
        assert_eq!(config.max_in_flight, 256);
        assert_eq!(config.max_connections, 1_024);
        assert_eq!(
            config.generation_quota_window,
            Duration::from_secs(30 * 86_400)
        );
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (name, value) in [
            ("PROCMAP_BIND", "nowhere"),
            ("PROCMAP_PUBLIC_BASE_URL", "example.com"),
            ("PROCMAP_DATABASE_URL", "postgres://[bad"),
        ] {
            let err = ApiConfig::from_vars(&Vars::from_pairs(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn the_public_base_url_loses_its_trailing_slash() {
        let config = ApiConfig::from_vars(&Vars::from_pairs(&[(
            "PROCMAP_PUBLIC_BASE_URL",
            "https://x.example/",
        )]))
        .expect("valid");
        assert_eq!(config.public_base_url, "https://x.example");
    }
}
