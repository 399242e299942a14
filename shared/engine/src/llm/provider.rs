//! The OpenAI-compatible chat client: works with OpenAI, vLLM, Ollama and llama.cpp's server.
//!
//! A conversation asks with JSON-schema structured output, checks each answer and sends its
//! problems back for a bounded number of repair rounds. Requests that time out or meet a 429 or
//! 5xx are retried with exponential backoff and jitter, honouring `Retry-After`. Every answered
//! request is entered in the generation's [`Ledger`].

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::Instrument;

use super::prompts;
use crate::bpmn::Problem;
use crate::error::EngineError;
use crate::usage::Ledger;

/// How to reach an OpenAI-compatible endpoint, and how patiently.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as a bearer token when set; local servers usually need none. Never printed.
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Limit for one HTTP request to the model server.
    pub timeout: Duration,
    /// Retries of a request that met a timeout, a 429 or a 5xx.
    pub max_retries: usize,
    /// Rounds in which validation problems go back to the model for repair.
    pub repair_rounds: usize,
    /// Most tokens one answer may have; stops a model that never closes its JSON.
    pub max_tokens: u32,
}

impl PartialEq for OpenAiConfig {
    fn eq(&self, other: &Self) -> bool {
        let key = |c: &Self| c.api_key.as_ref().map(|k| k.expose_secret().to_owned());
        self.base_url == other.base_url
            && key(self) == key(other)
            && self.model == other.model
            && self.timeout == other.timeout
            && self.max_retries == other.max_retries
            && self.repair_rounds == other.repair_rounds
            && self.max_tokens == other.max_tokens
    }
}

impl Eq for OpenAiConfig {}

/// Why a chat request failed. The variant says whether retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model server answered {status}: {body}")]
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("the model server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not reach the model server: {0}")]
    Transport(String),
    #[error("the model server's answer is not a chat completion: {0}")]
    Protocol(String),
}

impl LlmError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout(_) | Self::Transport(_) => true,
            Self::Protocol(_) => false,
        }
    }
}

/// The longest `Retry-After` honoured; a server asking for more is treated as unavailable.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A wait of at least `wait`, up to half as long again, chosen at random.
fn spread(wait: Duration) -> Duration {
    wait.mul_f64(1.0 + rand::random::<f64>() * 0.5)
}

/// A client of one model server.
pub struct ChatClient {
    http: reqwest::Client,
    config: OpenAiConfig,
}

#[derive(Serialize, Clone)]
struct Message {
    role: &'static str,
    content: String,
}

/// The messages of one conversation with the model, kept across requests: a tool loop adds
/// each answer and what its tool answered.
#[derive(Clone)]
pub struct Dialogue {
    messages: Vec<Message>,
}

impl Dialogue {
    pub fn new(system: String, user: String) -> Self {
        Dialogue {
            messages: vec![
                Message {
                    role: "system",
                    content: system,
                },
                Message {
                    role: "user",
                    content: user,
                },
            ],
        }
    }

    /// Adds what the user side says next: a tool's result, or a repair request.
    pub fn tell(&mut self, content: String) {
        self.messages.push(Message {
            role: "user",
            content,
        });
    }
}

impl ChatClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, EngineError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| {
                EngineError::ProviderRejected(format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(ChatClient { http, config })
    }

    /// Asks (`system` says how to answer, `user` what to answer), checks the answer with
    /// `accept`, and sends its problems back until it passes or the repair rounds are spent.
    pub async fn converse<T>(
        &self,
        system: String,
        user: String,
        schema_name: &str,
        schema: Value,
        ledger: &Ledger,
        accept: impl Fn(&str) -> Result<T, Vec<Problem>>,
    ) -> Result<T, EngineError> {
        let mut dialogue = Dialogue::new(system, user);
        self.step(&mut dialogue, schema_name, &schema, ledger, accept)
            .await
    }

