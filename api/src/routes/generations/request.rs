//! The body of `POST /generations`: the documented request types, parsed with serde, and
//! their conversion into a domain [`GenerationRequest`].

use procmap_core::domain::{
    GenerationRequest, Language, Prompt, RefinementSource, LANGUAGES, MAX_BPMN_XML_BYTES,
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

use crate::{
    error::ApiError,
    http::{
        body::{at_least_one, optional_at_least_one, uuid},
        deserialize, FromJson,
    },
};

/// The body of `POST /api/v1/process-maps/generations`: one shape per `mode`. Each mistake is
/// reported with its `param`, and unknown fields are refused, so a typo such as `promt` is
/// caught.
// The serde attributes here and on `RefinementRequest` describe the shape for the OpenAPI
// document; `FromJson` below parses it: `mode` picks the shape, and serde parses the rest.
#[derive(Debug, ToSchema)]
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
#[derive(Debug, ToSchema)]
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

impl FromJson for CreateGeneration {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        let Value::Object(mut fields) = value else {
            return Err(ApiError::InvalidJson(
                "the body must be a JSON object".into(),
            ));
        };
        match fields.get("mode") {
            None | Some(Value::Null) => Err(ApiError::missing("mode")),
            Some(Value::String(mode)) if mode == "initial" => {
                Ok(Self::Initial(deserialize(Value::Object(fields), "")?))
            }
            Some(Value::String(mode)) if mode == "refinement" => {
                let source = fields.remove("source");
                let head: RefinementHead = deserialize(Value::Object(fields), "")?;
                Ok(Self::Refinement(RefinementRequest {
                    mode: head.mode,
                    prompt: head.prompt,
                    language: head.language,
                    source: source_of(source)?,
                }))
            }
            Some(Value::String(other)) => Err(ApiError::invalid(
                "mode",
                format!("mode must be \"initial\" or \"refinement\", not {other:?}"),
            )),
            Some(_) => Err(ApiError::invalid("mode", "mode must be a string")),
        }
    }
}

/// A refinement's fields but its source, which has shapes of its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefinementHead {
    mode: RefinementMode,
    prompt: String,
    #[serde(default)]
    language: Option<String>,
}

impl CreateGeneration {
    /// The request in domain terms: the prompt and language checked, the language's default
    /// applied.
    pub fn into_request(self) -> Result<GenerationRequest, ApiError> {
        match self {
            Self::Initial(request) => Ok(GenerationRequest::Initial {
                prompt: prompt(&request.prompt)?,
                language: language(request.language.as_deref())?,
            }),
            Self::Refinement(request) => {
                let prompt = prompt(&request.prompt)?;
                // A refinement keeps the source's language, but a wrong one is still a mistake.
                language(request.language.as_deref())?;
                Ok(GenerationRequest::Refinement {
                    prompt,
                    source: request.source,
                })
            }
        }
    }
}

/// Parses a body into a domain request; what the handler's extractor and conversion do.
pub fn parse(body: &Value) -> Result<GenerationRequest, ApiError> {
    CreateGeneration::from_json(body.clone())?.into_request()
}

pub fn prompt(text: &str) -> Result<Prompt, ApiError> {
    Prompt::parse(text).map_err(|e| match e {
        procmap_core::domain::InvalidPrompt::Empty => ApiError::MissingParameter {
            param: "prompt".into(),
            message: e.to_string(),
        },
        _ => ApiError::invalid("prompt", e.to_string()),
    })
}

pub fn language(name: Option<&str>) -> Result<Language, ApiError> {
    name.map_or(Ok(Language::default()), |name| {
        Language::parse(name).map_err(|e| ApiError::invalid("language", e.to_string()))
    })
}

/// A stored option's version, named by its numbers.
#[derive(Deserialize)]
struct StoredSource {
    #[serde(deserialize_with = "uuid")]
    generation_id: Uuid,
    #[serde(deserialize_with = "at_least_one")]
    option_number: i32,
    #[serde(deserialize_with = "at_least_one")]
    version_number: i32,
}

/// A version of a stored diagram; its latest when no number is given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagramSource {
    #[serde(deserialize_with = "uuid")]
    diagram_id: Uuid,
    #[serde(default, deserialize_with = "optional_at_least_one")]
    version_number: Option<i32>,
}

/// A diagram sent inline.
#[derive(Deserialize)]
struct InlineSource {
    bpmn_xml: String,
}

