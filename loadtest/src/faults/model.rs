//! A local model server that speaks the OpenAI chat-completions protocol, so the worker's real
//! provider runs against it. The fault suite sets how slow it answers and when it storms.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde_json::json;
use tokio::time::Instant;

#[derive(Default)]
struct Behaviour {
    /// How long each answer takes.
    delay: Duration,
    /// Until then, every request is refused: 429s and 500s in turn.
    storm_until: Option<Instant>,
    refused: u64,
    answered: u64,
}

#[derive(Clone)]
pub struct FakeModel {
    behaviour: Arc<Mutex<Behaviour>>,
    pub base_url: String,
}

impl FakeModel {
    /// Serves on a free loopback port until the process ends.
    pub async fn start() -> anyhow::Result<FakeModel> {
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(behaviour.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeModel {
            behaviour,
            base_url,
        })
    }

    /// Each answer takes `delay` from now on, and any storm ends.
    pub fn answer_after(&self, delay: Duration) {
        let mut behaviour = self.lock();
        behaviour.delay = delay;
        behaviour.storm_until = None;
    }

    /// Refuses every request for `length` from now.
    pub fn storm_for(&self, length: Duration) {
        self.lock().storm_until = Some(Instant::now() + length);
    }

    /// (refused, answered) since the start.
    pub fn counts(&self) -> (u64, u64) {
        let behaviour = self.lock();
        (behaviour.refused, behaviour.answered)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Behaviour> {
        self.behaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn chat(State(behaviour): State<Arc<Mutex<Behaviour>>>) -> Response {
    let (delay, refuse) = {
        let mut b = behaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let storming = b.storm_until.is_some_and(|until| Instant::now() < until);
        let refuse = storming.then(|| {
            b.refused += 1;
            b.refused % 2 == 0
        });
        (b.delay, refuse)
    };
    match refuse {
        Some(true) => {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, "rate limited, slow down").into_response();
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return response;
        }
        Some(false) => return (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response(),
        None => {}
    }
    tokio::time::sleep(delay).await;
    behaviour
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .answered += 1;
    // A valid answer in the provider's schema: a process as a block tree.
    let spec = json!({
        "process": "Claim handling", "start": "Claim received",
        "steps": [{"task": "Check claim"}, {"task": "Pay claim"}],
        "end": "Claim closed"
    })
    .to_string();
    Json(json!({
        "id": "chatcmpl-faults",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": spec}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    }))
    .into_response()
}
