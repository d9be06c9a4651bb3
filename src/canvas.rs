//! The page's plotters backend: draws on an HTML `<canvas>` like plotters-canvas, but measures
//! text with the canvas's own `measureText` (cached) and sets a style only when it changes.
//!
//! plotters measures text, by default, by appending a `<span>` to the document and reading its
//! size, which forces the browser to lay out the page: about 0.25 ms a label, 70 labels a Bits
//! change. `measureText` needs no layout and gives the same width (rounded as the span's
//! `offsetWidth`); the height, the span's line box, is the same for every one-line text of a
//! font, so it is measured the old way once per font.
//! Every `set_*` on a 2D context parses its string again; the drawing itself is what
//! plotters-canvas does, call for call.

use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// A drawing error: the message of what the canvas threw.
#[derive(Debug)]
pub struct CanvasError(String);

impl std::fmt::Display for CanvasError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "canvas error: {}", self.0)
    }
}

impl std::error::Error for CanvasError {}

fn error_cast(e: JsValue) -> DrawingErrorKind<CanvasError> {
    DrawingErrorKind::DrawingError(CanvasError(
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "unknown".to_string()),
    ))
}

/// Text sizes measured so far, by CSS font and text (labels repeat from one draw to the next).
/// Cleared when it grows past [`TEXT_CACHE_MAX`] entries.
type TextSizes = HashMap<(String, String), (u32, u32)>;

thread_local! {
    static TEXT_SIZES: RefCell<TextSizes> = RefCell::new(HashMap::new());
}

/// The most text sizes kept.
const TEXT_CACHE_MAX: usize = 4096;

/// Keeps one measured size (forgetting all when there are too many).
fn remember(key: (String, String), size: (u32, u32)) {
    TEXT_SIZES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= TEXT_CACHE_MAX {
            c.clear();
        }
        c.insert(key, size);
    });
}

/// A colour as the canvas's style string would say it, compared without formatting it.
type ColorKey = (u8, u8, u8, u64);

fn color_key(c: BackendColor) -> ColorKey {
    (c.rgb.0, c.rgb.1, c.rgb.2, c.alpha.to_bits())
}

fn css_color(c: BackendColor) -> String {
    let (r, g, b) = c.rgb;
    format!("rgba({},{},{},{})", r, g, b, c.alpha)
}

/// A plotters backend drawing on one canvas; make a new one for each drawing (it remembers
/// the context's styles as it set them).
pub struct PageCanvas {
    canvas: HtmlCanvasElement,
    context: CanvasRenderingContext2d,
    fill: Option<ColorKey>,
    stroke: Option<(ColorKey, u32)>,
    font: Option<String>,
    align: Option<&'static str>,
    baseline: Option<&'static str>,
}

impl PageCanvas {
    /// A backend for `canvas`, or `None` when it has no 2D context.
    pub fn new(canvas: HtmlCanvasElement) -> Option<PageCanvas> {
        let context: CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
        Some(PageCanvas {
            canvas,
            context,
            fill: None,
            stroke: None,
            font: None,
            align: None,
            baseline: None,
        })
    }

    /// Begins a new path through `path`'s points; whether it had any. The caller strokes or
    /// fills it.
    fn trace(&self, path: impl IntoIterator<Item = BackendCoord>) -> bool {
        let mut path = path.into_iter();
        self.context.begin_path();
        let Some(start) = path.next() else {
            return false;
        };
        self.context.move_to(f64::from(start.0), f64::from(start.1));
        for next in path {
            self.context.line_to(f64::from(next.0), f64::from(next.1));
        }
        true
    }

    fn set_fill(&mut self, c: BackendColor) {
        let key = color_key(c);
        if self.fill != Some(key) {
            self.context.set_fill_style_str(&css_color(c));
            self.fill = Some(key);
        }
    }

    fn set_stroke(&mut self, style: &impl BackendStyle) {
        let key = (color_key(style.color()), style.stroke_width());
        if self.stroke != Some(key) {
            self.context.set_stroke_style_str(&css_color(style.color()));
            self.context.set_line_width(style.stroke_width() as f64);
            self.stroke = Some(key);
        }
    }

    fn set_font(&mut self, font: String) {
        if self.font.as_deref() != Some(font.as_str()) {
            self.context.set_font(&font);
            self.font = Some(font);
        }
    }

    fn set_anchor(&mut self, align: &'static str, baseline: &'static str) {
        if self.align != Some(align) {
            self.context.set_text_align(align);
            self.align = Some(align);
        }
        if self.baseline != Some(baseline) {
            self.context.set_text_baseline(baseline);
            self.baseline = Some(baseline);
        }
    }
}

/// The CSS font of a text style, as plotters-canvas writes it.
fn css_font<S: BackendTextStyle>(style: &S) -> String {
    format!(
        "{} {}px {}",
        style.style().as_str(),
        style.size(),
        style.family().as_str()
    )
}