/// The `source` of a refinement. Which keys it has picks its shape; serde parses that shape.
fn source_of(value: Option<Value>) -> Result<RefinementSource, ApiError> {
    let fields: Map<String, Value> = match value {
        None | Some(Value::Null) => return Err(ApiError::missing("source")),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(ApiError::invalid("source", "source must be an object")),
    };
    let shapes = ["generation_id", "diagram_id", "bpmn_xml"];
    let given: Vec<&str> = shapes
        .into_iter()
        .filter(|k| fields.contains_key(*k))
        .collect();
    match given.as_slice() {
        [] => Err(ApiError::MissingParameter {
            param: "source".into(),
            message: "source needs generation_id, option_number and version_number; or diagram_id (and version_number); or bpmn_xml".into(),
        }),
        [_, _, ..] => Err(ApiError::invalid(
            "source",
            format!("give only one of source.{}", given.join(", source.")),
        )),
        ["diagram_id"] => {
            let diagram: DiagramSource = deserialize(Value::Object(fields), "source")?;
            Ok(RefinementSource::Diagram {
                diagram_id: diagram.diagram_id,
                version_number: diagram.version_number,
            })
        }
        ["generation_id"] => {
            let stored: StoredSource = deserialize(Value::Object(fields), "source")?;
            Ok(RefinementSource::Stored {
                generation_id: stored.generation_id,
                option_number: stored.option_number,
                version_number: stored.version_number,
            })
        }
        _ => {
            let InlineSource { bpmn_xml } = deserialize(Value::Object(fields), "source")?;
            Ok(RefinementSource::Inline {
                bpmn_xml: checked_bpmn_xml("source.bpmn_xml", bpmn_xml)?,
            })
        }
    }
}

/// A BPMN document sent in field `param`: present, at most [`MAX_BPMN_XML_BYTES`], and free of
/// characters XML forbids. Whether it is BPMN is the engine's to say.
pub fn checked_bpmn_xml(param: &str, bpmn_xml: String) -> Result<String, ApiError> {
    if bpmn_xml.trim().is_empty() {
        return Err(ApiError::missing(param));
    }
    if bpmn_xml.len() > MAX_BPMN_XML_BYTES {
        return Err(ApiError::invalid(
            param,
            format!("{param} is larger than {MAX_BPMN_XML_BYTES} bytes"),
        ));
    }
    if let Some((position, c)) = character_xml_forbids(&bpmn_xml) {
        return Err(ApiError::invalid(
            param,
            format!(
                "{param} contains U+{:04X} at character {position}, which XML 1.0 does not allow",
                u32::from(c)
            ),
        ));
    }
    Ok(bpmn_xml)
}

/// The first character, and its position counted from 1, that XML 1.0 forbids anywhere in a
/// document: control characters other than tab, line feed and carriage return, and U+FFFE and
/// U+FFFF. Such a diagram is not XML, and Postgres cannot even store U+0000.
fn character_xml_forbids(text: &str) -> Option<(usize, char)> {
    text.chars().zip(1..).find_map(|(c, position)| {
        let allowed =
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
        (!allowed).then_some((position, c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use procmap_core::domain::MAX_PROMPT_CHARS;
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
                prompt: Prompt::parse("Ship it").expect("valid"),
                language: Language::ENGLISH
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

    #[test]
    fn a_source_with_a_character_xml_forbids_is_refused_and_the_character_named() {
        for (text, position, code) in [
            ("<definitions>\u{0}</definitions>", 14, "U+0000"),
            ("<a>\u{1b}[31m</a>", 4, "U+001B"),
            ("<a>\u{FFFF}</a>", 4, "U+FFFF"),
        ] {
            let body = json!({"mode": "refinement", "prompt": "x", "source": {"bpmn_xml": text}});
            let Err(ApiError::InvalidParameter { param, message }) = parse(&body) else {
                panic!("{text:?} should be refused");
            };
            assert_eq!(param, "source.bpmn_xml");
            assert!(
                message.contains(code) && message.contains(&format!("character {position}")),
                "{message}"
            );
        }
        // Tabs, line ends and any printable character are fine.
        let fine = json!({"mode": "refinement", "prompt": "x", "source": {"bpmn_xml": "<a>\tZürich\r\n</a>"}});
        assert!(parse(&fine).is_ok());
    }
}
