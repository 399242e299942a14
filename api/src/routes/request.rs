//! Parsing the body of `POST /generations` into a [`GenerationRequest`], field by field, so each
//! mistake is reported with the `param` that caused it.

use procmap_core::domain::{
    GenerationRequest, RefinementSource, LANGUAGES, MAX_BPMN_XML_BYTES, MAX_PROMPT_CHARS,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{
    openapi::{
        schema::{ObjectBuilder, SchemaType},
        RefOr, Schema, Type,
    },
    ToSchema,
};
use uuid::Uuid;

use crate::error::ApiError;

const TOP_LEVEL_FIELDS: &[&str] = &["mode", "prompt", "language", "source"];

/// The body of `POST /api/v1/process-maps/generations`: one shape per `mode`. This is the
/// documented contract; [`parse`] checks exactly it, field by field, so that each mistake is
/// reported with its `param`. Unknown fields are refused, so a typo such as `promt` is caught.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreateGeneration {
    Initial(InitialRequest),
    Refinement(RefinementRequest),
}

/// Three different BPMN options from a description.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialRequest {
    pub mode: InitialMode,
    /// The process description (at most 20,000 characters).
    #[schema(
        min_length = 1,
        max_length = 20000,
        example = "Map the customer support ticket triage process from intake to resolution."
    )]
    pub prompt: String,
    /// The prompt's language. Default `english`.
    #[schema(schema_with = language_schema)]
    pub language: Option<String>,
}

/// One refined diagram from a follow-up prompt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefinementRequest {
    pub mode: RefinementMode,
    /// The follow-up (at most 20,000 characters).
    #[schema(
        min_length = 1,
        max_length = 20000,
        example = "Add an escalation path for high-severity tickets."
    )]
    pub prompt: String,
    /// The prompt's language. Default `english`.
    #[schema(schema_with = language_schema)]
    pub language: Option<String>,
    /// The diagram to refine.
    pub source: RefinementSource,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InitialMode {
    Initial,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefinementMode {
    Refinement,
}

/// One of [`LANGUAGES`], or null for the default.
fn language_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            LANGUAGES
                .iter()
                .map(|l| Value::from(*l))
                .chain([Value::Null]),
        ))
        .default(Some("english".into()))
}

pub fn parse(body: &Value) -> Result<GenerationRequest, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::InvalidJson(
            "the body must be a JSON object".into(),
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !TOP_LEVEL_FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            unknown,
            format!(
                "unknown field {unknown:?}; expected one of {}",
                TOP_LEVEL_FIELDS.join(", ")
            ),
        ));
    }
    let mode = required_string(fields, "mode")?;
    let prompt = prompt(fields)?;
    let language = language(fields)?;
    match mode {
        "initial" => {
            if fields.contains_key("source") {
                return Err(ApiError::invalid(
                    "source",
                    "source is only used with mode \"refinement\"",
                ));
            }
            Ok(GenerationRequest::Initial { prompt, language })
        }
        "refinement" => Ok(GenerationRequest::Refinement {
            prompt,
            source: source(fields)?,
        }),
        other => Err(ApiError::invalid(
            "mode",
            format!("mode must be \"initial\" or \"refinement\", not {other:?}"),
        )),
    }
}

fn required_string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(ApiError::missing(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string"))),
    }
}

fn prompt(fields: &Map<String, Value>) -> Result<String, ApiError> {
    let prompt = required_string(fields, "prompt")?.trim();
    if prompt.is_empty() {
        return Err(ApiError::MissingParameter {
            param: "prompt".into(),
            message: "prompt must not be empty".into(),
        });
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::invalid(
            "prompt",
            format!("prompt is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    if prompt.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(ApiError::invalid(
            "prompt",
            "prompt contains control characters",
        ));
    }
    Ok(prompt.to_owned())
}

fn language(fields: &Map<String, Value>) -> Result<String, ApiError> {
    match fields.get("language") {
        None | Some(Value::Null) => Ok("english".to_owned()),
        Some(Value::String(s)) if LANGUAGES.contains(&s.to_lowercase().as_str()) => {
            Ok(s.to_lowercase())
        }
        Some(_) => Err(ApiError::invalid(
            "language",
            format!("language must be one of: {}", LANGUAGES.join(", ")),
        )),
    }
}

