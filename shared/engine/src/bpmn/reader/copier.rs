//! Copying through, byte for byte, what the process model has no place for: elements copied
//! whole (annotations, data, root elements, further diagrams), every shape and edge (later only
//! those drawing a kept element stay), and the content of sub-processes.

use super::attributes::Attributes;
use super::diagram::ProcessInProgress;
use crate::bpmn::carried::is_activity_child;
use crate::bpmn::kept::{KeptElement, Place, SubProcessContent};

/// A start tag, with where it lies in the document.
pub(super) struct Tag<'a> {
    pub local: &'a str,
    pub parent: &'a str,
    pub attrs: &'a Attributes<'a>,
    /// Elements open around it.
    pub depth: usize,
    pub is_empty: bool,
    /// Byte offsets of the tag's start and of the end of what has been read.
    pub start: usize,
    pub end: usize,
}

/// An element being copied through as the source wrote it, from the byte where it starts.
struct Capture {
    element: KeptElement,
    start: usize,
    depth: usize,
}

/// A sub-process whose content is being copied: its children are copied one by one, leaving
/// out the `incoming` and `outgoing` the compiler writes itself, and the sub-process's own
/// documentation, extensions and the like when the sub-process carries them.
struct SubProcessCapture {
    content: SubProcessContent,
    depth: usize,
    child_start: Option<usize>,
    carries_own: bool,
}

impl SubProcessCapture {
    fn copies(&self, local: &str) -> bool {
        let written_by_compiler = matches!(local, "incoming" | "outgoing");
        let carried = self.carries_own && is_activity_child(local);
        !written_by_compiler && !carried
    }
}

pub(super) struct Copier<'x> {
    xml: &'x str,
    capture: Option<Capture>,
    sub_process: Option<SubProcessCapture>,
    /// The `<process>` being read, copied too in case it turns out to be another pool's.
    process: Option<Capture>,
    /// Every process as the source wrote it, by id.
    pub(super) processes: Vec<KeptElement>,
    /// Root elements, drawings and further diagrams; a process's own are kept with it.
    outside: Vec<KeptElement>,
}

impl<'x> Copier<'x> {
    pub(super) fn new(xml: &'x str) -> Self {
        Copier {
            xml,
            capture: None,
            sub_process: None,
            process: None,
            processes: Vec::new(),
            outside: Vec::new(),
        }
    }

    /// Takes in a start tag. `skipping` says the reader is passing over the tag's parent;
    /// `planes` counts the DI planes opened so far. Answers whether the tag lies in an element
    /// copied whole, which the model then leaves alone.
    pub(super) fn start(
        &mut self,
        tag: &Tag<'_>,
        skipping: bool,
        planes: usize,
        warnings: &mut Vec<String>,
        processes: &mut [ProcessInProgress],
    ) -> bool {
        if let Some(process) = self.process.as_mut() {
            if let Some(id) = tag.attrs.get("id") {
                process.element.contains.push(id.to_owned());
            }
        } else if tag.local == "process" && tag.parent == "definitions" && !tag.is_empty {
            self.process = Some(Capture {
                element: KeptElement {
                    place: Place::Root,
                    id: tag.attrs.get("id").unwrap_or_default().to_owned(),
                    xml: String::new(),
                    connects: Vec::new(),
                    contains: Vec::new(),
                },
                start: tag.start,
                depth: tag.depth,
            });
        }
        if let Some(sub) = self.sub_process.as_mut() {
            if let Some(id) = tag.attrs.get("id") {
                sub.content.contains.push(id.to_owned());
            }
            if tag.depth == sub.depth + 1 && sub.copies(tag.local) {
                if tag.is_empty {
                    push_trimmed(&mut sub.content.xml, slice(self.xml, tag.start, tag.end));
                } else {
                    sub.child_start = Some(tag.start);
                }
            }
        }
        // A further diagram is known by the sub-process its plane draws.
        if let Some(c) = self
            .capture
            .as_mut()
            .filter(|c| c.element.place == Place::Diagram && tag.local == "BPMNPlane")
        {
            c.element.id = tag.attrs.get("bpmnElement").unwrap_or_default().to_owned();
        }
        let place = Place::of(tag.local, tag.parent).filter(|place| {
            self.capture.is_none()
                && !skipping
                && match place {
                    Place::Drawing => planes <= 1,
                    Place::Diagram => planes >= 1,
                    _ => true,
                }
        });
        if let Some(place) = place {
            let id_attribute = if place == Place::Drawing {
                "bpmnElement"
            } else {
                "id"
            };
            let element = KeptElement {
                place,
                id: tag.attrs.get(id_attribute).unwrap_or_default().to_owned(),
                xml: String::new(),
                connects: ["sourceRef", "targetRef"]
                    .iter()
                    .filter(|_| matches!(tag.local, "association" | "messageFlow"))
                    .filter_map(|a| tag.attrs.get(a).map(str::to_owned))
                    .collect(),
                contains: Vec::new(),
            };
            if matches!(place, Place::FlowElement | Place::Artifact) {
                warnings.push(format!(
                    "<{}> {} is not part of the process model; it is kept as it was",
                    tag.local, element.id
                ));
            }
            self.capture = Some(Capture {
                element,
                start: tag.start,
                depth: tag.depth,
            });
        }
        let copying_whole = self.copying_whole();
        if tag.is_empty && self.capture.as_ref().is_some_and(|c| c.depth == tag.depth) {
            self.finish(tag.end, processes);
        }
        copying_whole
    }

