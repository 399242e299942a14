//! The copilot's side of a chat turn (seed 002): the steps it takes on one diagram, the reply
//! it writes, and the diff of the diagram it proposes.
//!
//! A turn is in two parts, so a worker can show the first while a model works on the second:
//! [`inspect`] reads the diagram (and the folders' context) and is instant; [`modify`] edits it
//! with the builtin modeler, or lets a language model run a loop of at most [`MAX_STEPS`] tool
//! calls ([`crate::llm::copilot`]). Each step is sent on an [`Events`] channel as it happens,
//! for the client's stream. There is no database here: the worker stores what these answer.
//!
//! The conversation is context. The builtin modeler reads a follow-up against the previous turn:
//! "it" is what that turn added or changed, and a leading "no," takes the correction as an edit
//! of that turn's proposal. A language model is given the earlier messages, newest last, cut to
//! [`HISTORY_BUDGET`] characters.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bpmn::{self, reader, source::SourceDiagram, vocabulary::element_name};
use crate::builtin::follow_ups::{find_node, UNDERSTOOD};
use crate::error::{EngineError, Failure};
use crate::llm::{
    copilot::Action, operations, prompts, wire::ProcessSpec, Dialogue, OpenAiModeler,
};
use crate::model::ProcessModel;
use crate::modeler::Modeler;
use crate::usage::{Ledger, Usage};

/// How much of the earlier conversation a language model is given, in characters.
pub const HISTORY_BUDGET: usize = 8_000;

/// The most tool calls a language model makes in one turn.
pub const MAX_STEPS: usize = 25;

/// The longest tool result a language model is shown, in characters; the diagram it is shown
/// at the start is cut to [`DIAGRAM_BUDGET`].
const RESULT_BUDGET: usize = 8_000;
const DIAGRAM_BUDGET: usize = 50_000;

/// How many times in a row a language model may repeat a call, arguments and all, before the
/// turn stops.
const REPEATS_ALLOWED: usize = 2;

/// Where a turn's steps go as they happen. A closed channel (the worker gave up) is not the
/// turn's concern.
pub type Events = tokio::sync::mpsc::UnboundedSender<TurnEvent>;

fn emit(events: &Events, event: TurnEvent) {
    let _ = events.send(event);
}

/// One step of a turn, as the client is streamed it: a server-sent event of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum TurnEvent {
    /// What the copilot is doing, for a person to read.
    Status { message: String },
    /// A tool the copilot is about to run.
    ToolCall { name: String, arguments: Value },
    /// What the tool answered.
    ToolResult { name: String, result: Value },
    /// A piece of the reply.
    ContentDelta { delta: String },
}

impl TurnEvent {
    /// The event's name on the stream: `status`, `tool_call`, `tool_result`, `content_delta`.
    pub fn name(&self) -> &'static str {
        match self {
            TurnEvent::Status { .. } => "status",
            TurnEvent::ToolCall { .. } => "tool_call",
            TurnEvent::ToolResult { .. } => "tool_result",
            TurnEvent::ContentDelta { .. } => "content_delta",
        }
    }

    /// The event's JSON payload.
    pub fn data(&self) -> Value {
        match self {
            TurnEvent::Status { message } => json!({ "message": message }),
            TurnEvent::ToolCall { name, arguments } => {
                json!({ "name": name, "arguments": arguments })
            }
            TurnEvent::ToolResult { name, result } => json!({ "name": name, "result": result }),
            TurnEvent::ContentDelta { delta } => json!({ "delta": delta }),
        }
    }

    fn status(message: &str) -> Self {
        TurnEvent::Status {
            message: message.to_owned(),
        }
    }
}

/// What a proposal changes, against the diagram it would replace: elements and flows added,
/// removed and changed, each by id and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagramDiff {
    pub elements: Changes<ElementRef>,
    pub flows: Changes<FlowRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes<T> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
    pub changed: Vec<T>,
}

