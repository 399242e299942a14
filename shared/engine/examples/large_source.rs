//! How long checking and refining a large inline source takes, for the size bound in
//! `bpmn::validate::MAX_FLOW_ELEMENTS`. Prints figures; asserts nothing.
//!
//!   cargo run --release -p procmap-engine --example large_source -- 1000 2000 4000 8000

use std::time::Instant;

/// `count` tasks in one chain from a start event to an end event.
fn chain(count: usize) -> String {
    let mut content = String::from(
        r#"<startEvent id="S" /><sequenceFlow id="FS" sourceRef="S" targetRef="T0" />"#,
    );
    for i in 0..count {
        content.push_str(&format!(r#"<task id="T{i}" name="Task number {i}" />"#));
        let next = if i + 1 == count {
            "E".to_owned()
        } else {
            format!("T{}", i + 1)
        };
        content.push_str(&format!(
            r#"<sequenceFlow id="F{i}" sourceRef="T{i}" targetRef="{next}" />"#
        ));
    }
    content.push_str(r#"<endEvent id="E" />"#);
    document(&content)
}

/// `count` tasks and nothing else: no flows, no events.
fn unconnected(count: usize) -> String {
    let content: String = (0..count)
        .map(|i| format!(r#"<task id="T{i}" name="Task number {i}" />"#))
        .collect();
    document(&content)
}

fn document(content: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://example.org"><process id="P">{content}</process></definitions>"#
    )
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    println!("shape        tasks    bytes  check_source  refine  outcome");
    for count in counts {
        for (shape, xml) in [("chain", chain(count)), ("unconnected", unconnected(count))] {
            let started = Instant::now();
            let checked = procmap_engine::check_source(&xml);
            let check = started.elapsed();
            let started = Instant::now();
            let refined = procmap_engine::refine(&xml, "Add a final step that archives the case.");
            let refine = started.elapsed();
            let outcome = match (&checked, &refined) {
                (Err(problems), _) => format!("refused: {}", problems[0].code),
                (Ok(()), Ok(_)) => "refined".to_owned(),
                (Ok(()), Err(e)) => format!("failed: {}", e.code()),
            };
            println!(
                "{shape:<11} {count:>6} {:>8} {:>11.3}s {:>6.3}s  {outcome}",
                xml.len(),
                check.as_secs_f64(),
                refine.as_secs_f64()
            );
        }
    }
}
