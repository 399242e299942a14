//! Folder context for the builtin modeler: what it can use of the text that steers a diagram's
//! generation.
//!
//! It has no language understanding, so it uses two things it can read reliably:
//! - **Roles.** A context names roles in a list ("Roles: agent, specialist and manager") or as
//!   the actors of sentences ("The manager approves refunds."). An actor of the prompt that is
//!   the tail of such a role takes the role's full name ("agent" → "Support agent"), so the
//!   diagrams of a folder share lane names.
//! - **Duties.** A step of the prompt that names no actor goes to the role whose duty in the
//!   context it matches: the same verb and a shared object word ("Approve the refund" → the
//!   manager, who "approves refunds"), rather than to the actor of the step before it. The
//!   prose reader asks [`Steering::duties`] as it reads.

use super::prose::{self, Description, Duties, Step};
use super::wording::capitalise;

/// What the builtin modeler took from a diagram's folder contexts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steering {
    /// Role names, as the context writes them (singular, capitalised).
    roles: Vec<String>,
    /// What each role does in the context: the role and its task's words.
    duties: Vec<(String, Vec<String>)>,
}

/// Lines that list roles: "Roles: a, b and c".
const ROLE_LISTS: &[&str] = &["roles:", "actors:", "teams:", "departments:", "people:"];

impl Steering {
    /// Reads the contexts, outermost first; a later (inner) context's role comes first, so the
    /// nearest folder wins when two name the same role differently.
    pub fn read(contexts: &[String]) -> Steering {
        let mut steering = Steering::default();
        for context in contexts.iter().rev() {
            for line in context.lines() {
                let lower = line.trim().to_lowercase();
                if let Some(prefix) = ROLE_LISTS.iter().find(|p| lower.starts_with(*p)) {
                    let list = &line.trim()[prefix.len()..];
                    for name in list
                        .split([',', ';'])
                        .flat_map(|part| part.split(" and "))
                        .map(|name| name.trim().trim_end_matches('.'))
                        .filter(|name| !name.is_empty())
                    {
                        steering.add_role(name);
                    }
                }
            }
            let described = prose::parse(context);
            steering.read_duties(&described.steps);
        }
        steering
    }

    fn add_role(&mut self, name: &str) -> String {
        let name = capitalise(&singular_phrase(name));
        if !self.roles.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
            self.roles.push(name.clone());
        }
        name
    }

    fn read_duties(&mut self, steps: &[Step]) {
        for step in steps {
            match step {
                Step::Task {
                    actor: Some(actor),
                    label,
                    ..
                } => {
                    let role = self.add_role(actor);
                    self.duties.push((role, words(label)));
                }
                Step::Decision { yes, no, .. } => {
                    self.read_duties(yes);
                    self.read_duties(no);
                }
                Step::Parallel { branches } => branches.iter().for_each(|b| self.read_duties(b)),
                Step::Loop { body, .. } => self.read_duties(body),
                Step::Task { .. } | Step::End { .. } => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// What the prose reader asks about a step that names no actor; `None` when the context
    /// names no duties.
    pub fn duties(&self) -> Option<Duties> {
        if self.duties.is_empty() {
            return None;
        }
        let steering = self.clone();
        Some(Box::new(move |label: &str| {
            steering.duty_for(label).map(str::to_owned)
        }))
    }

    /// Names the description's actors as the context does.
    pub fn apply(&self, description: &mut Description) {
        if self.is_empty() {
            return;
        }
        self.apply_to(&mut description.steps);
    }

    fn apply_to(&self, steps: &mut [Step]) {
        for step in steps {
            match step {
                Step::Task {
                    actor: Some(name), ..
                } => {
                    if let Some(role) = self.role_for(name) {
                        *name = role.to_owned();
                    }
                }
                Step::Task { actor: None, .. } => {}
                Step::Decision { yes, no, .. } => {
                    self.apply_to(yes);
                    self.apply_to(no);
                }
                Step::Parallel { branches } => branches.iter_mut().for_each(|b| self.apply_to(b)),
                Step::Loop { body, .. } => self.apply_to(body),
                Step::End { .. } => {}
            }
        }
    }

    /// The role `actor` is short for: one whose name ends with the actor's words.
    fn role_for(&self, actor: &str) -> Option<&str> {
        let actor: Vec<String> = singular_phrase(actor)
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if actor.is_empty() {
            return None;
        }
        self.roles
            .iter()
            .find(|role| {
                let role: Vec<String> = role.split_whitespace().map(str::to_lowercase).collect();
                role.ends_with(&actor)
            })
            .map(String::as_str)
    }

    /// The role whose duty `label` matches: the same verb and a shared word after it.
    fn duty_for(&self, label: &str) -> Option<&str> {
        let label = words(label);
        let (verb, object) = label.split_first()?;
        self.duties
            .iter()
            .find(|(_, duty)| {
                duty.split_first().is_some_and(|(duty_verb, duty_object)| {
                    duty_verb == verb && duty_object.iter().any(|w| object.contains(w))
                })
            })
            .map(|(role, _)| role.as_str())
    }
}

/// A task's words, lower case and singular, without articles: what duties are compared by.
fn words(label: &str) -> Vec<String> {
    label
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !matches!(w.as_str(), "the" | "a" | "an" | "of" | "to" | "for" | "by"))
        .map(|w| singular(&w))
        .collect()
}

/// A phrase with its last word made singular: "support agents" → "support agent".
fn singular_phrase(phrase: &str) -> String {
    let phrase = phrase.trim();
    let phrase = phrase
        .strip_prefix("the ")
        .or_else(|| phrase.strip_prefix("The "))
        .unwrap_or(phrase);
    match phrase.rsplit_once(' ') {
        Some((head, last)) => format!("{head} {}", singular(last)),
        None => singular(phrase),
    }
}

/// English plurals the way role names and task objects use them: "agents", "refunds",
/// "approvals"; "process", "status" and short words are left alone.
fn singular(word: &str) -> String {
    let lower = word.to_lowercase();
    if lower.len() > 3 && lower.ends_with('s') && !lower.ends_with("ss") && !lower.ends_with("us") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actors(description: &Description) -> Vec<Option<String>> {
        description
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Task { actor, .. } => Some(actor.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn roles_come_from_lists_and_sentences() {
        let steering = Steering::read(&[
            "Roles: support agents, specialist and Team Manager.".into(),
            "The finance team pays the invoices.".into(),
        ]);
        assert_eq!(
            steering.roles,
            [
                "Finance team",
                "Support agent",
                "Specialist",
                "Team Manager"
            ]
        );
    }

    #[test]
    fn an_actor_takes_the_contexts_name_and_a_step_without_one_its_duty() {
        let steering = Steering::read(&[
            "Roles: support agent, support engineer.".into(),
            "The manager approves refunds.".into(),
        ]);
        let mut description = prose::parse_with(
            "The agent logs the ticket. Then approve the refund. The engineer fixes the issue. Then archive the ticket.",
            steering.duties(),
        );
        steering.apply(&mut description);
        // The last step names no actor and matches no duty: it stays with the one before it.
        assert_eq!(
            actors(&description),
            [
                Some("Support agent".into()),
                Some("Manager".into()),
                Some("Support engineer".into()),
                Some("Support engineer".into()),
            ]
        );
    }

    #[test]
    fn a_different_role_with_the_same_last_word_is_left_alone() {
        let steering = Steering::read(&["Roles: support agent.".into()]);
        let mut description =
            prose::parse("The sales agent calls the customer. The sales agent files the order.");
        steering.apply(&mut description);
        assert_eq!(actors(&description)[0].as_deref(), Some("Sales agent"));
    }
}
