//! Who may do what: the owner a key acts for, and the scopes it holds (seed 001).

use std::fmt;

use serde::Serialize;

/// A scope of seed 001: what a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    #[serde(rename = "diagrams:read")]
    DiagramsRead,
    #[serde(rename = "diagrams:write")]
    DiagramsWrite,
    #[serde(rename = "folders:read")]
    FoldersRead,
    #[serde(rename = "folders:write")]
    FoldersWrite,
    #[serde(rename = "generate")]
    Generate,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::DiagramsRead,
        Scope::DiagramsWrite,
        Scope::FoldersRead,
        Scope::FoldersWrite,
        Scope::Generate,
    ];

    /// The scope's name, as keys list it and seed 001 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::DiagramsRead => "diagrams:read",
            Scope::DiagramsWrite => "diagrams:write",
            Scope::FoldersRead => "folders:read",
            Scope::FoldersWrite => "folders:write",
            Scope::Generate => "generate",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Scope {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Whose diagrams and generations a key acts on: a person's or an organisation's. Trimmed,
/// 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Owner(String);

/// The longest owner accepted, in characters.
pub const MAX_OWNER_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the owner must be 1 to {MAX_OWNER_CHARS} characters")]
pub struct InvalidOwner;

impl Owner {
    pub fn parse(owner: &str) -> Result<Owner, InvalidOwner> {
        let owner = owner.trim();
        if owner.is_empty() || owner.chars().count() > MAX_OWNER_CHARS {
            return Err(InvalidOwner);
        }
        Ok(Owner(owner.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The data a key acts on: its owner's live data or its owner's test data, never both. Seed 001
/// sends live keys to production and test keys to staging, so a test key neither sees nor
/// changes what a live key made, and the reverse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Workspace {
    pub owner: Owner,
    pub livemode: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_back_by_their_names() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("admin"), None);
    }

    #[test]
    fn an_owner_is_trimmed_and_bounded() {
        assert_eq!(
            Owner::parse(" acme ").map(|o| o.to_string()),
            Ok("acme".into())
        );
        assert_eq!(Owner::parse("  "), Err(InvalidOwner));
        assert_eq!(Owner::parse(&"x".repeat(201)), Err(InvalidOwner));
    }
}
