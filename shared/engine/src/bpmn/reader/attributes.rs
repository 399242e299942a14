//! An element's attributes, as the reader looks them up.

use std::borrow::Cow;

use quick_xml::events::BytesStart;

use super::diagram::ReadError;

/// Most attributes accepted on one element.
const MAX_ATTRIBUTES: usize = 64;

/// An element's attributes by local name (namespace declarations by their whole name, such as
/// `xmlns:bpmn`), their values unescaped. Borrowed from the document unless an escape had to be
/// undone, and looked up by a scan: an element has a handful, and a map of owned strings built
/// for every element was a fifth of the time it takes to validate a diagram.
pub(super) struct Attributes<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Attributes<'a> {
    pub(super) fn of(e: &'a BytesStart<'_>) -> Result<Self, ReadError> {
        let mut attributes = Vec::new();
        for (count, attr) in e.attributes().enumerate() {
            if count >= MAX_ATTRIBUTES {
                return Err(ReadError::Refused(format!(
                    "an element has more than {MAX_ATTRIBUTES} attributes"
                )));
            }
            let attr = attr.map_err(|e| ReadError::Malformed(e.to_string()))?;
            let value = attr
                .unescape_value()
                .map_err(|e| ReadError::Malformed(e.to_string()))?;
            let key = attr.key.into_inner();
            let name = if key.starts_with(b"xmlns") {
                key
            } else {
                attr.key.local_name().into_inner()
            };
            attributes.push((String::from_utf8_lossy(name), value));
        }
        Ok(Attributes(attributes))
    }

    /// The value of the attribute named `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_ref())
    }
}
