//! Reads what a picture needs from BPMN 2.0 XML written by any tool: each element's kind and
//! what changes its look (name, event definitions, markers), and where the first diagram plane
//! draws it.
//!
//! This is not the engine's reader: a picture must come out of whatever a tool wrote, including
//! what the process model has no place for (choreographies aside, anything with DI is drawn),
//! and it needs nothing of the model's semantics.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};

/// Deepest nesting read. Real diagrams stay far below it; a document built to exhaust the
/// stack is refused instead.
const MAX_DEPTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document declares a DTD, which is refused")]
    Dtd,
    #[error("the document nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the document has no diagram interchange (BPMNDI) to draw")]
    NoDiagram,
}

/// What an element of the process is, as far as drawing it goes.
#[derive(Debug, Default, Clone)]
pub struct Semantic {
    /// The local name of the element: `task`, `startEvent`, `participant`…
    pub kind: String,
    pub name: Option<String>,
    /// Local names of its event definitions, in order: `timerEventDefinition`…
    pub definitions: Vec<String>,
    pub attrs: HashMap<String, String>,
    /// `standardLoopCharacteristics`, or `multiInstanceLoopCharacteristics` with
    /// `isSequential`.
    pub looping: Option<Looping>,
    /// A sequence flow with a `conditionExpression`.
    pub conditional: bool,
    /// A text annotation's text.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looping {
    Standard,
    Parallel,
    Sequential,
}

impl Semantic {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        match self.attr(name) {
            Some(v) => v == "true",
            None => default,
        }
    }

    pub fn is_event(&self) -> bool {
        self.kind.ends_with("Event")
    }

    pub fn is_gateway(&self) -> bool {
        self.kind.ends_with("Gateway")
    }

    pub fn is_activity(&self) -> bool {
        self.kind.ends_with("Task")
            || matches!(
                self.kind.as_str(),
                "task" | "subProcess" | "transaction" | "adHocSubProcess" | "callActivity"
            )
    }

    /// Events that throw draw their markers filled.
    pub fn is_throwing(&self) -> bool {
        matches!(self.kind.as_str(), "endEvent" | "intermediateThrowEvent")
    }

    /// A start event in an event sub-process, or a boundary event, that does not interrupt.
    pub fn is_non_interrupting(&self) -> bool {
        match self.kind.as_str() {
            "startEvent" => !self.flag("isInterrupting", true),
            "boundaryEvent" => !self.flag("cancelActivity", true),
            _ => false,
        }
    }

    pub fn is_for_compensation(&self) -> bool {
        self.flag("isForCompensation", false)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    pub const fn new(x: f64, y: f64, width: f64, height: f64) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }
    pub fn right(&self) -> f64 {
        self.x + self.width
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.height
    }
    pub fn centre_x(&self) -> f64 {
        self.x + self.width / 2.0
    }
    pub fn centre_y(&self) -> f64 {
        self.y + self.height / 2.0
    }
}

/// A `BPMNShape` of the first plane.
#[derive(Debug, Clone)]
pub struct Shape {
    pub element: String,
    pub bounds: Rect,
    pub label: Option<Rect>,
    pub expanded: Option<bool>,
    pub horizontal: Option<bool>,
    pub marker_visible: bool,
}

/// A `BPMNEdge` of the first plane.
#[derive(Debug, Clone)]
pub struct Edge {
    pub element: String,
    pub waypoints: Vec<(f64, f64)>,
    pub label: Option<Rect>,
}

/// Everything a picture is drawn from.
#[derive(Debug, Default)]
pub struct Scene {
    pub semantics: HashMap<String, Semantic>,
    pub shapes: Vec<Shape>,
    pub edges: Vec<Edge>,
}

impl Scene {
    pub fn semantic(&self, id: &str) -> Option<&Semantic> {
        self.semantics.get(id)
    }

    /// Reads a document. Answers [`SceneError::NoDiagram`] when it has nothing to draw.
    pub fn read(xml: &str) -> Result<Scene, SceneError> {
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().trim_text(false);
        let mut scene = Scene::default();
        let mut state = State::default();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| SceneError::Malformed(e.to_string()))?;
            match event {
                Event::DocType(_) => return Err(SceneError::Dtd),
                Event::Start(start) => {
                    state.open(&mut scene, &start)?;
                }
                Event::Empty(start) => {
                    state.open(&mut scene, &start)?;
                    state.close(&mut scene);
                }
                Event::End(_) => state.close(&mut scene),
                Event::Text(text) if state.collecting_text() => {
                    let text = text
                        .unescape()
                        .map_err(|e| SceneError::Malformed(e.to_string()))?;
                    state.text.push_str(&text);
                }
                Event::CData(data) if state.collecting_text() => {
                    state.text.push_str(&String::from_utf8_lossy(&data));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if scene.shapes.is_empty() && scene.edges.is_empty() {
            return Err(SceneError::NoDiagram);
        }
        Ok(scene)
    }
}

/// What one open element is, for the reader's stack.
#[derive(Debug, Clone, PartialEq)]
enum Open {
    /// A process element with an id: its semantic entry is being filled.
    Element(String),
    Plane,
    Shape,
    Edge,
    Label,
    /// The `text` of a text annotation.
    AnnotationText,
    Diagram,
    Other,
}

#[derive(Default)]
struct State {
    stack: Vec<Open>,
    in_di: bool,
    planes: usize,
    shape: Option<Shape>,
    edge: Option<Edge>,
    text: String,
}

impl State {
    fn collecting_text(&self) -> bool {
        matches!(self.stack.last(), Some(Open::AnnotationText))
    }

    fn on_first_plane(&self) -> bool {
        self.planes == 1 && self.stack.contains(&Open::Plane)
    }

