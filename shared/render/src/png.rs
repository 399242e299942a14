//! PNG through resvg, with the font the labels were measured with embedded in the binary, so
//! a picture looks the same on every machine and needs no system fonts.

use std::sync::{Arc, LazyLock};

use resvg::{tiny_skia, usvg};

use crate::text::FONT;

/// The most pixels a PNG may have: 2× for a normal diagram, less for a large one, so one
/// picture takes at most about 16 MB of memory while it is drawn, and tens of milliseconds.
pub const MAX_PIXELS: f64 = 4_000_000.0;
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

/// Draws `svg` on a canvas filled with `background` (so every pixel is opaque) and encodes it.
pub fn rasterise(svg: &str, background: &str) -> Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, &OPTIONS).map_err(|e| e.to_string())?;
    let size = tree.size();
    let (w, h) = (f64::from(size.width()), f64::from(size.height()));
    let scale = PREFERRED_SCALE.min((MAX_PIXELS / (w * h).max(1.0)).sqrt());
    let width = ((w * scale).ceil() as u32).max(1);
    let height = ((h * scale).ceil() as u32).max(1);
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| format!("a {width}×{height} picture cannot be allocated"))?;
    pixmap.fill(colour(background));
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale as f32, scale as f32),
        &mut pixmap.as_mut(),
    );
    encode(&pixmap)
}

/// PNG with fast compression: a diagram is mostly flat colour, which compresses well anyway,
/// and the default level takes as long as drawing the picture. The canvas is opaque, so its
/// premultiplied pixels are already the straight RGBA PNG wants.
fn encode(pixmap: &tiny_skia::Pixmap) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(pixmap.data().len() / 16);
    let mut encoder = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(pixmap.data())
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// A `#rrggbb` colour; black for anything else, which the palette never holds.
fn colour(hex: &str) -> tiny_skia::Color {
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|c| u8::from_str_radix(c, 16).ok())
            .unwrap_or(0)
    };
    tiny_skia::Color::from_rgba8(channel(1), channel(3), channel(5), 255)
}
