//! Pictures: `GET /api/v1/diagrams/{id}/image`, a diagram's version drawn as SVG or PNG, light
//! or dark (seed 001), and `GET /api/v1/process-maps/generations/{id}/image`, one option of a
//! generation, to preview it without saving it.
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
use utoipa::ToSchema;

use super::{
    diagrams::{version_to_show, Diagrams},
    generations::Generations,
};
use crate::{
    error::{ApiError, CommonErrors, ErrorEnvelope},
    generations,
    http::{params::optional_positive, Caller, PathId, Query, ReadDiagrams, ReadGenerations},
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

/// A PNG file, for the OpenAPI document: binary, not an array of numbers.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PngImage(#[allow(dead_code)] Vec<u8>);

// The two queries repeat `format` and `theme` rather than flatten a shared struct, so that
// a bad value is reported under its own name.
#[derive(Deserialize)]
pub struct ImageQuery {
    #[serde(default)]
    format: ImageFormat,
    #[serde(default)]
    theme: ImageTheme,
    #[serde(default, deserialize_with = "optional_positive")]
    version: Option<i32>,
}

#[derive(Deserialize)]
pub struct OptionImageQuery {
    #[serde(default)]
    format: ImageFormat,
    #[serde(default)]
    theme: ImageTheme,
    #[serde(default, deserialize_with = "optional_positive")]
    option: Option<i32>,
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
            (PngImage = "image/png"),
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
    let etag = format!("{}-v{}", id.id, version.version_number);
    picture(
        &state,
        version.bpmn_xml,
        (query.format, query.theme),
        etag,
        query.version.is_some(),
        &headers,
    )
    .await
}

/// `GET /api/v1/process-maps/generations/{id}/image`
#[utoipa::path(
    get,
    path = "/api/v1/process-maps/generations/{id}/image",
    tag = "generations",
    operation_id = "renderGenerationOption",
    summary = "An option of a generation drawn as SVG or PNG",
    description = "Needs scope `generate` or `diagrams:read`. Draws one option (the refinement's result is its \
                   `option_number`) as `GET /diagrams/{id}/image` draws a diagram, to preview the three options \
                   without saving them.",
    params(
        ("id" = String, Path, description = "The generation's id."),
        ("option" = Option<i32>, Query, minimum = 1, description = "The option (default 1).", example = 2),
        ("version" = Option<i32>, Query, minimum = 1, description = "The option's version (default: its latest)."),
        ("format" = Option<String>, Query, description = "`svg` (default) or `png`.", example = "png"),
        ("theme" = Option<String>, Query, description = "`light` (default) or `dark`.", example = "dark"),
    ),
    responses(
        (status = 200, description = "The picture.", content(
            (String = "image/svg+xml"),
            (PngImage = "image/png"),
        ), headers(("ETag" = String, description = "Names this picture of this option."))),
        (status = 304, description = "The picture named in `If-None-Match` is still this one."),
        (status = 409, description = "The generation has no diagram yet (`generation_not_ready`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn generation_image(
    State(state): State<AppState>,
    caller: Caller<ReadGenerations>,
    id: PathId<Generations>,
    Query(query): Query<OptionImageQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let found = generations::get(&state, &caller.key.workspace(), id.id)
        .await?
        .ok_or_else(|| id.not_found())?;
    if found.versions.is_empty() {
        return Err(ApiError::Conflict {
            code: "generation_not_ready",
            message: format!(
                "generation {} has no diagram yet: it is {}",
                id.id,
                found.generation.status.as_str()
            ),
        });
    }
    let option = query.option.unwrap_or(1);
    let version = found
        .versions
        .into_iter()
        .filter(|v| v.option_number == option)
        .filter(|v| query.version.is_none_or(|n| v.version_number == n))
        .max_by_key(|v| v.version_number)
        .ok_or_else(|| match query.version {
            Some(n) => ApiError::not_found(
                Some("version"),
                format!("option {option} of generation {} has no version {n}", id.id),
            ),
            None => ApiError::not_found(
                Some("option"),
                format!("generation {} has no option {option}", id.id),
            ),
        })?;
    let etag = format!("{}-o{option}-v{}", id.id, version.version_number);
    picture(
        &state,
        version.bpmn_xml,
        (query.format, query.theme),
        etag,
        query.version.is_some(),
        &headers,
    )
    .await
}

/// Draws `xml` as the query asks, or answers 304 when the client has this picture already.
/// `name` identifies the stored version drawn; `pinned` says the request named its version, so
/// the picture can never change.
async fn picture(
    state: &AppState,
    xml: String,
    (format, theme): (ImageFormat, ImageTheme),
    name: String,
    pinned: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (extension, content_type) = match format {
        ImageFormat::Svg => ("svg", "image/svg+xml"),
        ImageFormat::Png => ("png", "image/png"),
    };
    let (theme, theme_name) = match theme {
        ImageTheme::Light => (Theme::Light, "light"),
        ImageTheme::Dark => (Theme::Dark, "dark"),
    };
    let etag = format!("\"{name}-{extension}-{theme_name}-r{RENDERER_REVISION}\"");
    // The latest version can change, so a client must ask again; a numbered one never does.
    let cache_control = if pinned {
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
    let drawn = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match format {
            ImageFormat::Svg => procmap_render::svg(&xml, theme).map(String::into_bytes),
            ImageFormat::Png => procmap_render::png(&xml, theme),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let bytes = drawn.map_err(|e| match e {
        procmap_render::RenderError::Scene(reason) => ApiError::ValidationFailed {
            param: None,
            message: format!("this diagram cannot be drawn: {reason}"),
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