    /// The semantic element the innermost open process element is, if any.
    fn owner(&self) -> Option<&str> {
        self.stack.iter().rev().find_map(|open| match open {
            Open::Element(id) => Some(id.as_str()),
            _ => None,
        })
    }

    fn open(&mut self, scene: &mut Scene, start: &BytesStart<'_>) -> Result<(), SceneError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SceneError::TooDeep);
        }
        let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let attrs = attributes(start)?;
        let open = if local == "BPMNDiagram" {
            self.in_di = true;
            Open::Diagram
        } else if self.in_di {
            self.open_di(&local, &attrs)
        } else {
            self.open_semantic(scene, local, attrs)
        };
        self.stack.push(open);
        Ok(())
    }

    fn open_di(&mut self, local: &str, attrs: &HashMap<String, String>) -> Open {
        match local {
            "BPMNPlane" => {
                self.planes += 1;
                Open::Plane
            }
            "BPMNShape" if self.on_first_plane() => match attrs.get("bpmnElement") {
                Some(element) => {
                    self.shape = Some(Shape {
                        element: element.clone(),
                        bounds: Rect::new(0.0, 0.0, 0.0, 0.0),
                        label: None,
                        expanded: attrs.get("isExpanded").map(|v| v == "true"),
                        horizontal: attrs.get("isHorizontal").map(|v| v == "true"),
                        marker_visible: attrs.get("isMarkerVisible").is_some_and(|v| v == "true"),
                    });
                    Open::Shape
                }
                None => Open::Other,
            },
            "BPMNEdge" if self.on_first_plane() => match attrs.get("bpmnElement") {
                Some(element) => {
                    self.edge = Some(Edge {
                        element: element.clone(),
                        waypoints: Vec::new(),
                        label: None,
                    });
                    Open::Edge
                }
                None => Open::Other,
            },
            "BPMNLabel" => Open::Label,
            "Bounds" => {
                let in_label = self.stack.last() == Some(&Open::Label);
                if let Some(bounds) = rect(attrs) {
                    if let Some(shape) = self.shape.as_mut() {
                        if in_label {
                            shape.label = Some(bounds);
                        } else {
                            shape.bounds = bounds;
                        }
                    } else if let (Some(edge), true) = (self.edge.as_mut(), in_label) {
                        edge.label = Some(bounds);
                    }
                }
                Open::Other
            }
            "waypoint" => {
                if let (Some(edge), Some(x), Some(y)) =
                    (self.edge.as_mut(), number(attrs, "x"), number(attrs, "y"))
                {
                    edge.waypoints.push((x, y));
                }
                Open::Other
            }
            _ => Open::Other,
        }
    }

    fn open_semantic(
        &mut self,
        scene: &mut Scene,
        local: String,
        attrs: HashMap<String, String>,
    ) -> Open {
        let owner = self.owner().map(str::to_owned);
        // What an element's children say about how it looks.
        if let Some(owner) = owner.as_deref().and_then(|id| scene.semantics.get_mut(id)) {
            if local.ends_with("EventDefinition") {
                owner.definitions.push(local);
                return Open::Other;
            }
            match local.as_str() {
                "eventDefinitionRef" => {
                    owner.definitions.push("eventDefinitionRef".into());
                    return Open::Other;
                }
                "conditionExpression" => {
                    owner.conditional = true;
                    return Open::Other;
                }
                "standardLoopCharacteristics" => {
                    owner.looping = Some(Looping::Standard);
                    return Open::Other;
                }
                "multiInstanceLoopCharacteristics" => {
                    let sequential = attrs.get("isSequential").is_some_and(|v| v == "true");
                    owner.looping = Some(if sequential {
                        Looping::Sequential
                    } else {
                        Looping::Parallel
                    });
                    return Open::Other;
                }
                "text" if owner.kind == "textAnnotation" => {
                    self.text.clear();
                    return Open::AnnotationText;
                }
                _ => {}
            }
        }
        match attrs.get("id") {
            Some(id) => {
                let id = id.clone();
                let name = attrs.get("name").cloned();
                scene.semantics.insert(
                    id.clone(),
                    Semantic {
                        kind: local,
                        name,
                        attrs,
                        ..Semantic::default()
                    },
                );
                Open::Element(id)
            }
            None => Open::Other,
        }
    }

    fn close(&mut self, scene: &mut Scene) {
        match self.stack.pop() {
            Some(Open::Shape) => {
                if let Some(shape) = self.shape.take() {
                    scene.shapes.push(shape);
                }
            }
            Some(Open::Edge) => {
                if let Some(edge) = self.edge.take() {
                    if edge.waypoints.len() >= 2 {
                        scene.edges.push(edge);
                    }
                }
            }
            Some(Open::Diagram) => self.in_di = false,
            Some(Open::AnnotationText) => {
                if let Some(id) = self.owner().map(str::to_owned) {
                    if let Some(semantic) = scene.semantics.get_mut(&id) {
                        semantic.text = Some(std::mem::take(&mut self.text));
                    }
                }
            }
            _ => {}
        }
    }
}

fn attributes(start: &BytesStart<'_>) -> Result<HashMap<String, String>, SceneError> {
    let mut attrs = HashMap::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| SceneError::Malformed(e.to_string()))?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| SceneError::Malformed(e.to_string()))?
            .into_owned();
        attrs.insert(key, value);
    }
    Ok(attrs)
}

fn number(attrs: &HashMap<String, String>, name: &str) -> Option<f64> {
    attrs
        .get(name)?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn rect(attrs: &HashMap<String, String>) -> Option<Rect> {
    Some(Rect {
        x: number(attrs, "x")?,
        y: number(attrs, "y")?,
        width: number(attrs, "width")?.max(0.0),
        height: number(attrs, "height")?.max(0.0),
    })
}
