//! Where a follow-up applies: the node a phrase names, and the phrase after a marker word.

use crate::model::{Node, ProcessModel};

/// The phrase after a marker word: "… after Log ticket" → "Log ticket".
pub(super) fn phrase_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let lower = text.to_lowercase();
    let needle = format!(" {marker} ");
    let i = lower.find(&needle)?;
    Some(text[i + needle.len()..].trim())
}

const STOPWORDS: &[&str] = &[
    "the", "a", "an", "step", "task", "activity", "node", "and", "for", "with", "from", "into",
    "lane", "of", "to",
];

/// The words of a phrase that can name a node, lower case and cut to their first five letters,
/// so that "approval" and "approve" meet.
fn significant_words(phrase: &str) -> Vec<String> {
    phrase
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(str::to_lowercase)
        .filter(|w| w.len() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| w.chars().take(5).collect())
        .collect()
}

/// The nodes a phrase may mean when it is not a node's exact name: those whose name's words
/// are all in the phrase ("the Check payment task"), or that hold all of the phrase's words
/// ("payment check"). Sharing one word is not enough: "Refund payment" is not "Check payment".
pub fn nodes_meant_by<'a>(model: &'a ProcessModel, phrase: &str) -> Vec<&'a Node> {
    let words = significant_words(phrase);
    if words.is_empty() {
        return Vec::new();
    }
    model
        .nodes
        .iter()
        .filter(|n| {
            let name = significant_words(&n.name);
            !name.is_empty()
                && (name.iter().all(|w| words.contains(w))
                    || words.iter().all(|w| name.contains(w)))
        })
        .collect()
}

/// Finds the node a phrase names: the one whose whole name it is, else the one sharing the
/// most words with it, tasks first. The whole name comes first because short names ("Task A",
/// "Task B") are made of words too common to tell nodes apart.
pub fn find_node(model: &ProcessModel, phrase: &str) -> Option<String> {
    let spaced = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let exact = spaced(phrase.trim_end_matches('.'));
    if let Some(node) = model
        .nodes
        .iter()
        .find(|n| !n.name.is_empty() && spaced(&n.name) == exact)
    {
        return Some(node.id.clone());
    }
    let words = significant_words(phrase);
    if words.is_empty() {
        return None;
    }
    model
        .nodes
        .iter()
        .filter(|n| !n.name.is_empty())
        .map(|n| {
            let name_words = significant_words(&n.name);
            let score = words.iter().filter(|w| name_words.contains(w)).count() * 2
                + usize::from(n.kind.is_activity());
            (score, n)
        })
        .filter(|(score, _)| *score >= 2)
        .max_by_key(|(score, n)| {
            (
                *score,
                std::cmp::Reverse(model.nodes.iter().position(|m| m.id == n.id)),
            )
        })
        .map(|(_, n)| n.id.clone())
}