impl<T> Changes<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl<T> Default for Changes<T> {
    fn default() -> Self {
        Changes {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementRef {
    pub id: String,
    pub name: String,
    /// The BPMN element: `task`, `userTask`, `exclusiveGateway`, …
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRef {
    pub id: String,
    pub name: String,
    pub source: String,
    pub target: String,
}

impl DiagramDiff {
    /// What turns `before` into `after`. An element is changed when its name, type, lane or
    /// enclosing sub-process is; a flow when its ends, label or condition are.
    pub fn between(before: &ProcessModel, after: &ProcessModel) -> Self {
        let element = |n: &crate::model::Node| ElementRef {
            id: n.id.clone(),
            name: n.name.clone(),
            kind: element_name(&n.kind).to_owned(),
        };
        let flow = |f: &crate::model::Flow| FlowRef {
            id: f.id.clone(),
            name: f.name.clone(),
            source: f.source.clone(),
            target: f.target.clone(),
        };
        let mut diff = DiagramDiff::default();
        for node in &after.nodes {
            match before.node(&node.id) {
                None => diff.elements.added.push(element(node)),
                Some(old) if old != node => diff.elements.changed.push(element(node)),
                Some(_) => {}
            }
        }
        diff.elements.removed = before
            .nodes
            .iter()
            .filter(|n| after.node(&n.id).is_none())
            .map(element)
            .collect();
        for f in &after.flows {
            match before.flows.iter().find(|g| g.id == f.id) {
                None => diff.flows.added.push(flow(f)),
                Some(old) if old != f => diff.flows.changed.push(flow(f)),
                Some(_) => {}
            }
        }
        diff.flows.removed = before
            .flows
            .iter()
            .filter(|f| after.flows.iter().all(|g| g.id != f.id))
            .map(flow)
            .collect();
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty() && self.flows.is_empty()
    }

    /// The element a follow-up's "it" means: the first one added, else the first changed.
    fn subject(&self) -> Option<&ElementRef> {
        let named = |e: &&ElementRef| !e.name.trim().is_empty();
        (self.elements.added.iter().find(named))
            .or_else(|| self.elements.changed.iter().find(named))
    }
}

/// The conversation so far, as a turn needs it.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Earlier messages, oldest first: `(true, text)` for the user's, `(false, text)` for the
    /// copilot's replies.
    pub messages: Vec<(bool, String)>,
    /// What the previous answer proposed, when it proposed something.
    pub last_diff: Option<DiagramDiff>,
}

/// One chat turn's input.
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    pub message: &'a str,
    /// The diagram the turn edits: the client's editor state, the conversation's draft, or the
    /// latest version.
    pub working_xml: &'a str,
    /// The diagram a proposal would replace, which its diff is taken against.
    pub base_xml: &'a str,
    pub history: &'a History,
    /// The contexts of the diagram's folders, outermost first.
    pub context: &'a [String],
}

/// What [`modify`] proposes.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub reply: String,
    /// The proposed diagram; `None` when the turn changed nothing.
    pub bpmn_xml: Option<String>,
    pub diff: DiagramDiff,
    pub usage: Option<Usage>,
}

/// The first steps of a turn: read the diagram, and the folders' context when there is one.
/// Fails when the working diagram cannot be read at all.
pub fn inspect(turn: &Turn<'_>) -> Result<Vec<TurnEvent>, EngineError> {
    let diagram =
        reader::read(turn.working_xml).map_err(|e| EngineError::InvalidSource(e.to_string()))?;
    let model = &diagram.model;
    let mut events = vec![
        TurnEvent::status("Reading the diagram…"),
        TurnEvent::ToolCall {
            name: "list_diagram_elements".into(),
            arguments: json!({}),
        },
        TurnEvent::ToolResult {
            name: "list_diagram_elements".into(),
            result: elements(model),
        },
    ];
    if !turn.context.is_empty() {
        events.push(TurnEvent::ToolCall {
            name: "get_folder_context".into(),
            arguments: json!({}),
        });
        events.push(TurnEvent::ToolResult {
            name: "get_folder_context".into(),
            result: json!({ "context": turn.context }),
        });
    }
    Ok(events)
}

/// The `list_diagram_elements` result: every element with its id, name, type and lane.
fn elements(model: &ProcessModel) -> Value {
    let lane = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| model.lanes.iter().find(|l| &l.id == id))
            .map(|l| l.name.clone())
    };
    json!({
        "elements": model.nodes.iter().map(|n| json!({
            "id": n.id, "name": n.name, "type": element_name(&n.kind), "lane": lane(&n.lane),
        })).collect::<Vec<_>>(),
        "flows": model.flows.len(),
        "lanes": model.lanes.iter().map(|l| &l.name).collect::<Vec<_>>(),
    })
}

