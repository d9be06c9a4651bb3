//! Native figure export: the charts as SVG text or PNG files, with text laid out by ab_glyph.

use super::{draw_chart, drawing, ChartKind, Theme};
use crate::analysis::Analysis;
use crate::settings::QuantSettings;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// Where DejaVu Sans is looked for; the first is where Debian's `fonts-dejavu-core` puts it.
const FONT_PATHS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
];

/// Largest width or height of an exported figure, in pixels.
pub const MAX_SIDE: u32 = 10_000;

/// Loads DejaVu Sans and registers it with plotters as "sans-serif" (once per process).
///
/// Native text is laid out with ab_glyph from a font file; without one every chart fails.
pub fn register_native_font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let (path, bytes) = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
            .ok_or_else(|| {
                format!(
                    "no font for chart text: {} is missing; install the Debian package fonts-dejavu-core (apt-get install fonts-dejavu-core)",
                    FONT_PATHS[0]
                )
            })?;
        // plotters keeps fonts for the life of the process; leaking once is that.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{path} is not a font ab_glyph can read: reinstall fonts-dejavu-core"))
    })
    .clone()
}

fn check_size(width: u32, height: u32) -> Result<(), String> {
    if (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height) {
        Ok(())
    } else {
        Err(format!(
            "a figure of {width}x{height} pixels cannot be drawn: width and height must be from 1 to {MAX_SIDE}"
        ))
    }
}

/// One chart as an SVG document, light theme at scale 1.
pub fn render_svg(
    kind: ChartKind,
    analysis: &Analysis,
    q: &QuantSettings,
    width: u32,
    height: u32,
) -> Result<String, String> {
    render_svg_themed(kind, analysis, q, width, height, &Theme::default())
}

/// One chart as an SVG document in the given theme.
pub fn render_svg_themed(
    kind: ChartKind,
    analysis: &Analysis,
    q: &QuantSettings,
    width: u32,
    height: u32,
    theme: &Theme,
) -> Result<String, String> {
    svg_with(width, height, |root| {
        draw_chart(kind, root, analysis, q, theme)
    })
}

/// What `draw` draws on an area of `width` x `height` pixels, as an SVG document.
pub fn svg_with(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    check_size(width, height)?;
    register_native_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    // plotters-svg names an embedded bitmap's type `png`, which some readers refuse.
    Ok(svg.replace("href=\"data:png;base64,", "href=\"data:image/png;base64,"))
}

/// One chart written to a PNG file, light theme at scale 1.
pub fn render_png(
    kind: ChartKind,
    analysis: &Analysis,
    q: &QuantSettings,
    width: u32,
    height: u32,
    path: &Path,
) -> Result<(), String> {
    render_png_themed(kind, analysis, q, width, height, &Theme::default(), path)
}

/// One chart written to a PNG file in the given theme (a scale of 2 with twice the size gives
/// a HiDPI figure).
pub fn render_png_themed(
    kind: ChartKind,
    analysis: &Analysis,
    q: &QuantSettings,
    width: u32,
    height: u32,
    theme: &Theme,
    path: &Path,
) -> Result<(), String> {
    png_with(width, height, path, |root| {
        draw_chart(kind, root, analysis, q, theme)
    })
}

/// What `draw` draws on an area of `width` x `height` pixels, written to the PNG file `path`.
pub fn png_with(
    width: u32,
    height: u32,
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    check_size(width, height)?;
    register_native_font()?;
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    // Draw into memory first, so that a chart that fails leaves no half-drawn file behind.
    let mut file = BitMapBackend::new(path, (width, height));
    file.blit_bitmap((0, 0), (width, height), &buf)
        .map_err(drawing)?;
    file.present()
        .map_err(|e| format!("cannot write the PNG file {}: {e}", path.display()))
}
