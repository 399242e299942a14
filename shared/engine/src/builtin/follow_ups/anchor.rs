//! Where a follow-up applies: the node a phrase names, and the phrase after a marker word.

use crate::model::ProcessModel;

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

/// Finds the node a phrase names: the one sharing the most words with it, tasks first.
pub fn find_node(model: &ProcessModel, phrase: &str) -> Option<String> {
    let words: Vec<String> = phrase
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(str::to_lowercase)
        .filter(|w| w.len() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .collect();
    if words.is_empty() {
        return None;
    }
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    model
        .nodes
        .iter()
        .filter(|n| !n.name.is_empty())
        .map(|n| {
            let name = n.name.to_lowercase();
            let name_words: Vec<String> = name
                .split(|c: char| !c.is_alphanumeric() && c != '-')
                .map(stem)
                .collect();
            let score = words
                .iter()
                .filter(|w| name_words.contains(&stem(w)))
                .count()
                * 2
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