/// Edits the working diagram as the message asks, and says what it did, sending each step on
/// `events` as it happens. The builtin modeler reads the message as edit operations; a language
/// model runs its tool loop. A message neither can act on gets a reply saying so, and no
/// proposal.
pub async fn modify(
    modeler: &Modeler,
    turn: &Turn<'_>,
    events: &Events,
) -> Result<Proposal, Failure> {
    match modeler {
        Modeler::Builtin => builtin_turn(modeler, turn, events).await,
        Modeler::OpenAi(llm) => {
            let ledger = Ledger::default();
            let proposal = model_turn(llm, turn, events, &ledger).await;
            let usage = Some(ledger.total());
            match proposal {
                Ok(proposal) => Ok(Proposal { usage, ..proposal }),
                Err(error) => Err(Failure { error, usage }),
            }
        }
    }
}

async fn builtin_turn(
    modeler: &Modeler,
    turn: &Turn<'_>,
    events: &Events,
) -> Result<Proposal, Failure> {
    emit(events, TurnEvent::status("Modifying the diagram…"));
    let instruction = resolve(turn.message, turn.history.last_diff.as_ref());
    emit(
        events,
        TurnEvent::ToolCall {
            name: "modify_diagram".into(),
            arguments: json!({ "instruction": instruction }),
        },
    );
    let refined = modeler
        .refine_steered(turn.working_xml, &instruction, turn.context)
        .await;
    let output = match refined {
        Ok(output) => output,
        Err(failure) => {
            let EngineError::UnsupportedInstruction(what) = &failure.error else {
                return Err(failure);
            };
            let reply = format!(
                "I did not understand \u{201c}{what}\u{201d}, so the diagram is unchanged. I can: {UNDERSTOOD}."
            );
            emit(
                events,
                TurnEvent::ToolResult {
                    name: "modify_diagram".into(),
                    result: json!({ "applied": false, "error": failure.error.to_string() }),
                },
            );
            reply_events(&reply, events);
            return Ok(Proposal {
                reply,
                bpmn_xml: None,
                diff: DiagramDiff::default(),
                usage: failure.usage,
            });
        }
    };
    let fail = |error: EngineError| Failure {
        error,
        usage: output.usage.clone(),
    };
    let Some(xml) = output.bpmn_xml.first().cloned() else {
        return Err(fail(EngineError::InvalidOutput(Vec::new())));
    };
    let base =
        reader::read(turn.base_xml).map_err(|e| fail(EngineError::InvalidSource(e.to_string())))?;
    let proposed =
        reader::read(&xml).map_err(|e| fail(EngineError::InvalidSource(e.to_string())))?;
    let diff = DiagramDiff::between(&base.model, &proposed.model);
    emit(
        events,
        TurnEvent::ToolResult {
            name: "modify_diagram".into(),
            result: json!({
                "applied": true,
                "added": names(&diff.elements.added),
                "removed": names(&diff.elements.removed),
                "changed": names(&diff.elements.changed),
                "warnings": output.warnings,
            }),
        },
    );
    emit(
        events,
        TurnEvent::ToolCall {
            name: "validate_diagram".into(),
            arguments: json!({}),
        },
    );
    let result = validation(&xml);
    let valid = result["valid"] == true;
    emit(
        events,
        TurnEvent::ToolResult {
            name: "validate_diagram".into(),
            result,
        },
    );
    if !valid {
        return Err(fail(EngineError::InvalidOutput(bpmn::validate(&xml))));
    }
    let notes = new_warnings(turn.working_xml, &output.warnings);
    let reply = describe(&diff, &proposed.model, &notes);
    reply_events(&reply, events);
    Ok(Proposal {
        reply,
        bpmn_xml: (!diff.is_empty()).then_some(xml),
        diff,
        usage: output.usage,
    })
}

