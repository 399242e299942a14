//! Executable diagrams keep what makes them run. Every builtin follow-up, applied to each
//! Camunda 7 and Camunda 8 diagram of `conformance/executable/`, must keep every extension on
//! every element that survives; and a refinement that changes nothing must give the source
//! back, apart from its drawing. Both are compared in canonical XML: names resolved to their
//! namespaces, attributes sorted, whitespace between elements ignored.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use procmap_engine::{refine, LlmProvider, Modeler, OpenAiConfig};
use serde_json::json;
use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

#[path = "support/canonical.rs"]
mod canonical;
#[path = "../examples/support/follow_ups.rs"]
mod follow_ups;
use canonical::{parse, semantics, Element, BPMNDI_NS};
use follow_ups::{follow_up, FOLLOW_UP_KINDS};

/// What an executable diagram runs on, per element id: attributes in another namespace than
/// BPMN's and the execution attributes BPMN itself defines, and the children that hold
/// documentation, extensions, data, loops and scripts. An event definition and a root element
/// (message, error) count whole.
fn extensions(document: &Element) -> BTreeMap<String, Vec<String>> {
    const EXECUTION_ATTRIBUTES: [&str; 6] = [
        "isExecutable",
        "calledElement",
        "scriptFormat",
        "messageRef",
        "implementation",
        "errorRef",
    ];
    const EXTENSION_CHILDREN: [&str; 9] = [
        "documentation",
        "extensionElements",
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
        "ioSpecification",
        "dataInputAssociation",
        "dataOutputAssociation",
        "script",
        "completionCondition",
    ];
    let mut all = Vec::new();
    document.walk(&mut all);
    let mut found = BTreeMap::new();
    for element in all {
        if element.name.starts_with(&format!("{{{BPMNDI_NS}}}")) {
            continue;
        }
        let Some(id) = element.id() else { continue };
        let whole = element.local().ends_with("EventDefinition")
            || ["message", "error", "signal", "escalation"]
                .iter()
                .any(|l| element.is_bpmn(l));
        let mut parts: Vec<String> = if whole {
            vec![element.canonical()]
        } else {
            let attributes = element
                .attributes
                .iter()
                .filter(|(k, _)| k.starts_with('{') || EXECUTION_ATTRIBUTES.contains(&k.as_str()))
                .map(|(k, v)| format!("@{k}={v}"));
            let children = element
                .children
                .iter()
                .filter(|c| EXTENSION_CHILDREN.iter().any(|l| c.is_bpmn(l)))
                .map(Element::canonical);
            attributes.chain(children).collect()
        };
        parts.sort();
        if !parts.is_empty() {
            found.insert(id.to_owned(), parts);
        }
    }
    // `<definitions>` is known by its place, not its id.
    if let Some(definitions) = document.children.first() {
        let platform: Vec<String> = definitions
            .attributes
            .iter()
            .filter(|(k, _)| k.starts_with('{') || *k == "exporter")
            .map(|(k, v)| format!("@{k}={v}"))
            .collect();
        found.insert("<definitions>".into(), platform);
    }
    found
}

fn executable_corpus() -> Vec<(String, String)> {
    diagrams_in("executable")
}

fn diagrams_in(folder: &str) -> Vec<(String, String)> {
    diagrams_at(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../conformance")
            .join(folder),
    )
}

fn diagrams_at(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("readable diagram"))
        })
        .collect()
}

/// What refining a corpus with every builtin follow-up did to its extensions.
#[derive(Default)]
struct Report {
    refinements: usize,
    /// Refinements that failed: (diagram, follow-up, why).
    failed: Vec<(String, String, String)>,
    /// Elements that survived a refinement, compared.
    compared: usize,
    /// Elements that survived but lost or changed what they carried, with no warning naming
    /// them: (diagram, follow-up, id).
    changed: Vec<(String, String, String)>,
    /// The same, where a warning names the element (a task broken down into a sub-process
    /// keeps only what a sub-process can hold).
    changed_with_warning: Vec<(String, String, String)>,
    /// Elements with extensions removed without a warning naming them or what held them.
    unannounced: Vec<(String, String, String)>,
}

