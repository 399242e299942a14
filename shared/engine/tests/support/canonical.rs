//! Canonical XML for comparing BPMN documents by meaning: element and attribute names resolved
//! to their namespaces, attributes sorted, whitespace between elements ignored. Shared by the
//! tests that compare a refinement with its source.
#![allow(dead_code)]

use std::collections::BTreeMap;

use quick_xml::{events::Event, name::ResolveResult, NsReader};

pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
pub const BPMNDI_NS: &str = "http://www.omg.org/spec/BPMN/20100524/DI";

/// An element with its names resolved to namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// `{namespace}local`.
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn local(&self) -> &str {
        self.name.rsplit('}').next().unwrap_or_default()
    }

    pub fn is_bpmn(&self, local: &str) -> bool {
        self.name == format!("{{{BPMN_NS}}}{local}")
    }

    pub fn id(&self) -> Option<&str> {
        self.attributes.get("id").map(String::as_str)
    }

    /// Canonical XML of the element and everything inside it.
    pub fn canonical(&self) -> String {
        let attributes: String = self
            .attributes
            .iter()
            .map(|(k, v)| format!(" {k}=\"{v}\""))
            .collect();
        let children: String = self.children.iter().map(Element::canonical).collect();
        format!(
            "<{}{attributes}>{}{children}</{}>",
            self.name,
            self.text.trim(),
            self.name
        )
    }

    pub fn walk<'a>(&'a self, into: &mut Vec<&'a Element>) {
        into.push(self);
        for child in &self.children {
            child.walk(into);
        }
    }

    /// The ids of the elements around each element with an id, innermost first.
    pub fn enclosing_ids(&self, around: &[String], into: &mut BTreeMap<String, Vec<String>>) {
        let mut around = around.to_vec();
        if let Some(id) = self.id() {
            into.insert(id.to_owned(), around.clone());
            around.insert(0, id.to_owned());
        }
        for child in &self.children {
            child.enclosing_ids(&around, into);
        }
    }
}

fn qualified(resolved: ResolveResult<'_>, local: &[u8]) -> String {
    let local = String::from_utf8_lossy(local);
    match resolved {
        ResolveResult::Bound(ns) => format!("{{{}}}{local}", String::from_utf8_lossy(ns.as_ref())),
        _ => local.into_owned(),
    }
}

pub fn parse(xml: &str) -> Element {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element {
        name: "document".into(),
        attributes: BTreeMap::new(),
        children: Vec::new(),
        text: String::new(),
    }];
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let (ns, local) = reader.resolve_element(e.name());
            let mut element = Element {
                name: qualified(ns, local.as_ref()),
                attributes: BTreeMap::new(),
                children: Vec::new(),
                text: String::new(),
            };
            for attr in e.attributes().flatten() {
                if attr.key.as_ref().starts_with(b"xmlns") {
                    continue;
                }
                let (ns, local) = reader.resolve_attribute(attr.key);
                let value = attr.unescape_value().expect("attribute value").into_owned();
                element
                    .attributes
                    .insert(qualified(ns, local.as_ref()), value);
            }
            if empty {
                stack
                    .last_mut()
                    .expect("open element")
                    .children
                    .push(element);
            } else {
                stack.push(element);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                let done = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(done);
            }
            Event::Text(t) => {
                let text = t.unescape().expect("text");
                stack
                    .last_mut()
                    .expect("open element")
                    .text
                    .push_str(text.trim());
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                stack.last_mut().expect("open element").text.push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().expect("document")
}

/// The semantic part of a document in a form where only meaning counts: the drawing, the
/// `incoming` and `outgoing` a writer derives from the flows, and the order of flow elements
/// are left out; a process that does not say whether it is executable is not.
pub fn semantics(xml: &str) -> Element {
    fn normalise(element: &mut Element) {
        element
            .children
            .retain(|c| !c.name.starts_with(&format!("{{{BPMNDI_NS}}}")));
        element
            .children
            .retain(|c| !c.is_bpmn("incoming") && !c.is_bpmn("outgoing"));
        if element.is_bpmn("process") {
            element
                .attributes
                .entry("isExecutable".into())
                .or_insert_with(|| "false".into());
        }
        if element.is_bpmn("process")
            || element.is_bpmn("subProcess")
            || element.is_bpmn("definitions")
            || element.is_bpmn("collaboration")
        {
            element
                .children
                .sort_by_key(|c| (c.local().to_owned(), c.id().unwrap_or_default().to_owned()));
        }
        for child in &mut element.children {
            normalise(child);
        }
    }
    let mut document = parse(xml);
    normalise(&mut document);
    document
}
