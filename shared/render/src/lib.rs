//! Pictures of BPMN 2.0 diagrams, drawn server-side from their diagram interchange (BPMNDI).
//!
//! - [`scene`] reads what a picture needs from a document any tool wrote;
//! - [`draw`] composes the SVG, with [`icons`] for the markers inside shapes, [`text`] for
//!   labels measured and wrapped as bpmn-js wraps them, and [`palette`] for the two themes;
//! - [`png`] rasterises the SVG with resvg and the embedded font.
//!
//! Shapes are drawn where and as bpmn-js draws them, so a picture matches what the same
//! diagram looks like in bpmn.io or Camunda Modeler (`deploy/render_compare.sh` checks every
//! shape's box against bpmn-js in Chromium).

mod draw;
mod icons;
mod palette;
mod png;
mod scene;
mod svg;
mod text;

pub use palette::Theme;
pub use scene::SceneError;

/// Why a diagram could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error("the picture could not be rasterised: {0}")]
    Raster(String),
}

/// The picture of `xml` as an SVG document.
pub fn svg(xml: &str, theme: Theme) -> Result<String, RenderError> {
    let scene = scene::Scene::read(xml)?;
    Ok(draw::document(&scene, &theme.palette()).0)
}

/// The picture of `xml` as a PNG, at twice the SVG's size where that stays under
/// [`png::MAX_PIXELS`], smaller where it would not.
pub fn png(xml: &str, theme: Theme) -> Result<Vec<u8>, RenderError> {
    let svg = svg(xml, theme)?;
    png::rasterise(&svg, theme.palette().background).map_err(RenderError::Raster)
}
