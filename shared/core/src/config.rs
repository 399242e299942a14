//! Reading configuration from `PROCMAP_*` environment variables, and the part both binaries
//! share: where Postgres and RabbitMQ are.
//!
//! Each binary has its own configuration (`ApiConfig`, `WorkerConfig`) built from the same
//! [`Vars`]. Every variable has a default that works on a developer machine with Postgres and
//! RabbitMQ on localhost. A value that does not parse stops the process at start-up with a
//! message naming the variable, rather than failing later in some request. Connection strings
//! can hold passwords, so they are [`SecretString`]s: they never print, and an invalid one is
//! not echoed back.

use std::{collections::HashMap, ops::RangeInclusive, str::FromStr};

use secrecy::SecretString;

/// A configuration variable that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    /// The value as given, or a placeholder for a variable that may hold a secret.
    pub value: String,
    pub reason: String,
}

/// The process's variables, read once.
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<String, String>);

impl Vars {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Vars(std::env::vars().collect())
    }

    /// A set chosen by the caller, so tests need not touch the process environment.
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Vars(map)
    }

    /// Like [`Vars::from_map`], from `(name, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A variable's value; an empty one counts as unset.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable's text, or its default.
    pub fn text(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// A secret, when set.
    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(|v| SecretString::from(v.to_owned()))
    }

    /// A whole number within `range`, or its default.
    pub fn number<T>(
        &self,
        variable: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.get(variable) else {
            return Ok(default);
        };
        let err = || ConfigError {
            variable,
            value: raw.to_owned(),
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

    /// An absolute http(s) URL, without a trailing slash so paths can be appended.
    pub fn http_url(&self, variable: &'static str, default: &str) -> Result<String, ConfigError> {
        let value = self.text(variable, default);
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
}

/// What both binaries need to find their infrastructure.
#[derive(Debug, Clone)]
pub struct Infrastructure {
    /// Postgres connection string; Postgres is the source of truth.
    pub database_url: SecretString,
    /// RabbitMQ connection string; it carries jobs and status events.
    pub amqp_url: SecretString,
    /// Prefix of every exchange and queue name, so tests and tenants of one broker don't collide.
    pub queue_prefix: String,
    /// Size of the Postgres connection pool of each process.
    pub database_pool_size: usize,
}

/// Shown instead of a connection string that failed to parse: it may hold a password.
const HIDDEN: &str = "(hidden: it may hold a password)";

impl Infrastructure {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let database_url = vars.text(
            "PROCMAP_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/procmap",
        );
        database_url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| ConfigError {
                variable: "PROCMAP_DATABASE_URL",
                value: HIDDEN.into(),
                reason: e.to_string(),
            })?;
        let amqp_url = vars.text("PROCMAP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
            return Err(ConfigError {
                variable: "PROCMAP_AMQP_URL",
                value: HIDDEN.into(),
                reason: "must start with amqp:// or amqps://".into(),
            });
        }
        let queue_prefix = vars.text("PROCMAP_QUEUE_PREFIX", "procmap");
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
        Ok(Infrastructure {
            database_url: database_url.into(),
            amqp_url: amqp_url.into(),
            queue_prefix,
            database_pool_size: vars.number("PROCMAP_DATABASE_POOL_SIZE", 16, 1..=1024)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let config = Infrastructure::from_vars(&Vars::default()).expect("defaults are valid");
        assert_eq!(config.queue_prefix, "procmap");
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (name, value) in [
            ("PROCMAP_QUEUE_PREFIX", "has space"),
            ("PROCMAP_AMQP_URL", "http://x"),
            ("PROCMAP_DATABASE_URL", "postgres://[bad"),
        ] {
            let err =
                Infrastructure::from_vars(&Vars::from_pairs(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn connection_strings_never_print() {
        let config = Infrastructure::from_vars(&Vars::from_pairs(&[(
            "PROCMAP_DATABASE_URL",
            "postgres://app:s3cret@db:5432/procmap",
        )]))
        .expect("valid");
        assert!(!format!("{config:?}").contains("s3cret"));
        let err = Infrastructure::from_vars(&Vars::from_pairs(&[(
            "PROCMAP_AMQP_URL",
            "http://u:s3cret@x",
        )]))
        .expect_err("not amqp");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
