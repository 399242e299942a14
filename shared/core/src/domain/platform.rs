//! The names and contexts of the diagram platform (seed 001), parsed once at the API's edge.

use serde::{Deserialize, Serialize};

/// Longest diagram or folder name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest folder context, in characters.
pub const MAX_CONTEXT_CHARS: usize = 4_000;
/// Deepest nesting of folders: a top-level folder is at depth 1.
pub const MAX_FOLDER_DEPTH: i32 = 10;

/// A diagram's or folder's name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("must be one line with no control characters")]
    ControlCharacters,
}

impl Name {
    pub fn parse(text: &str) -> Result<Name, InvalidName> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidName::Empty);
        }
        if text.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidName::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(InvalidName::ControlCharacters);
        }
        Ok(Name(text.to_owned()))
    }

    /// A name made from free text, such as a prompt: its first sentence, without the full
    /// stop that ends it, cut to fit. "Map the claims process. Start when…" is named "Map the
    /// claims process".
    pub fn from_text(text: &str) -> Option<Name> {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        // A sentence ends at '.', '?' or '!' followed by a space; "e.g." and "3.5" do not end one.
        let end = line
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, '.' | '?' | '!')
                    && line[i + 1..].starts_with(' ')
                    && line[..i]
                        .chars()
                        .rev()
                        .take_while(|c| c.is_alphanumeric())
                        .count()
                        > 2
            })
            .map_or(line.len(), |(i, c)| if c == '.' { i } else { i + 1 });
        let sentence = line[..end]
            .trim_end()
            .strip_suffix('.')
            .unwrap_or(&line[..end]);
        let name: String = sentence
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME_CHARS)
            .collect();
        Name::parse(&name).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = InvalidName;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Name::parse(&text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

/// What steers the generation of the diagrams in a folder: free text of at most
/// [`MAX_CONTEXT_CHARS`] characters, trimmed. Empty text is no context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FolderContext(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {MAX_CONTEXT_CHARS} characters")]
pub struct TooLongContext;

impl FolderContext {
    /// `None` for text that is only whitespace.
    pub fn parse(text: &str) -> Result<Option<FolderContext>, TooLongContext> {
        let text = text.trim();
        if text.chars().count() > MAX_CONTEXT_CHARS {
            return Err(TooLongContext);
        }
        Ok((!text.is_empty()).then(|| FolderContext(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FolderContext {
    type Error = TooLongContext;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        FolderContext::parse(&text)?.ok_or(TooLongContext)
    }
}

impl From<FolderContext> for String {
    fn from(context: FolderContext) -> String {
        context.0
    }
}

/// One folder's context as it steered a generation. A generation records the contexts of its
/// diagram's folder and that folder's ancestors, outermost first, so its owner can see why it
/// came out as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteeringContext {
    pub folder_id: uuid::Uuid,
    pub folder_name: String,
    pub context: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_trimmed_line() {
        assert_eq!(
            Name::parse("  Claims ").map(String::from),
            Ok("Claims".into())
        );
        assert_eq!(Name::parse(" "), Err(InvalidName::Empty));
        assert_eq!(Name::parse("a\nb"), Err(InvalidName::ControlCharacters));
        assert_eq!(Name::parse(&"x".repeat(201)), Err(InvalidName::TooLong));
        assert_eq!(
            Name::from_text("\n  Ship the order.\nThen bill it.").map(String::from),
            Some("Ship the order".into())
        );
        let named = |text: &str| Name::from_text(text).map(String::from);
        assert_eq!(
            named("Map the claims process. Start when a claim arrives.").as_deref(),
            Some("Map the claims process")
        );
        assert_eq!(
            named("Is the order valid? Then ship it.").as_deref(),
            Some("Is the order valid?")
        );
        assert_eq!(
            named("Check the order, e.g. its total. Then ship it.").as_deref(),
            Some("Check the order, e.g. its total")
        );
        assert_eq!(named("Ship it").as_deref(), Some("Ship it"));
        assert_eq!(named(" . "), None);
    }

    #[test]
    fn a_context_is_bounded_and_blank_is_none() {
        assert_eq!(FolderContext::parse("   "), Ok(None));
        assert!(FolderContext::parse(&"x".repeat(MAX_CONTEXT_CHARS)).is_ok());
        assert_eq!(
            FolderContext::parse(&"x".repeat(MAX_CONTEXT_CHARS + 1)),
            Err(TooLongContext)
        );
    }
}
