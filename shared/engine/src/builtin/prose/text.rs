//! Splitting a prompt into units (list items or sentences), and reading its title and the
//! "from … to …" that names where the process starts and ends.

use crate::builtin::wording::{capitalise, clean_label, strip_prefix_ci};

pub(super) fn split_ci(text: &str, sep: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    // Lowercasing can change byte lengths outside ASCII; only split where offsets still agree.
    if lower.len() != text.len() {
        return vec![text.to_owned()];
    }
    while let Some(i) = lower[start..].find(sep) {
        out.push(text[start..start + i].to_owned());
        start += i + sep.len();
    }
    out.push(text[start..].to_owned());
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

pub(super) fn remove_phrases(text: &str, phrases: &[&str]) -> String {
    let mut out = text.to_owned();
    for p in phrases {
        let parts = split_ci(&out, p);
        out = parts.join(" ");
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches([',', ' '])
        .to_owned()
}

/// Splits a description into units: list items when it is a list, sentences otherwise.
pub(super) fn split_units(prompt: &str) -> Vec<String> {
    let lines: Vec<&str> = prompt
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let item = |l: &str| list_item(l).is_some();
    if lines.iter().filter(|l| item(l)).count() >= 2 {
        let mut units: Vec<String> = Vec::new();
        for line in lines {
            match list_item(line) {
                Some(text) => units.push(text.to_owned()),
                // A continuation line belongs to the item above; text before the list is a title.
                None => {
                    if let Some(last) = units.last_mut() {
                        last.push(' ');
                        last.push_str(line);
                    }
                }
            }
        }
        return units.iter().flat_map(|u| split_sentences(u)).collect();
    }
    split_sentences(&lines.join(" "))
}

/// The text of a list item ("1. ", "2) ", "- ", "* ", "Step 3: "), if the line is one.
fn list_item(line: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "• ", "– "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(rest.trim());
        }
    }
    let rest = strip_prefix_ci(line, "step").unwrap_or(line);
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let after = &rest[digits..];
        for mark in [". ", ") ", ": ", " - "] {
            if let Some(text) = after.strip_prefix(mark) {
                return Some(text.trim());
            }
        }
    }
    None
}

fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        current.push(c);
        let at_break = matches!(c, '.' | '!' | '?' | ';')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if at_break && !ends_with_abbreviation(&current) {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// "e.g." and "i.e." are not sentence ends. Only the tail is looked at: lowercasing the whole
/// sentence at every character made splitting a long prompt quadratic.
fn ends_with_abbreviation(text: &str) -> bool {
    text.get(text.len().saturating_sub(4)..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case("e.g.") || tail.eq_ignore_ascii_case("i.e."))
}

/// "… from intake to resolution" → ("Intake", "Resolution").
pub(super) fn from_to(prompt: &str) -> (Option<String>, Option<String>) {
    let lower = prompt.to_lowercase();
    let Some(from) = lower.find(" from ") else {
        return (None, None);
    };
    let Some(to_rel) = lower[from + 6..].find(" to ") else {
        return (None, None);
    };
    let to = from + 6 + to_rel;
    if lower.len() != prompt.len() {
        return (None, None);
    }
    let start = &prompt[from + 6..to];
    let end_text = &prompt[to + 4..];
    let end = end_text.split(['.', ',', ';', '\n']).next().unwrap_or("");
    let short = |s: &str| {
        (!s.trim().is_empty() && s.split_whitespace().count() <= 4)
            .then(|| capitalise(&clean_label(s)))
    };
    (short(start), short(end))
}

/// A short name for the process: "Map the customer support ticket triage process …" →
/// "Customer support ticket triage process".
pub(super) fn title(prompt: &str) -> String {
    let first = split_sentences(prompt.lines().next().unwrap_or(""))
        .into_iter()
        .next()
        .unwrap_or_default();
    let lower = first.to_lowercase();
    let mut text = first.as_str();
    for verb in [
        "map ",
        "model ",
        "draw ",
        "diagram ",
        "describe ",
        "create ",
        "show ",
    ] {
        if lower.starts_with(verb) {
            text = &first[verb.len()..];
        }
    }
    if let Some(i) = text.to_lowercase().find(" from ") {
        text = &text[..i];
    }
    let cleaned = clean_label(text);
    let short: Vec<&str> = cleaned.split_whitespace().take(8).collect();
    let name = capitalise(&short.join(" "));
    if name.is_empty() {
        "Process".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_their_stops_but_not_inside_e_g_or_i_e() {
        assert_eq!(
            split_sentences("Check stock, e.g. the shelf. Pack it, I.E. box it! Prüfe alles? Done"),
            vec![
                "Check stock, e.g. the shelf.",
                "Pack it, I.E. box it!",
                "Prüfe alles?",
                "Done"
            ]
        );
        assert_eq!(split_sentences("Über."), vec!["Über."]);
        assert!(!ends_with_abbreviation("Ü"));
    }
}