    /// The model's next answer in a dialogue, checked with `accept` and repaired as in
    /// [`Self::converse`]. The accepted answer joins the dialogue, so the next step sees it.
    pub async fn step<T>(
        &self,
        dialogue: &mut Dialogue,
        schema_name: &str,
        schema: &Value,
        ledger: &Ledger,
        accept: impl Fn(&str) -> Result<T, Vec<Problem>>,
    ) -> Result<T, EngineError> {
        let mut problems = Vec::new();
        for round in 0..=self.config.repair_rounds {
            if round > 0 {
                ledger.enter(|usage| usage.repair_rounds += 1);
            }
            let content = self
                .chat(&dialogue.messages, schema_name, schema, ledger)
                .await?;
            let accepted = accept(&content);
            dialogue.messages.push(Message {
                role: "assistant",
                content,
            });
            match accepted {
                Ok(value) => return Ok(value),
                Err(found) => {
                    tracing::debug!(round, problems = ?found, "the model's answer goes back for repair");
                    dialogue.tell(prompts::repair(&found));
                    problems = found;
                }
            }
        }
        Err(EngineError::InvalidOutput(problems))
    }

    /// One chat completion, retried on transient failures.
    async fn chat(
        &self,
        messages: &[Message],
        schema_name: &str,
        schema: &Value,
        ledger: &Ledger,
    ) -> Result<String, EngineError> {
        let body = json!({
            "model": self.config.model,
            "messages": messages,
            "temperature": 0.2,
            // Bounds a model that loops inside its JSON; a cut-off answer fails to parse and is repaired.
            "max_tokens": self.config.max_tokens,
            "response_format": {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": false}},
        });
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let send = || async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ledger.enter(|usage| usage.requests += 1);
            self.send(&body, ledger).await
        };
        // One span per chat, retries included, with OpenTelemetry's GenAI attributes; `send`
        // records the tokens of the answer.
        let span = tracing::info_span!(
            "chat",
            otel.name = %format!("chat {}", self.config.model),
            otel.kind = "client",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = %self.config.model,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
        );
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(20))
            .with_max_times(self.config.max_retries)
            .with_jitter();
        let result = send
            .retry(backoff)
            .when(LlmError::is_transient)
            .adjust(|e, next| match (e, next) {
                // Honour the server's own wait, when it gives one, instead of our guess, and
                // spread it: every client told "1 second" at once would otherwise come back
                // together and meet the same limit.
                (LlmError::Status { retry_after: Some(wait), .. }, Some(_)) if *wait <= MAX_RETRY_AFTER => Some(spread(*wait)),
                (LlmError::Status { retry_after: Some(_), .. }, Some(_)) => None,
                (_, next) => next,
            })
            .notify(|e, wait| tracing::warn!(error = %e, ?wait, "model server request failed; retrying"))
            .instrument(span)
            .await;
        let requests = attempts.load(std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(content) => Ok(content),
            Err(e) if e.is_transient() => Err(EngineError::ProviderUnavailable(format!(
                "{e} (after {requests} attempts)"
            ))),
            Err(e) => Err(EngineError::ProviderRejected(e.to_string())),
        }
    }

    /// One request; the tokens of an answered one are entered in the ledger, even when its
    /// content turns out unusable.
    async fn send(&self, body: &Value, ledger: &Ledger) -> Result<String, LlmError> {
        let mut request = self
            .http
            .post(format!("{}/chat/completions", self.config.base_url))
            .json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(500)
                .collect();
            return Err(LlmError::Status {
                status: status.as_u16(),
                body,
                retry_after,
            });
        }
        let completion: Value = response.json().await.map_err(|e| self.transport(e))?;
        let tokens = |name: &str| completion["usage"][name].as_u64().unwrap_or(0);
        ledger.enter(|usage| {
            usage.prompt_tokens += tokens("prompt_tokens");
            usage.completion_tokens += tokens("completion_tokens");
            usage.total_tokens += tokens("total_tokens");
        });
        // As i64: OpenTelemetry has no unsigned integers, and a u64 would be exported as text.
        let span = tracing::Span::current();
        let count = |name: &str| i64::try_from(tokens(name)).unwrap_or(i64::MAX);
        span.record("gen_ai.usage.input_tokens", count("prompt_tokens"));
        span.record("gen_ai.usage.output_tokens", count("completion_tokens"));
        if let Some(model) = completion["model"].as_str() {
            span.record("gen_ai.response.model", model);
        }
        completion["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| LlmError::Protocol("no choices[0].message.content".into()))
    }

    fn transport(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout(self.config.timeout)
        } else if e.is_decode() {
            LlmError::Protocol(e.to_string())
        } else {
            LlmError::Transport(e.to_string())
        }
    }
}
