//! Words: recognising verbs, and turning clauses into short labels in an analyst's style
//! ("The agent reviews the ticket" → "Review ticket").

/// Base forms of verbs that process descriptions use. A word counts as a verb only if its base
/// form is here, which keeps nouns such as "sales" or "status" from being read as verbs.
const VERBS: &[&str] = &[
    "accept",
    "acknowledge",
    "activate",
    "add",
    "adjust",
    "allocate",
    "analyse",
    "analyze",
    "announce",
    "answer",
    "apply",
    "approve",
    "archive",
    "arrange",
    "ask",
    "assemble",
    "assess",
    "assign",
    "attach",
    "attend",
    "audit",
    "authorise",
    "authorize",
    "automate",
    "award",
    "back",
    "bill",
    "book",
    "bottle",
    "brew",
    "build",
    "calculate",
    "call",
    "cancel",
    "capture",
    "categorise",
    "categorize",
    "charge",
    "check",
    "choose",
    "classify",
    "clean",
    "clear",
    "close",
    "collect",
    "communicate",
    "compare",
    "compile",
    "complete",
    "compute",
    "conduct",
    "configure",
    "confirm",
    "consolidate",
    "contact",
    "continue",
    "contract",
    "coordinate",
    "copy",
    "correct",
    "counsel",
    "create",
    "credit",
    "debit",
    "decide",
    "decline",
    "define",
    "deliver",
    "deploy",
    "design",
    "determine",
    "develop",
    "diagnose",
    "discuss",
    "dispatch",
    "dispense",
    "distribute",
    "document",
    "draft",
    "edit",
    "email",
    "enable",
    "enrol",
    "enroll",
    "enter",
    "escalate",
    "estimate",
    "evaluate",
    "examine",
    "execute",
    "explain",
    "file",
    "fill",
    "finalise",
    "finalize",
    "fix",
    "flag",
    "follow",
    "forward",
    "fulfil",
    "fulfill",
    "gather",
    "generate",
    "give",
    "grade",
    "grant",
    "greet",
    "handle",
    "harvest",
    "help",
    "hire",
    "identify",
    "implement",
    "import",
    "inform",
    "initiate",
    "inspect",
    "install",
    "interview",
    "investigate",
    "invite",
    "invoice",
    "issue",
    "keep",
    "label",
    "launch",
    "log",
    "look",
    "mail",
    "maintain",
    "make",
    "manage",
    "match",
    "measure",
    "meet",
    "merge",
    "monitor",
    "move",
    "negotiate",
    "notify",
    "obtain",
    "offer",
    "onboard",
    "open",
    "order",
    "organise",
    "organize",
    "pack",
    "package",
    "pass",
    "pay",
    "perform",
    "pick",
    "place",
    "plan",
    "post",
    "prepare",
    "present",
    "print",
    "prioritise",
    "prioritize",
    "process",
    "procure",
    "produce",
    "provide",
    "publish",
    "purchase",
    "put",
    "qualify",
    "rank",
    "rate",
    "reach",
    "read",
    "receive",
    "reconcile",
    "record",
    "refund",
    "register",
    "reject",
    "release",
    "remind",
    "remove",
    "renew",
    "repair",
    "reply",
    "report",
    "request",
    "reserve",
    "resolve",
    "respond",
    "restart",
    "restore",
    "return",
    "review",
    "revise",
    "route",
    "run",
    "save",
    "scan",
    "schedule",
    "screen",
    "select",
    "sell",
    "send",
    "set",
    "settle",
    "share",
    "shelve",
    "ship",
    "shortlist",
    "sign",
    "solve",
    "sort",
    "start",
    "stop",
    "store",
    "submit",
    "supply",
    "support",
    "take",
    "taste",
    "tell",
    "test",
    "track",
    "train",
    "transfer",
    "translate",
    "transport",
    "travel",
    "treat",
    "triage",
    "typeset",
    "update",
    "upload",
    "use",
    "validate",
    "verify",
    "visit",
    "wait",
    "welcome",
    "withdraw",
    "work",
    "write",
];

/// Irregular participles ("sent" → "send").
const IRREGULAR_PARTICIPLES: &[(&str, &str)] = &[
    ("sent", "send"),
    ("paid", "pay"),
    ("made", "make"),
    ("built", "build"),
    ("chosen", "choose"),
    ("given", "give"),
    ("taken", "take"),
    ("written", "write"),
    ("sold", "sell"),
    ("set", "set"),
    ("put", "put"),
    ("read", "read"),
    ("run", "run"),
    ("kept", "keep"),
    ("held", "hold"),
    ("done", "do"),
    ("shipped", "ship"),
    ("logged", "log"),
    ("submitted", "submit"),
    ("planned", "plan"),
    ("flagged", "flag"),
    ("filed", "file"),
];

