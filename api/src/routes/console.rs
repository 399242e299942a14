//! `GET /console`: the Test Console (seed 000), one page served from the binary.
//!
//! The page, its script and its style are compiled in (`src/console/`): no build step, and
//! nothing is loaded from anywhere else. The Content-Security-Policy holds the page to that:
//! scripts and styles from this server only, images from this server or the page's own blobs,
//! requests to this server only, and no framing.

use axum::{
    http::{header, HeaderValue},
    response::IntoResponse,
};

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/app.js");
const STYLE: &str = include_str!("../console/app.css");
const ICON: &str = include_str!("../console/icon.svg");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      img-src 'self' blob:; connect-src 'self'; base-uri 'none'; \
                      form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
}

/// `GET /console`
pub async fn page() -> impl IntoResponse {
    asset(PAGE, "text/html; charset=utf-8")
}

/// `GET /console/app.js`
pub async fn script() -> impl IntoResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /console/app.css`
pub async fn style() -> impl IntoResponse {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `GET /console/icon.svg`, the page's icon, so the browser does not ask for `/favicon.ico`.
pub async fn icon() -> impl IntoResponse {
    asset(ICON, "image/svg+xml")
}
