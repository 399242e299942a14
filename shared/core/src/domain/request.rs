//! What a client asks for, parsed once at the API's edge: the prompt, its language, and the
//! diagram a refinement starts from. After parsing these cannot hold invalid values, so the
//! worker never re-validates what it reads back.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;
/// Largest inline `bpmn_xml` accepted, in bytes.
pub const MAX_BPMN_XML_BYTES: usize = 2 * 1024 * 1024;

/// Languages a prompt may be written in; labels follow the prompt's own words.
pub const LANGUAGES: &[&str] = &[
    "english",
    "german",
    "french",
    "spanish",
    "portuguese",
    "italian",
    "dutch",
    "polish",
    "swedish",
    "danish",
    "norwegian",
    "finnish",
    "czech",
    "turkish",
    "japanese",
    "chinese",
    "korean",
];

/// A process description or a follow-up: trimmed, 1 to [`MAX_PROMPT_CHARS`] characters, with
/// no control characters other than whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prompt(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrompt {
    #[error("prompt must not be empty")]
    Empty,
    #[error("prompt is longer than {MAX_PROMPT_CHARS} characters")]
    TooLong,
    #[error("prompt contains control characters")]
    ControlCharacters,
}

impl Prompt {
    pub fn parse(text: &str) -> Result<Prompt, InvalidPrompt> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidPrompt::Empty);
        }
        if text.chars().count() > MAX_PROMPT_CHARS {
            return Err(InvalidPrompt::TooLong);
        }
        if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(InvalidPrompt::ControlCharacters);
        }
        Ok(Prompt(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Prompt {
    type Error = InvalidPrompt;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Prompt::parse(&text)
    }
}

impl From<Prompt> for String {
    fn from(prompt: Prompt) -> String {
        prompt.0
    }
}

/// One of [`LANGUAGES`]; `english` unless the client says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(&'static str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language must be one of: {}", LANGUAGES.join(", "))]
pub struct UnknownLanguage;

impl Language {
    pub const ENGLISH: Language = Language("english");

    /// A language by name, in any case.
    pub fn parse(name: &str) -> Result<Language, UnknownLanguage> {
        let name = name.to_lowercase();
        LANGUAGES
            .iter()
            .find(|l| **l == name)
            .map(|l| Language(l))
            .ok_or(UnknownLanguage)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for Language {
    fn default() -> Self {
        Language::ENGLISH
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Language::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// The diagram a refinement starts from: a stored option's version, or a diagram sent inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RefinementSource {
    /// A version stored by an earlier generation of the same owner.
    Stored {
        generation_id: Uuid,
        #[schema(minimum = 1)]
        option_number: i32,
        #[schema(minimum = 1)]
        version_number: i32,
    },
    /// A version of one of the owner's diagrams: the latest when `version_number` is left out.
    /// The API stores the version it found, so the worker refines what the client saw.
    Diagram {
        diagram_id: Uuid,
        #[schema(minimum = 1)]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version_number: Option<i32>,
    },
    /// A diagram sent inline, possibly drawn in another tool.
    Inline {
        /// BPMN 2.0 XML from any tool, at most 2 MiB.
        #[schema(min_length = 1, max_length = 2097152)]
        bpmn_xml: String,
    },
}

/// What a generation was asked to do. Maps one-to-one to `generations.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Initial,
    Refinement,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Refinement => "refinement",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "initial" => Some(Self::Initial),
            "refinement" => Some(Self::Refinement),
            _ => None,
        }
    }
}

/// A validated generation request, as stored in `generations.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum GenerationRequest {
    Initial {
        prompt: Prompt,
        language: Language,
    },
    Refinement {
        prompt: Prompt,
        source: RefinementSource,
    },
}

impl GenerationRequest {
    pub fn mode(&self) -> Mode {
        match self {
            Self::Initial { .. } => Mode::Initial,
            Self::Refinement { .. } => Mode::Refinement,
        }
    }

    pub fn prompt(&self) -> &Prompt {
        match self {
            Self::Initial { prompt, .. } | Self::Refinement { prompt, .. } => prompt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_is_trimmed_and_checked() {
        assert_eq!(
            Prompt::parse(" Ship it ").map(String::from),
            Ok("Ship it".into())
        );
        assert_eq!(Prompt::parse("  \n "), Err(InvalidPrompt::Empty));
        assert_eq!(
            Prompt::parse(&"x".repeat(MAX_PROMPT_CHARS + 1)),
            Err(InvalidPrompt::TooLong)
        );
        assert_eq!(
            Prompt::parse("a\u{7}b"),
            Err(InvalidPrompt::ControlCharacters)
        );
    }

    #[test]
    fn a_language_is_one_of_the_list_in_any_case() {
        assert_eq!(
            Language::parse("German").map(Language::as_str),
            Ok("german")
        );
        assert_eq!(Language::parse("klingon"), Err(UnknownLanguage));
        let stored = serde_json::to_string(&Language::ENGLISH).expect("serialises");
        assert_eq!(stored, r#""english""#);
    }
}