/// The base form of a verb in the present (`reviews`, `review`, `classifies`), if it is one.
pub fn base_verb(word: &str) -> Option<&'static str> {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
    let candidates: Vec<String> = if let Some(stem) = word.strip_suffix("ies") {
        vec![format!("{stem}y"), word.to_owned()]
    } else if let Some(stem) = word.strip_suffix("es") {
        vec![
            stem.to_owned(),
            format!("{stem}e"),
            word.trim_end_matches('s').to_owned(),
            word.to_owned(),
        ]
    } else if let Some(stem) = word.strip_suffix('s') {
        vec![stem.to_owned(), word.to_owned()]
    } else {
        vec![word.to_owned()]
    };
    candidates.iter().find_map(|c| lookup(c))
}

/// The base form of a past participle (`approved`, `assigned`, `verified`, `sent`), if it is one.
pub fn participle_base(word: &str) -> Option<&'static str> {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    if let Some((_, base)) = IRREGULAR_PARTICIPLES.iter().find(|(p, _)| *p == word) {
        return lookup(base);
    }
    let stem = word.strip_suffix("ed")?;
    let mut candidates = vec![format!("{stem}e"), stem.to_owned()];
    if let Some(s) = stem.strip_suffix('i') {
        candidates.push(format!("{s}y"));
    }
    candidates.iter().find_map(|c| lookup(c))
}

fn lookup(word: &str) -> Option<&'static str> {
    VERBS.binary_search(&word).ok().map(|i| VERBS[i])
}

/// Turns a clause into a label: drops articles and filler, keeps at most eight words.
pub fn clean_label(text: &str) -> String {
    const DROP: &[&str] = &[
        "the", "a", "an", "its", "their", "his", "her", "our", "your", "any", "all", "then", "also",
    ];
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| {
                matches!(c, ',' | '.' | ';' | ':' | '"' | '(' | ')' | '!' | '?')
            })
        })
        .filter(|w| !w.is_empty() && !DROP.contains(&w.to_lowercase().as_str()))
        .take(8)
        .collect();
    words.join(" ")
}

/// Upper-cases the first letter.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Strips a leading word or phrase, ignoring case, when it stands alone ("then" but not "thence").
pub fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &text[prefix.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_alphanumeric() => None,
        Some(_) => Some(rest.trim_start_matches([',', ' ', ':'])),
    }
}

/// Whether a (lower-cased) clause opens a condition: "if …", "in case …", "should …".
pub fn is_conditional_start(lower: &str) -> bool {
    [
        "if ",
        "in case ",
        "in the event that ",
        "should ",
        "whether ",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verb_list_is_sorted_for_binary_search() {
        assert!(
            VERBS.windows(2).all(|w| w[0] < w[1]),
            "VERBS must stay sorted and unique"
        );
    }

    #[test]
    fn third_person_forms_reduce_to_their_base() {
        assert_eq!(base_verb("reviews"), Some("review"));
        assert_eq!(base_verb("classifies"), Some("classify"));
        assert_eq!(base_verb("processes"), Some("process"));
        assert_eq!(base_verb("approves"), Some("approve"));
        assert_eq!(base_verb("dispatches"), Some("dispatch"));
        assert_eq!(base_verb("sales"), None);
        assert_eq!(base_verb("status"), None);
    }

    #[test]
    fn participles_reduce_to_their_base() {
        assert_eq!(participle_base("approved"), Some("approve"));
        assert_eq!(participle_base("assigned"), Some("assign"));
        assert_eq!(participle_base("verified"), Some("verify"));
        assert_eq!(participle_base("sent"), Some("send"));
        assert_eq!(participle_base("submitted"), Some("submit"));
        assert_eq!(participle_base("happy"), None);
    }

    #[test]
    fn labels_lose_articles_and_stay_short() {
        assert_eq!(clean_label("review the ticket"), "review ticket");
        assert_eq!(
            clean_label("one two three four five six seven eight nine ten")
                .split(' ')
                .count(),
            8
        );
    }

    #[test]
    fn prefixes_match_whole_words_only() {
        assert_eq!(strip_prefix_ci("Then ship it", "then"), Some("ship it"));
        assert_eq!(strip_prefix_ci("Thence", "then"), None);
        assert_eq!(
            strip_prefix_ci("Otherwise, reject", "otherwise"),
            Some("reject")
        );
    }
}