fn source(fields: &Map<String, Value>) -> Result<RefinementSource, ApiError> {
    let source = match fields.get("source") {
        None | Some(Value::Null) => return Err(ApiError::missing("source")),
        Some(Value::Object(source)) => source,
        Some(_) => return Err(ApiError::invalid("source", "source must be an object")),
    };
    let has_stored = source.contains_key("generation_id");
    let has_inline = source.contains_key("bpmn_xml");
    match (has_stored, has_inline) {
        (true, true) => Err(ApiError::invalid("source", "give either source.generation_id (with option_number and version_number) or source.bpmn_xml, not both")),
        (false, false) => Err(ApiError::MissingParameter {
            param: "source".into(),
            message: "source needs generation_id, option_number and version_number, or bpmn_xml".into(),
        }),
        (false, true) => {
            let xml = match source.get("bpmn_xml") {
                Some(Value::String(s)) if !s.trim().is_empty() => s,
                Some(Value::String(_)) => return Err(ApiError::missing("source.bpmn_xml")),
                _ => return Err(ApiError::invalid("source.bpmn_xml", "source.bpmn_xml must be a string")),
            };
            if xml.len() > MAX_BPMN_XML_BYTES {
                return Err(ApiError::invalid("source.bpmn_xml", format!("source.bpmn_xml is larger than {MAX_BPMN_XML_BYTES} bytes")));
            }
            Ok(RefinementSource::Inline { bpmn_xml: xml.clone() })
        }
        (true, false) => {
            let generation_id = match source.get("generation_id") {
                Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| ApiError::invalid("source.generation_id", "source.generation_id must be a UUID"))?,
                _ => return Err(ApiError::invalid("source.generation_id", "source.generation_id must be a UUID string")),
            };
            Ok(RefinementSource::Stored {
                generation_id,
                option_number: positive(source, "option_number")?,
                version_number: positive(source, "version_number")?,
            })
        }
    }
}

fn positive(source: &Map<String, Value>, name: &str) -> Result<i32, ApiError> {
    let param = format!("source.{name}");
    match source.get(name) {
        None | Some(Value::Null) => Err(ApiError::missing(&param)),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                ApiError::invalid(
                    &param,
                    format!("{param} must be a whole number of at least 1"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param_of(body: Value) -> (String, Option<String>) {
        let err = parse(&body).expect_err("should be refused");
        let code = match &err {
            ApiError::MissingParameter { .. } => "missing_parameter",
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::InvalidJson(_) => "invalid_json",
            _ => "other",
        };
        let param = match err {
            ApiError::MissingParameter { param, .. } | ApiError::InvalidParameter { param, .. } => {
                Some(param)
            }
            _ => None,
        };
        (code.to_owned(), param)
    }

    #[test]
    fn an_initial_request_defaults_its_language() {
        let request = parse(&json!({"mode": "initial", "prompt": " Ship it "})).expect("valid");
        assert_eq!(
            request,
            GenerationRequest::Initial {
                prompt: "Ship it".into(),
                language: "english".into()
            }
        );
    }

    #[test]
    fn each_mistake_names_its_field() {
        let cases = [
            (json!({"prompt": "x"}), "missing_parameter", "mode"),
            (
                json!({"mode": "bogus", "prompt": "x"}),
                "invalid_parameter",
                "mode",
            ),
            (
                json!({"mode": 3, "prompt": "x"}),
                "invalid_parameter",
                "mode",
            ),
            (json!({"mode": "initial"}), "missing_parameter", "prompt"),
            (
                json!({"mode": "initial", "prompt": "   "}),
                "missing_parameter",
                "prompt",
            ),
            (
                json!({"mode": "initial", "prompt": "x", "language": "klingon"}),
                "invalid_parameter",
                "language",
            ),
            (
                json!({"mode": "initial", "prompt": "x", "colour": "red"}),
                "invalid_parameter",
                "colour",
            ),
            (
                json!({"mode": "refinement", "prompt": "x"}),
                "missing_parameter",
                "source",
            ),
            (
                json!({"mode": "refinement", "prompt": "x", "source": {}}),
                "missing_parameter",
                "source",
            ),
            (
                json!({"mode": "refinement", "prompt": "x", "source": {"generation_id": "nope", "option_number": 1, "version_number": 1}}),
                "invalid_parameter",
                "source.generation_id",
            ),
            (
                json!({"mode": "refinement", "prompt": "x", "source": {"generation_id": Uuid::nil(), "version_number": 1}}),
                "missing_parameter",
                "source.option_number",
            ),
            (
                json!({"mode": "refinement", "prompt": "x", "source": {"generation_id": Uuid::nil(), "option_number": 0, "version_number": 1}}),
                "invalid_parameter",
                "source.option_number",
            ),
            (
                json!({"mode": "refinement", "prompt": "x", "source": {"generation_id": Uuid::nil(), "option_number": 1}}),
                "missing_parameter",
                "source.version_number",
            ),
        ];
        for (body, code, param) in cases {
            assert_eq!(
                param_of(body.clone()),
                (code.to_owned(), Some(param.to_owned())),
                "{body}"
            );
        }
        assert_eq!(param_of(json!([1, 2])).0, "invalid_json");
        let long = "x".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            param_of(json!({"mode": "initial", "prompt": long})),
            ("invalid_parameter".into(), Some("prompt".into()))
        );
    }
}