/// Refines each diagram with `follow_ups(source)`, each follow-up in turn.
fn refine_every_way(
    corpus: &[(String, String)],
    follow_ups: impl Fn(&str) -> Vec<String>,
) -> Report {
    let mut report = Report::default();
    for (name, source) in corpus {
        let before = extensions(&parse(source));
        let mut enclosing = BTreeMap::new();
        parse(source).enclosing_ids(&[], &mut enclosing);
        for prompt in follow_ups(source) {
            report.refinements += 1;
            let refined = match refine(source, &prompt) {
                Ok(refined) => refined,
                Err(e) => {
                    report.failed.push((name.clone(), prompt, e.to_string()));
                    continue;
                }
            };
            let after = extensions(&parse(&refined.bpmn_xml));
            let mut all = Vec::new();
            let document = parse(&refined.bpmn_xml);
            document.walk(&mut all);
            let refined_ids: Vec<&str> = all.iter().filter_map(|e| e.id()).collect();
            for (id, extension) in &before {
                let case = (name.clone(), prompt.clone(), id.clone());
                if id == "<definitions>" || refined_ids.contains(&id.as_str()) {
                    report.compared += 1;
                    // What the source's <definitions> said stays; procmap may add its own
                    // exporter where the source named none.
                    let kept = match after.get(id) {
                        Some(now) if id == "<definitions>" => {
                            extension.iter().all(|part| now.contains(part))
                        }
                        now => now == Some(extension),
                    };
                    if kept {
                        continue;
                    }
                    if refined.warnings.iter().any(|w| w.contains(id.as_str())) {
                        report.changed_with_warning.push(case);
                    } else {
                        report.changed.push(case);
                    }
                    continue;
                }
                // Removed with an element around it, or on its own: a warning names it.
                let named = std::iter::once(id)
                    .chain(enclosing.get(id).into_iter().flatten())
                    .any(|i| refined.warnings.iter().any(|w| w.contains(i.as_str())));
                if !named {
                    report.unannounced.push(case);
                }
            }
        }
    }
    report
}

#[test]
fn every_builtin_follow_up_keeps_every_extension_on_every_element_that_survives() {
    let corpus = executable_corpus();
    assert!(corpus.len() >= 5, "the executable corpus is missing");
    let report = refine_every_way(&corpus, every_kind_of_follow_up);
    assert_eq!(report.refinements, corpus.len() * FOLLOW_UP_KINDS);
    assert_eq!(report.failed, vec![]);
    assert_eq!(report.changed, vec![], "changed what they carry");
    // Only a task broken down into a sub-process changes kind, and with it what it carries: the
    // settings written for the task no longer configure anything, and a warning names them.
    assert!(
        report
            .changed_with_warning
            .iter()
            .all(|(_, prompt, _)| prompt.starts_with("Break ")),
        "{:?}",
        report.changed_with_warning
    );
    assert_eq!(report.unannounced, vec![], "removed without a warning");
    assert!(
        report.compared > 100,
        "too few elements compared: {}",
        report.compared
    );
}

fn every_kind_of_follow_up(source: &str) -> Vec<String> {
    (0..FOLLOW_UP_KINDS).map(|k| follow_up(k, source)).collect()
}