    /// Starts copying the content of the sub-process whose start tag was just read.
    /// `carries_own`: the sub-process carries its own activity children, which are then not
    /// part of its content.
    pub(super) fn start_sub_process(&mut self, id: String, depth: usize, carries_own: bool) {
        self.sub_process = Some(SubProcessCapture {
            content: SubProcessContent {
                id,
                xml: String::new(),
                contains: Vec::new(),
                expanded_at: None,
            },
            depth,
            child_start: None,
            carries_own,
        });
    }

    /// Takes in an end tag, `depth` elements deep once closed, read up to byte `end`.
    pub(super) fn end(&mut self, depth: usize, end: usize, processes: &mut [ProcessInProgress]) {
        if let Some(sub) = self.sub_process.as_mut() {
            if depth == sub.depth + 1 {
                if let Some(start) = sub.child_start.take() {
                    push_trimmed(&mut sub.content.xml, slice(self.xml, start, end));
                }
            } else if depth == sub.depth {
                if let (Some(sub), Some(process)) = (self.sub_process.take(), processes.last_mut())
                {
                    process.sub_processes.push(sub.content);
                }
            }
        }
        if self.capture.as_ref().is_some_and(|c| c.depth == depth) {
            self.finish(end, processes);
        }
        if self.process.as_ref().is_some_and(|c| c.depth == depth) {
            if let Some(element) = complete(&mut self.process, self.xml, end) {
                self.processes.push(element);
            }
        }
    }

    /// Whether the reader is inside an element copied whole, whose text is not the model's.
    pub(super) fn copying_whole(&self) -> bool {
        self.capture
            .as_ref()
            .is_some_and(|c| c.element.place.copies_whole())
    }

    /// Root elements, then drawings and further diagrams.
    pub(super) fn into_outside(self) -> (Vec<KeptElement>, Vec<KeptElement>) {
        self.outside
            .into_iter()
            .partition(|e| e.place == Place::Root)
    }

    /// Ends the capture at byte `end`, filing the element with its process or with the rest.
    fn finish(&mut self, end: usize, processes: &mut [ProcessInProgress]) {
        let Some(element) = complete(&mut self.capture, self.xml, end) else {
            return;
        };
        match (element.place, processes.last_mut()) {
            (Place::FlowElement | Place::Artifact, Some(process)) => process.kept.push(element),
            _ => self.outside.push(element),
        }
    }
}

/// Takes a capture out of its slot, with its text up to byte `end`.
fn complete(slot: &mut Option<Capture>, xml: &str, end: usize) -> Option<KeptElement> {
    let Capture {
        mut element, start, ..
    } = slot.take()?;
    element.xml = slice(xml, start, end).trim().to_owned();
    Some(element)
}

fn slice(xml: &str, start: usize, end: usize) -> &str {
    xml.get(start..end).unwrap_or_default()
}

fn push_trimmed(content: &mut String, piece: &str) {
    if !content.is_empty() {
        content.push('\n');
    }
    content.push_str(piece.trim());
}
