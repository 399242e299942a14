//! `GET /api/v1/diagrams/{id}/image`: a version drawn as SVG or PNG, light or dark (seed 001).
//!
//! A version never changes once stored, so a picture is named by its diagram, version, format
//! and theme: the `ETag` says so, and a client that sends it back in `If-None-Match` gets 304
//! without the picture being drawn again. Drawing is CPU work, done off the async threads and
//! at most one picture per core at a time (`AppState::renders`).

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use procmap_render::Theme;
use serde::Deserialize;

use super::diagrams::{version_to_show, Diagrams};
use crate::{
    error::{ApiError, CommonErrors, ErrorEnvelope},
    http::{params::optional_positive, Caller, PathId, Query, ReadDiagrams},
    state::AppState,
};

/// Bumped when pictures change for the same version, so cached ones are not reused.
const RENDERER_REVISION: u32 = 1;

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    #[default]
    Svg,
    Png,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageTheme {
    #[default]
    Light,
    Dark,
}

#[derive(Deserialize)]
pub struct ImageQuery {
    #[serde(default)]
    format: ImageFormat,
    #[serde(default)]
    theme: ImageTheme,
    #[serde(default, deserialize_with = "optional_positive")]
    version: Option<i32>,
}

/// `GET /api/v1/diagrams/{id}/image`
#[utoipa::path(
    get,
    path = "/api/v1/diagrams/{id}/image",
    tag = "diagrams",
    operation_id = "renderDiagram",
    summary = "A version drawn as SVG or PNG",
    description = "Needs scope `diagrams:read`. Drawn server-side from the diagram's BPMN DI, as bpmn.io draws it, \
                   for diagrams from any tool. PNG is drawn at twice the SVG's size (less for very large diagrams). \
                   Answers an `ETag`; send it back in `If-None-Match` for a 304.",
    params(
        ("id" = String, Path, description = "The diagram's id."),
        ("format" = Option<String>, Query, description = "`svg` (default) or `png`.", example = "png"),
        ("theme" = Option<String>, Query, description = "`light` (default) or `dark`.", example = "dark"),
        ("version" = Option<i32>, Query, minimum = 1, description = "The version (default: the latest)."),
    ),
    responses(
        (status = 200, description = "The picture.", content(
            (String = "image/svg+xml"),
            (Vec<u8> = "image/png"),
        ), headers(("ETag" = String, description = "Names this picture of this version."))),
        (status = 304, description = "The picture named in `If-None-Match` is still this one."),
        (status = 409, description = "The diagram has no version yet (`diagram_not_ready`).", body = ErrorEnvelope),
        (status = 422, description = "The version has no diagram interchange to draw (`validation_failed`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn image(
    State(state): State<AppState>,
    caller: Caller<ReadDiagrams>,
    id: PathId<Diagrams>,
    Query(query): Query<ImageQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, version) = version_to_show(&state, &caller.key.workspace(), &id, query.version).await?;
    let (extension, content_type) = match query.format {
        ImageFormat::Svg => ("svg", "image/svg+xml"),
        ImageFormat::Png => ("png", "image/png"),
    };
    let theme = match query.theme {
        ImageTheme::Light => Theme::Light,
        ImageTheme::Dark => Theme::Dark,
    };
    let etag = format!(
        "\"{}-v{}-{}-{}-r{RENDERER_REVISION}\"",
        id.id,
        version.version_number,
        extension,
        if theme == Theme::Dark {
            "dark"
        } else {
            "light"
        },
    );
    // The latest version can change, so a client must ask again; a numbered one never does.
    let cache_control = if query.version.is_some() {
        "private, max-age=31536000, immutable"
    } else {
        "private, no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, header_value(&etag)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control),
                ),
            ],
        )
            .into_response());
    }

    let permit = state
        .renders
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let xml = version.bpmn_xml;
    let drawn = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match query.format {
            ImageFormat::Svg => procmap_render::svg(&xml, theme).map(String::into_bytes),
            ImageFormat::Png => procmap_render::png(&xml, theme),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let bytes = drawn.map_err(|e| match e {
        procmap_render::RenderError::Scene(reason) => ApiError::ValidationFailed {
            param: None,
            message: format!(
                "version {} cannot be drawn: {reason}",
                version.version_number
            ),
            problems: Vec::new(),
        },
        procmap_render::RenderError::Raster(reason) => {
            ApiError::Internal(anyhow::anyhow!("rasterising a picture: {reason}"))
        }
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, header_value(&etag)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn header_value(value: &str) -> HeaderValue {
    // Made of a UUID, digits and fixed words, so always a valid header value.
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}