/// The same over a folder of diagrams from elsewhere, for measuring rather than asserting:
/// `PROCMAP_EXECUTABLE_DIR=/path cargo test -p procmap-engine --test executable -- --ignored --nocapture`.
/// `PROCMAP_FOLLOW_UP="Add a final step that archives the case."` refines with that one
/// follow-up instead of one of each kind.
#[test]
#[ignore = "measures a folder named by PROCMAP_EXECUTABLE_DIR"]
fn measure_a_folder_of_executable_diagrams() {
    let dir = std::env::var("PROCMAP_EXECUTABLE_DIR").expect("PROCMAP_EXECUTABLE_DIR");
    let corpus = diagrams_at(&PathBuf::from(dir));
    let report = match std::env::var("PROCMAP_FOLLOW_UP") {
        Ok(one) => refine_every_way(&corpus, |_| vec![one.clone()]),
        Err(_) => refine_every_way(&corpus, every_kind_of_follow_up),
    };
    let diagrams_kept_whole = corpus
        .iter()
        .filter(|(name, _)| {
            !report.changed.iter().any(|(n, ..)| n == name)
                && !report.unannounced.iter().any(|(n, ..)| n == name)
        })
        .count();
    for (name, prompt, why) in &report.failed {
        println!("failed: {name}: {prompt:?}: {why}");
    }
    for (name, prompt, id) in report.changed.iter().chain(&report.unannounced) {
        println!("lost: {name}: {prompt:?}: {id}");
    }
    for (name, prompt, id) in &report.changed_with_warning {
        println!("changed, with a warning: {name}: {prompt:?}: {id}");
    }
    println!(
        "{} diagrams, {} refinements: {} failed; {} surviving elements compared, {} changed silently, {} changed with a warning naming them, {} removed without a warning; {} diagrams kept every extension in every refinement that succeeded",
        corpus.len(),
        report.refinements,
        report.failed.len(),
        report.compared,
        report.changed.len(),
        report.changed_with_warning.len(),
        report.unannounced.len(),
        diagrams_kept_whole
    );
}

#[tokio::test]
async fn an_empty_edit_plan_gives_the_source_back_apart_from_its_drawing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant",
                "content": "{\"operations\":[]}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        })))
        .mount(&server)
        .await;
    let modeler = Modeler::from_config(&LlmProvider::OpenAi(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key: None,
        model: "test-model".into(),
        timeout: Duration::from_secs(10),
        max_retries: 0,
        repair_rounds: 0,
        max_tokens: 1024,
    }))
    .expect("modeler");
    let corpus: Vec<(String, String)> = executable_corpus()
        .into_iter()
        .chain(diagrams_in("foreign"))
        .collect();
    for (name, source) in &corpus {
        let output = modeler
            .refine(source, "Change nothing.")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (after, before) = (
            semantics(&output.bpmn_xml[0]).canonical(),
            semantics(source).canonical(),
        );
        if after != before {
            let at = after
                .chars()
                .zip(before.chars())
                .take_while(|(a, b)| a == b)
                .count()
                .saturating_sub(80);
            let excerpt = |s: &str| s.chars().skip(at).take(400).collect::<String>();
            panic!(
                "{name} came back changed:\n  refined: …{}\n  source:  …{}",
                excerpt(&after),
                excerpt(&before)
            );
        }
    }
}

#[test]
fn a_new_task_in_an_executable_diagram_is_plain_until_its_owner_implements_it() {
    let source = executable_corpus()
        .into_iter()
        .find(|(name, _)| name == "c8_order_process")
        .expect("in the corpus")
        .1;
    let refined = refine(
        &source,
        "Add a step to notify the customer after Ship order.",
    )
    .expect("refined");
    // "Notify" would make a send task, which Camunda 8 refuses without a job type.
    assert!(refined
        .bpmn_xml
        .contains(r#"<bpmn:task id="Activity_1" name="Notify customer">"#));
    assert!(
        refined
            .warnings
            .iter()
            .any(|w| w.starts_with("the diagram is executable")
                && w.contains("Activity_1 (\"Notify customer\")")),
        "{:?}",
        refined.warnings
    );
}

#[test]
fn a_deadline_added_to_an_executable_diagram_has_a_duration_the_engine_can_run() {
    let source = executable_corpus()
        .into_iter()
        .find(|(name, _)| name == "c7_invoice_approval")
        .expect("in the corpus")
        .1;
    let refined = refine(&source, "Add a deadline of 2 days to Archive invoice.").expect("refined");
    let document = parse(&refined.bpmn_xml);
    let mut all = Vec::new();
    document.walk(&mut all);
    let timer = all
        .iter()
        .find(|e| {
            e.is_bpmn("boundaryEvent")
                && e.attributes.get("name").map(String::as_str) == Some("2 days")
        })
        .expect("the deadline's timer");
    let definition = &timer.children[timer.children.len() - 1];
    assert!(definition.is_bpmn("timerEventDefinition"));
    assert_eq!(definition.children[0].local(), "timeDuration");
    assert_eq!(definition.children[0].text, "P2D");
}