/// The builtin modeler's reading of a follow-up in its conversation: a leading "no," or
/// "actually," is dropped (the correction edits the previous proposal, which is the draft the
/// turn works on), and "it" means what the previous turn added or changed.
fn resolve(message: &str, last_diff: Option<&DiagramDiff>) -> String {
    let mut text = message.trim();
    loop {
        let lower = text.to_lowercase();
        let Some(lead) = [
            "no", "nope", "actually", "instead", "rather", "sorry", "wait",
        ]
        .into_iter()
        .find(|w| {
            lower.starts_with(w)
                && lower[w.len()..].starts_with([',', ' ', '!', '.', ';', ':', '\u{2014}'])
        }) else {
            break;
        };
        text = text[lead.len()..].trim_start_matches([',', ' ', '!', '.', ';', ':', '\u{2014}']);
    }
    let Some(subject) = last_diff.and_then(DiagramDiff::subject) else {
        return text.to_owned();
    };
    let words: Vec<&str> = text.split(' ').collect();
    words
        .iter()
        .map(|w| {
            let bare = w.trim_end_matches([',', '.', ';', '!', '?']);
            match bare.to_lowercase().as_str() {
                // Only "it": "that" and "this" also start clauses ("a step that …").
                "it" => format!("{}{}", subject.name, &w[bare.len()..]),
                _ => (*w).to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The message, after the conversation before it, newest last, cut to [`HISTORY_BUDGET`].
fn with_history(message: &str, messages: &[(bool, String)]) -> String {
    let mut budget = HISTORY_BUDGET.saturating_sub(message.len());
    let mut kept = Vec::new();
    for (from_user, text) in messages.iter().rev() {
        let line = format!("{}: {text}", if *from_user { "User" } else { "Copilot" });
        if line.len() > budget {
            break;
        }
        budget -= line.len();
        kept.push(line);
    }
    if kept.is_empty() {
        return message.to_owned();
    }
    kept.reverse();
    format!(
        "The conversation so far, for context:\n{}\n\nThe request to carry out now: {message}",
        kept.join("\n")
    )
}

fn names(elements: &[ElementRef]) -> Vec<&str> {
    elements.iter().map(|e| e.name.as_str()).collect()
}

/// The reply: what the proposal adds, removes and changes, by name, and where new work goes.
fn describe(diff: &DiagramDiff, proposed: &ProcessModel, warnings: &[String]) -> String {
    if diff.is_empty() {
        return "That leaves the diagram as it is, so there is nothing to apply.".to_owned();
    }
    let quoted = |elements: &[ElementRef]| {
        let named: Vec<String> = elements
            .iter()
            .filter(|e| !e.name.trim().is_empty())
            .map(|e| format!("\u{201c}{}\u{201d}", e.name.replace('\n', " ")))
            .collect();
        match named.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
        }
    };
    let mut sentences = Vec::new();
    if let Some(added) = quoted(&diff.elements.added) {
        let place = diff
            .elements
            .added
            .first()
            .and_then(|e| neighbours(proposed, &e.id))
            .unwrap_or_default();
        sentences.push(format!("I added {added}{place}."));
    }
    if let Some(removed) = quoted(&diff.elements.removed) {
        sentences.push(format!("I removed {removed}."));
    }
    if let Some(changed) = quoted(&diff.elements.changed) {
        sentences.push(format!("I changed {changed}."));
    }
    if sentences.is_empty() {
        sentences.push("I rearranged the flow between the steps.".to_owned());
    }
    sentences.extend(warnings.iter().map(|w| {
        let w = crate::builtin::wording::capitalise(w.trim());
        if w.ends_with('.') {
            w
        } else {
            format!("{w}.")
        }
    }));
    sentences.push("Apply it with a snapshot when it looks right.".to_owned());
    sentences.join(" ")
}

/// The warnings this turn's edit brought, for its reply: a refinement also repeats what reading
/// the diagram warns about (what it keeps as it was), which the user has heard before. Those
/// are the warnings of compiling the working diagram unchanged.
fn new_warnings(working_xml: &str, warnings: &[String]) -> Vec<String> {
    let Ok(source) = SourceDiagram::read(working_xml) else {
        return warnings.to_vec();
    };
    let (_, known) = source.compile(&source.model);
    warnings
        .iter()
        .filter(|w| !known.contains(w))
        .cloned()
        .collect()
}

/// " after “A” and before “B”", for a node with one way in and one way out.
fn neighbours(model: &ProcessModel, id: &str) -> Option<String> {
    let name = |id: &str| {
        model
            .node(id)
            .map(|n| n.name.replace('\n', " "))
            .filter(|n| !n.trim().is_empty())
    };
    let before = model.incoming(id).next().and_then(|f| name(&f.source));
    let after = model.outgoing(id).next().and_then(|f| name(&f.target));
    match (before, after) {
        (Some(b), Some(a)) => Some(format!(
            " after \u{201c}{b}\u{201d} and before \u{201c}{a}\u{201d}"
        )),
        (Some(b), None) => Some(format!(" after \u{201c}{b}\u{201d}")),
        (None, Some(a)) => Some(format!(" before \u{201c}{a}\u{201d}")),
        (None, None) => None,
    }
}

/// The `validate_diagram` result for a document.
fn validation(xml: &str) -> Value {
    let problems = bpmn::validate(xml);
    json!({ "valid": problems.is_empty(), "problems": problems })
}

/// Sends the reply in the pieces it is streamed in: a few words at a time, as a model writes.
fn reply_events(reply: &str, events: &Events) {
    let words: Vec<&str> = reply.split_inclusive(' ').collect();
    for chunk in words.chunks(4) {
        emit(
            events,
            TurnEvent::ContentDelta {
                delta: chunk.concat(),
            },
        );
    }
}

/// A language model's turn: the model sees the conversation, the request and the diagram, and
/// takes at most [`MAX_STEPS`] steps, each a tool call whose result it is shown, until it
/// replies. Its edits apply to the working diagram's model; what it ends with is the proposal.
async fn model_turn(
    llm: &OpenAiModeler,
    turn: &Turn<'_>,
    events: &Events,
    ledger: &Ledger,
) -> Result<Proposal, EngineError> {
    let source = SourceDiagram::read(turn.working_xml)?;
    let mut model = source.model.clone();
    let diagram = cut(
        serde_json::to_string(&ProcessSpec::from_model(&model)).unwrap_or_default(),
        DIAGRAM_BUDGET,
    );
    let request = with_history(turn.message, &turn.history.messages);
    let user = prompts::with_context(
        turn.context,
        format!("The diagram now:\n{diagram}\n\n{request}"),
    );
    let mut dialogue = Dialogue::new(crate::llm::copilot::system(), user);
    emit(events, TurnEvent::status("Thinking…"));
    let mut reply = None;
    let mut stopped = format!("I stopped after {MAX_STEPS} steps without finishing.");
    let mut previous: Option<(&str, Value)> = None;
    let mut repeats = 0;
    for _ in 0..MAX_STEPS {
        let (action, arguments) = llm.copilot_step(&mut dialogue, ledger).await?;
        let name = action.name();
        if let Action::Reply { content } = action {
            reply = Some(content);
            break;
        }
        // The same call over and over gets the same answer: a model caught in that loop is
        // stopped at the third, rather than spending every step on it.
        let same = previous
            .as_ref()
            .is_some_and(|(n, a)| *n == name && *a == arguments);
        repeats = if same { repeats + 1 } else { 0 };
        if repeats >= REPEATS_ALLOWED {
            stopped = "I stopped: I kept making the same call without getting anywhere.".into();
            break;
        }
        previous = Some((name, arguments.clone()));
        if name == "modify_diagram" {
            emit(events, TurnEvent::status("Modifying the diagram…"));
        }
        emit(
            events,
            TurnEvent::ToolCall {
                name: name.into(),
                arguments,
            },
        );
        let result = run_tool(&action, &source, &mut model, turn.context);
        dialogue.tell(format!(
            "{name} answered: {}",
            cut(result.to_string(), RESULT_BUDGET)
        ));
        emit(
            events,
            TurnEvent::ToolResult {
                name: name.into(),
                result,
            },
        );
    }
    let base =
        reader::read(turn.base_xml).map_err(|e| EngineError::InvalidSource(e.to_string()))?;
    let (xml, warnings) = source.compile(&model);
    let problems = bpmn::validate(&xml);
    if !problems.is_empty() {
        return Err(EngineError::InvalidOutput(problems));
    }
    let proposed = reader::read(&xml).map_err(|e| EngineError::InvalidSource(e.to_string()))?;
    let diff = DiagramDiff::between(&base.model, &proposed.model);
    let reply = reply.unwrap_or_else(|| {
        let notes = new_warnings(turn.working_xml, &warnings);
        format!("{stopped} {}", describe(&diff, &proposed.model, &notes))
    });
    reply_events(&reply, events);
    Ok(Proposal {
        reply,
        bpmn_xml: (!diff.is_empty()).then_some(xml),
        diff,
        usage: None,
    })
}

/// Runs one of the model's tools on the turn's model.
fn run_tool(
    action: &Action,
    source: &SourceDiagram,
    model: &mut ProcessModel,
    context: &[String],
) -> Value {
    match action {
        Action::ListDiagramElements {} => elements(model),
        Action::GetElementInfo { element } => element_info(model, element),
        Action::GetFolderContext {} => json!({ "context": context }),
        Action::ValidateDiagram {} => validation(&source.compile(model).0),
        Action::ModifyDiagram { operations: ops } => {
            let mut edited = model.clone();
            if let Err(problems) = operations::apply(&mut edited, ops) {
                return json!({ "applied": false, "problems": problems });
            }
            let (xml, _) = source.compile(&edited);
            match source.check(&edited, &xml) {
                Err(problems) => json!({ "applied": false, "problems": problems }),
                Ok(warnings) => {
                    let diff = DiagramDiff::between(model, &edited);
                    *model = edited;
                    json!({
                        "applied": true,
                        "added": names(&diff.elements.added),
                        "removed": names(&diff.elements.removed),
                        "changed": names(&diff.elements.changed),
                        "warnings": warnings,
                    })
                }
            }
        }
        Action::Reply { .. } => Value::Null,
    }
}

/// The `get_element_info` result: an element found by id or name, its lane and its flows.
fn element_info(model: &ProcessModel, element: &str) -> Value {
    let id = model
        .node(element)
        .map(|n| n.id.clone())
        .or_else(|| find_node(model, element));
    let Some(node) = id.as_deref().and_then(|id| model.node(id)) else {
        return json!({ "error": format!("the diagram has no element {element:?}") });
    };
    let name = |id: &str| model.node(id).map_or(String::new(), |n| n.name.clone());
    json!({
        "id": node.id,
        "name": node.name,
        "type": element_name(&node.kind),
        "lane": node.lane.as_ref().and_then(|l| model.lanes.iter().find(|x| &x.id == l)).map(|l| &l.name),
        "inside": node.parent,
        "incoming": model.incoming(&node.id).map(|f| json!({"flow": f.id, "from": name(&f.source), "label": f.name})).collect::<Vec<_>>(),
        "outgoing": model.outgoing(&node.id).map(|f| json!({"flow": f.id, "to": name(&f.target), "label": f.name})).collect::<Vec<_>>(),
        "boundary_events": model.boundary_events_of(&node.id),
    })
}

/// A text cut to `budget` characters, saying so.
fn cut(text: String, budget: usize) -> String {
    match text.char_indices().nth(budget) {
        Some((at, _)) => format!("{}… [truncated]", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    const PROMPT: &str = "A customer submits an expense claim. The manager reviews the claim. \
        Finance pays the claim.";

    fn diagram() -> String {
        builtin::generate_options(PROMPT).expect("builds").remove(0)
    }

    /// A builtin turn's proposal, and the events it sent, in order.
    async fn turn_with_events(
        message: &str,
        working: &str,
        base: &str,
        history: &History,
    ) -> (Proposal, Vec<TurnEvent>) {
        let (events, mut sent) = tokio::sync::mpsc::unbounded_channel();
        let proposal = modify(
            &Modeler::Builtin,
            &Turn {
                message,
                working_xml: working,
                base_xml: base,
                history,
                context: &[],
            },
            &events,
        )
        .await
        .expect("the turn runs");
        drop(events);
        let mut all = Vec::new();
        while let Some(event) = sent.recv().await {
            all.push(event);
        }
        (proposal, all)
    }

    async fn turn(message: &str, working: &str, base: &str, history: &History) -> Proposal {
        turn_with_events(message, working, base, history).await.0
    }

    #[tokio::test]
    async fn a_turn_proposes_an_edit_and_says_what_it_did() {
        let xml = diagram();
        let (proposal, events) = turn_with_events(
            "Add a step to notify the customer after Pay the claim",
            &xml,
            &xml,
            &History::default(),
        )
        .await;
        assert!(proposal.bpmn_xml.is_some());
        assert_eq!(proposal.diff.elements.added.len(), 1, "{:?}", proposal.diff);
        assert_eq!(proposal.diff.elements.added[0].name, "Notify customer");
        assert!(
            proposal
                .reply
                .starts_with("I added \u{201c}Notify customer\u{201d} after"),
            "{}",
            proposal.reply
        );
        let streamed: String = events
            .iter()
            .filter_map(|e| match e {
                TurnEvent::ContentDelta { delta } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(streamed, proposal.reply);
        let names: Vec<&str> = events.iter().map(TurnEvent::name).collect();
        assert_eq!(
            &names[..5],
            [
                "status",
                "tool_call",
                "tool_result",
                "tool_call",
                "tool_result"
            ]
        );
    }

    #[tokio::test]
    async fn a_correction_moves_what_the_previous_turn_added() {
        let xml = diagram();
        let first = turn(
            "Add a step to notify the customer after Pay the claim",
            &xml,
            &xml,
            &History::default(),
        )
        .await;
        let draft = first.bpmn_xml.clone().expect("a proposal");
        let history = History {
            messages: vec![(true, "Add a step…".into()), (false, first.reply.clone())],
            last_diff: Some(first.diff.clone()),
        };
        let second = turn("No, put it before the review", &draft, &xml, &history).await;
        let added = &second.diff.elements.added;
        assert_eq!(added.len(), 1, "{:?}", second.diff);
        assert_eq!(
            added[0].id, first.diff.elements.added[0].id,
            "the same step, moved"
        );
        let model = reader::read(second.bpmn_xml.as_deref().expect("proposal"))
            .expect("reads")
            .model;
        let next: Vec<&str> = model
            .outgoing(&added[0].id)
            .filter_map(|f| model.node(&f.target))
            .map(|n| n.name.as_str())
            .collect();
        assert!(next.iter().any(|n| n.contains("eview")), "{next:?}");
    }

    #[tokio::test]
    async fn a_reply_tells_what_the_edit_brought_not_what_the_diagram_always_warns() {
        let xml = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
        let proposal = turn(
            "Add a step to notify the customer after Resolve ticket",
            xml,
            xml,
            &History::default(),
        )
        .await;
        assert!(
            !proposal.reply.contains("kept as it was"),
            "{}",
            proposal.reply
        );
        assert!(
            proposal.reply.contains("Notify customer"),
            "{}",
            proposal.reply
        );
    }

    #[tokio::test]
    async fn a_step_moved_above_its_successor_in_another_lane_is_joined_straight_down() {
        let xml = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
        let first = turn(
            "Add a step to notify the customer after Resolve ticket",
            xml,
            xml,
            &History::default(),
        )
        .await;
        let history = History {
            messages: Vec::new(),
            last_diff: Some(first.diff.clone()),
        };
        let draft = first.bpmn_xml.expect("a proposal");
        let second = turn("No, put it before Resolve ticket", &draft, xml, &history).await;
        let diagram = reader::read(&second.bpmn_xml.expect("a proposal")).expect("reads");
        let step = &first.diff.elements.added[0].id;
        let flow = diagram
            .model
            .outgoing(step)
            .next()
            .expect("the step leads on");
        assert_eq!(flow.target, "Task_Resolve");
        let (s, t) = (
            diagram.layout.nodes[step.as_str()],
            diagram.layout.nodes["Task_Resolve"],
        );
        let points = &diagram.layout.flows[&flow.id];
        assert_eq!(points.len(), 2, "{points:?}");
        assert_eq!(points[0].0, points[1].0, "vertical: {points:?}");
        assert_eq!(
            (points[0].1, points[1].1),
            (s.bottom(), t.y),
            "from the step's bottom to the task's top"
        );
    }

    #[tokio::test]
    async fn a_message_it_cannot_read_gets_a_reply_and_no_proposal() {
        let xml = diagram();
        let proposal = turn("What is the weather like", &xml, &xml, &History::default()).await;
        assert!(proposal.bpmn_xml.is_none());
        assert!(proposal.diff.is_empty());
        assert!(proposal.reply.contains("I can:"), "{}", proposal.reply);
    }

    #[test]
    fn pronouns_mean_the_previous_turns_subject() {
        let diff = DiagramDiff {
            elements: Changes {
                added: vec![ElementRef {
                    id: "Task_9".into(),
                    name: "Notify customer".into(),
                    kind: "sendTask".into(),
                }],
                ..Changes::default()
            },
            ..DiagramDiff::default()
        };
        assert_eq!(
            resolve("No, put it before the review.", Some(&diff)),
            "put Notify customer before the review."
        );
        assert_eq!(
            resolve("Remove Pay the claim", None),
            "Remove Pay the claim"
        );
    }

    #[test]
    fn the_history_keeps_the_newest_messages_within_budget() {
        let long = "x".repeat(HISTORY_BUDGET);
        let text = with_history(
            "Now add a review",
            &[
                (true, long),
                (true, "Add a step".into()),
                (false, "I added it.".into()),
            ],
        );
        assert!(text.contains("User: Add a step\nCopilot: I added it."));
        assert!(text.len() < HISTORY_BUDGET);
    }
}