impl DrawingBackend for PageCanvas {
    type ErrorType = CanvasError;

    fn get_size(&self) -> (u32, u32) {
        (self.canvas.width(), self.canvas.height())
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<CanvasError>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<CanvasError>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if color.alpha == 0.0 {
            return Ok(());
        }
        self.set_fill(color);
        self.context
            .fill_rect(f64::from(point.0), f64::from(point.1), 1.0, 1.0);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let (from, to) = fine_hor_ver_lines(from, to);
        self.set_stroke(style);
        self.context.begin_path();
        self.context.move_to(from.0, from.1);
        self.context.line_to(to.0, to.1);
        self.context.stroke();
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let (x, y) = (f64::from(upper_left.0), f64::from(upper_left.1));
        let w = f64::from(bottom_right.0.saturating_sub(upper_left.0));
        let h = f64::from(bottom_right.1.saturating_sub(upper_left.1));
        if fill {
            self.set_fill(style.color());
            self.context.fill_rect(x, y, w, h);
        } else {
            self.set_stroke(style);
            self.context.stroke_rect(x, y, w, h);
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        if self.trace(path) {
            self.set_stroke(style);
        }
        self.context.stroke();
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        if self.trace(path) {
            self.set_fill(style.color());
            self.context.close_path();
        }
        self.context.fill();
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        if fill {
            self.set_fill(style.color());
        } else {
            self.set_stroke(style);
        }
        self.context.begin_path();
        self.context
            .arc(
                f64::from(center.0),
                f64::from(center.1),
                f64::from(radius),
                0.0,
                std::f64::consts::PI * 2.0,
            )
            .map_err(error_cast)?;
        if fill {
            self.context.fill();
        } else {
            self.context.stroke();
        }
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<CanvasError>> {
        let font = css_font(style);
        let key = (font, text.to_string());
        if let Some(size) = TEXT_SIZES.with(|c| c.borrow().get(&key).copied()) {
            return Ok(size);
        }
        // The height of a line in this font (the span's box; the same for any one-line text)
        // is measured the old way once per font; the width, the text's advance, by the canvas.
        let height_key = (key.0.clone(), String::new());
        let height = match TEXT_SIZES.with(|c| c.borrow().get(&height_key).copied()) {
            Some((_, h)) => h,
            None => {
                let ((_, y0), (_, y1)) = style
                    .layout_box("0")
                    .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
                let h = (y1 - y0).max(0) as u32;
                remember(height_key, (0, h));
                h
            }
        };
        // Measured with the font set, then the context's font put back as this backend left it.
        self.context.set_font(&key.0);
        let m = self.context.measure_text(text).map_err(error_cast)?;
        if let Some(f) = &self.font {
            if *f != key.0 {
                self.context.set_font(f);
            }
        }
        let width = m.width().round().max(0.0) as u32;
        remember(key, (width, height));
        Ok((width, height))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let baseline = match style.anchor().v_pos {
            VPos::Top => "top",
            VPos::Center => "middle",
            VPos::Bottom => "bottom",
        };
        let align = match style.anchor().h_pos {
            HPos::Left => "start",
            HPos::Right => "end",
            HPos::Center => "center",
        };
        // Styles first, outside save/restore, so that what this backend remembers stays true.
        self.set_anchor(align, baseline);
        self.set_fill(color);
        self.set_font(css_font(style));
        let degree = match style.transform() {
            FontTransform::None => 0.0,
            FontTransform::Rotate90 => 90.0,
            FontTransform::Rotate180 => 180.0,
            FontTransform::Rotate270 => 270.0,
        } / 180.0
            * std::f64::consts::PI;
        let (mut x, mut y) = (f64::from(pos.0), f64::from(pos.1));
        if degree != 0.0 {
            self.context.save();
            self.context.translate(x, y).map_err(error_cast)?;
            self.context.rotate(degree).map_err(error_cast)?;
            x = 0.0;
            y = 0.0;
        }
        let drawn = self.context.fill_text(text, x, y).map_err(error_cast);
        if degree != 0.0 {
            self.context.restore();
        }
        drawn
    }
}

/// Moves a vertical or horizontal line by half a pixel so that it is crisp (as plotters-canvas).
fn fine_hor_ver_lines(from: BackendCoord, end: BackendCoord) -> ((f64, f64), (f64, f64)) {
    let mut from = (from.0 as f64, from.1 as f64);
    let mut end = (end.0 as f64, end.1 as f64);
    if from.0 == end.0 {
        from.0 -= 0.5;
        end.0 -= 0.5;
    }
    if from.1 == end.1 {
        from.1 -= 0.5;
        end.1 -= 0.5;
    }
    (from, end)
}
