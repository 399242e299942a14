//! Reads BPMN 2.0 XML from any tool into a process model, trusting nothing.
//!
//! DTDs are refused outright (no entity can be declared, so none can be expanded or fetched),
//! nesting is bounded, and anything the process model has no place for is reported as a warning
//! rather than dropped in silence.
//!
//! One pass over the document's events feeds a small state machine ([`elements`]): it builds
//! each process's nodes, flows and lanes as their elements open, fill with text and close,
//! while the [`copier`] copies through what the model has no place for, each element of the
//! model records what it carries beyond it ([`carrying`]), and [`di`] reads where
//! the source drew everything. A last step ([`assemble`]) picks the process to refine and
//! settles lanes, defaults and sub-process content into a [`Diagram`].

mod assemble;
mod attributes;
mod carrying;
mod copier;
mod di;
mod diagram;
mod elements;

use quick_xml::events::Event;

pub use diagram::{Diagram, ReadError};
use elements::Elements;

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

#[cfg(test)]
mod tests {
    use super::elements::MAX_DEPTH;
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
