//! What an element of the model carries beyond it: the reader's part of [`crate::bpmn::carried`].
//! Attributes are recorded as an element opens; a child with no place in the model, directly
//! inside such an element, is copied as the source wrote it.

use quick_xml::events::BytesStart;

use super::copier::Tag;
use super::elements::{slice, Elements};
use crate::bpmn::carried::{
    is_activity_child, is_modeled_attribute, Carried, Slot, WrittenCondition,
};

impl Elements<'_> {
    /// Whether the open element around `tag` carries it: only what lies directly in an element
    /// of the model, and within a sub-process only the sub-process's own activity children.
    pub(super) fn carries(&self, tag: &Tag<'_>) -> bool {
        let Some((id, _, depth)) = self.carriers.last() else {
            return false;
        };
        *depth + 1 == tag.depth
            && self
                .outer
                .as_ref()
                .is_none_or(|outer| outer.id == *id && is_activity_child(tag.local))
    }

    /// Records the attributes of an element the model holds that the compiler does not write
    /// itself, raw as the source wrote them; an element with content may carry children too.
    pub(super) fn carry_attributes(
        &mut self,
        e: &BytesStart<'_>,
        id: &str,
        local: &str,
        has_content: bool,
        depth: usize,
    ) {
        for attr in e.attributes().flatten() {
            let name = String::from_utf8_lossy(attr.key.as_ref());
            if name.starts_with("xmlns") || is_modeled_attribute(local, &name) {
                continue;
            }
            if let Some(carried) = self.carried_mut(id, local) {
                carried.attribute(&name, &String::from_utf8_lossy(&attr.value));
            }
        }
        if has_content {
            self.carriers.push((id.to_owned(), local.to_owned(), depth));
        }
    }

    /// Starts carrying `tag`, a child of the innermost carrier, as the source wrote it.
    pub(super) fn carry_child(&mut self, tag: &Tag<'_>) {
        let Some((id, local, _)) = self.carriers.last().cloned() else {
            return;
        };
        let slot = Slot::of(&local, tag.local);
        if tag.is_empty {
            let xml = slice(self.xml, tag.start, tag.end);
            if let Some(carried) = self.carried_mut(&id, &local) {
                carried.child(slot, xml);
            }
        } else {
            self.open_carry = Some((id, local, slot, tag.start, tag.depth));
            self.skip_depth = Some(tag.depth);
        }
    }

    /// The open flow's `conditionExpression` closed at byte `end`: it is carried as the source
    /// wrote it, with the text the model holds of it.
    pub(super) fn keep_condition_as_written(&mut self, end: usize) {
        let Some(start) = self.open_condition.take() else {
            return;
        };
        let open_flow = self.open_flow;
        let Some(flow) = open_flow.and_then(|i| self.processes.last()?.flows.get(i)) else {
            return;
        };
        let (id, text) = (flow.id.clone(), flow.condition.clone().unwrap_or_default());
        let xml = slice(self.xml, start, end);
        if let Some(carried) = self.carried_mut(&id, "sequenceFlow") {
            carried.condition = Some(WrittenCondition { text, xml });
        }
    }

    /// What the element `id` (a `local` element) carries so far; "" is `<definitions>`.
    pub(super) fn carried_mut(&mut self, id: &str, local: &str) -> Option<&mut Carried> {
        if id.is_empty() {
            return Some(&mut self.diagram.kept.definitions);
        }
        let process = self.processes.last_mut()?;
        Some(
            process
                .carried
                .entry(id.to_owned())
                .or_insert_with(|| Carried::new(local)),
        )
    }
}
