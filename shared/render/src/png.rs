//! PNG through resvg, with the font the labels were measured with embedded in the binary, so
//! a picture looks the same on every machine and needs no system fonts.

use std::sync::{Arc, LazyLock};

use resvg::{tiny_skia, usvg};

use crate::text::FONT;

/// The most pixels a PNG may have: 2× for a normal diagram, less for a huge one, so one
/// picture never takes more than about 32 MB of memory while it is drawn.
pub const MAX_PIXELS: f64 = 8_000_000.0;
const PREFERRED_SCALE: f64 = 2.0;

static OPTIONS: LazyLock<usvg::Options<'static>> = LazyLock::new(|| {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    // The SVG asks for Arial, then sans-serif; both resolve to the embedded face.
    fonts.set_sans_serif_family("Liberation Sans");
    usvg::Options {
        font_family: "Liberation Sans".into(),
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    }
});

pub fn rasterise(svg: &str) -> Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, &OPTIONS).map_err(|e| e.to_string())?;
    let size = tree.size();
    let (w, h) = (f64::from(size.width()), f64::from(size.height()));
    let scale = PREFERRED_SCALE.min((MAX_PIXELS / (w * h).max(1.0)).sqrt());
    let width = ((w * scale).ceil() as u32).max(1);
    let height = ((h * scale).ceil() as u32).max(1);
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| format!("a {width}×{height} picture cannot be allocated"))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale as f32, scale as f32),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| e.to_string())
}
