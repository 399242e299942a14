//! A bound on the `/api/v1` requests one replica works on at once.
//!
//! Past what the machine and the database can serve, more requests in flight only wait longer
//! in the connection pools, and each holds its connection's buffers and its handler's state: an
//! overload measured at 2,500 accepts/s on two cores kept 2,400 requests waiting over a second
//! each and took the API to 590 MB. So a request beyond `PROCMAP_MAX_IN_FLIGHT` is answered at
//! once with 503 `overloaded` and `Retry-After: 1`, before any work, and a client or load
//! balancer can retry it here or on another replica. A `wait=true` request holds its permit
//! while it waits; a stream (the copilot's chat) holds it only until its headers are sent.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, state::AppState};

/// Middleware: runs the request while it holds one of the replica's permits, or turns it away.
pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            metrics::counter!(procmap_core::metrics::REQUESTS_SHED).increment(1);
            ApiError::Overloaded {
                limit: state.config.max_in_flight,
            }
            .into_response()
        }
    }
}
