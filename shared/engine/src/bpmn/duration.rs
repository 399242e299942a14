//! A timer's name as an ISO 8601 duration, so that the timer a diagram draws also runs: "2 days"
//! is `P2D`, "48 hours" `PT48H`. Engines (Camunda 7 and 8) refuse a timer without one.

/// The duration a timer's name states ("2 days", "Wait 30 minutes", "one week"), if it states
/// one plainly: an amount followed by a unit.
pub fn iso_8601(name: &str) -> Option<String> {
    let words: Vec<String> = name
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    words.windows(2).find_map(|pair| {
        let amount = amount(&pair[0])?;
        let unit = pair[1].as_str();
        let letter = [
            ("minute", "TM"),
            ("min", "TM"),
            ("hour", "TH"),
            ("day", "D"),
            ("week", "W"),
            ("month", "M"),
            ("year", "Y"),
        ]
        .into_iter()
        .find(|(prefix, _)| unit.starts_with(prefix))
        .map(|(_, letter)| letter)?;
        Some(match letter.strip_prefix('T') {
            Some(time) => format!("PT{amount}{time}"),
            None => format!("P{amount}{letter}"),
        })
    })
}

fn amount(word: &str) -> Option<u32> {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    match word {
        "a" | "an" => Some(1),
        _ => word.parse().ok().or_else(|| {
            WORDS
                .iter()
                .position(|w| *w == word)
                .and_then(|i| u32::try_from(i + 1).ok())
        }),
    }
    .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::iso_8601;

    #[test]
    fn a_plainly_stated_duration_reads_as_iso_8601() {
        assert_eq!(iso_8601("2 days").as_deref(), Some("P2D"));
        assert_eq!(iso_8601("48 hours").as_deref(), Some("PT48H"));
        assert_eq!(iso_8601("Wait 30 minutes").as_deref(), Some("PT30M"));
        assert_eq!(iso_8601("one week").as_deref(), Some("P1W"));
        assert_eq!(iso_8601("an hour").as_deref(), Some("PT1H"));
        assert_eq!(iso_8601("3 months").as_deref(), Some("P3M"));
    }

    #[test]
    fn a_name_that_states_no_duration_has_none() {
        assert_eq!(iso_8601("Every Monday"), None);
        assert_eq!(iso_8601("Deadline"), None);
        assert_eq!(iso_8601("0 days"), None);
        assert_eq!(iso_8601("days 2"), None);
    }
}
