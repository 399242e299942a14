//! Reads BPMN 2.0 XML from any tool into a process model, trusting nothing.
//!
//! DTDs are refused outright (no entity can be declared, so none can be expanded or fetched),
//! nesting is bounded, and anything the process model has no place for is reported as a warning
//! rather than dropped in silence.
//!
//! One pass over the document's events feeds a small state machine ([`elements`]): it builds
//! each process's nodes, flows and lanes, while the [`copier`] copies through what the model has
//! no place for and [`di`] reads where the source drew everything. A last step ([`assemble`])
//! picks the process to refine and settles lanes, defaults and sub-process content.

mod assemble;
mod copier;
mod di;
mod elements;

use std::collections::{HashMap, HashSet};

use quick_xml::events::{BytesStart, Event};

use super::drawing::Drawing;
use super::kept::{EventDefinition, Kept, KeptElement, SubProcessContent};
use crate::model::{Flow, Lane, Node, ProcessModel};
use elements::Elements;

/// Deepest element nesting accepted; real diagrams stay far below this.
const MAX_DEPTH: usize = 100;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 200_000;
/// Most attributes accepted on one element.
const MAX_ATTRIBUTES: usize = 64;

/// What reading a document found, for refinement and for the validator.
#[derive(Debug, Clone, Default)]
pub struct Diagram {
    pub model: ProcessModel,
    /// Every `id` attribute in document order, to find duplicates.
    pub ids: Vec<String>,
    /// Elements that have a `BPMNShape`.
    pub shapes: HashSet<String>,
    /// Elements that have a `BPMNEdge`.
    pub edges: HashSet<String>,
    /// `default` attributes that name a flow: (gateway, flow).
    pub defaults: Vec<(String, String)>,
    /// Where the source drew the model's nodes, flows, lanes and pool, so that a refinement can
    /// leave what it does not touch where it was.
    pub layout: Drawing,
    /// What the model has no place for but a refinement copies through as it was.
    pub kept: Kept,
    /// What the model could not represent.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is not BPMN 2.0: {0}")]
    NotBpmn(String),
    #[error("the document is refused: {0}")]
    Refused(String),
}

/// One `process` element being read.
#[derive(Default)]
struct ProcessInProgress {
    id: String,
    name: String,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    lanes: Vec<(Lane, Vec<String>)>,
    /// Its data elements and artifacts, kept as they were.
    kept: Vec<KeptElement>,
    sub_processes: Vec<SubProcessContent>,
    event_definitions: Vec<EventDefinition>,
}

/// Reads a document.
pub fn read(xml: &str) -> Result<Diagram, ReadError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut elements = Elements::new(xml);
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| ReadError::Malformed(e.to_string()))?;
        // Where the event ends: what has been read so far.
        let end = reader.buffer_position() as usize;
        match event {
            Event::DocType(_) => {
                return Err(ReadError::Refused(
                    "DTDs and entity declarations are not allowed".into(),
                ))
            }
            Event::Start(ref e) => elements.start(e, false, start..end)?,
            Event::Empty(ref e) => elements.start(e, true, start..end)?,
            Event::End(_) => elements.end(end),
            Event::Text(t) => {
                if elements.wants_text() {
                    let text = t
                        .unescape()
                        .map_err(|e| ReadError::Malformed(e.to_string()))?;
                    elements.text(&text);
                }
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    elements.finish()
}

/// An element's attributes by name, within the limits: namespace declarations keep their
/// prefix, every other attribute is known by its local name.
fn attributes(e: &BytesStart<'_>) -> Result<HashMap<String, String>, ReadError> {
    let mut map = HashMap::new();
    for (count, attr) in e.attributes().enumerate() {
        if count >= MAX_ATTRIBUTES {
            return Err(ReadError::Refused(format!(
                "an element has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let attr = attr.map_err(|e| ReadError::Malformed(e.to_string()))?;
        let key = attr.key.as_ref();
        let name = if key.starts_with(b"xmlns") {
            String::from_utf8_lossy(key).into_owned()
        } else {
            String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned()
        };
        let value = attr
            .unescape_value()
            .map_err(|e| ReadError::Malformed(e.to_string()))?
            .into_owned();
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpmn::vocabulary::BPMN_NS;

    #[test]
    fn a_dtd_is_refused_before_any_entity_is_read() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>"#;
        assert!(matches!(read(xxe), Err(ReadError::Refused(_))));
    }

    #[test]
    fn absurd_nesting_is_refused() {
        let deep = format!(
            r#"<definitions xmlns="{BPMN_NS}">{}{}</definitions>"#,
            "<a>".repeat(MAX_DEPTH + 5),
            "</a>".repeat(MAX_DEPTH + 5)
        );
        assert!(matches!(read(&deep), Err(ReadError::Refused(_))));
    }

    #[test]
    fn other_xml_is_not_bpmn() {
        assert!(matches!(
            read("<html><body/></html>"),
            Err(ReadError::NotBpmn(_))
        ));
        assert!(read("not xml at all <").is_err());
        assert!(matches!(
            read(r#"<definitions xmlns="urn:other"/>"#),
            Err(ReadError::NotBpmn(_))
        ));
    }
}
