//! The page's plotters backend: draws on an HTML `<canvas>` what plotters-canvas would draw,
//! call for call, but hands the calls to the browser in one batch per chart.
//!
//! Each primitive is written to a list of numbers (an opcode, then its arguments) and each text
//! or font to one string; `present` hands both to a small JS function (`replay` in
//! `src/web/replay.js`, whose `OP` table names the same numbers as [`Op`]) that makes the canvas
//! calls: one crossing from wasm to JS a chart instead of one a primitive (a chart has
//! hundreds), and one string to decode instead of one a label.
//! Styles are set only when they change (every `set_*` on a 2D context parses its string).
//!
//! Text is measured at once, while plotters lays out the chart, with the canvas's own
//! `measureText` (cached). plotters measures text, by default, by appending a `<span>` to the
//! document and reading its size, which forces the browser to lay out the page; `measureText`
//! gives the same width (rounded as the span's `offsetWidth`); the height, the span's line box,
//! is the same for every one-line text of a font, so it is measured the old way once per font.

use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use wasm_bindgen::prelude::*;
use web_sys::CanvasRenderingContext2d;

#[wasm_bindgen(module = "/src/web/replay.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn replay(ctx: &CanvasRenderingContext2d, ops: &[f64], texts: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(catch, js_name = putRgba)]
    fn put_rgba(
        ctx: &CanvasRenderingContext2d,
        x: i32,
        y: i32,
        w: u32,
        h: u32,
        bytes: &[u8],
    ) -> Result<(), JsValue>;

    /// What the backend draws on: an HTML `<canvas>`, or an `OffscreenCanvas` (the page hands
    /// over its canvases' control: drawing there needs no style or layout of the document, and
    /// its text is about twice as fast). Both have these members, and 2D contexts with the
    /// same methods.
    #[wasm_bindgen(typescript_type = "HTMLCanvasElement | OffscreenCanvas")]
    pub type Surface;
    #[wasm_bindgen(method, getter)]
    fn width(this: &Surface) -> u32;
    #[wasm_bindgen(method, getter)]
    fn height(this: &Surface) -> u32;
    #[wasm_bindgen(method, catch, js_name = getContext)]
    fn get_context(this: &Surface, kind: &str) -> Result<JsValue, JsValue>;
}

/// The operations `replay` knows, each followed by its arguments.
#[derive(Clone, Copy)]
enum Op {
    /// `r g b a`: the fill style `rgba(r,g,b,a)`.
    FillStyle = 0,
    /// `r g b a width`: the stroke style and the line width.
    StrokeStyle = 1,
    /// The font (the next string).
    Font = 2,
    /// `i`: textAlign `start`, `end`, `center`.
    Align = 3,
    /// `i`: textBaseline `top`, `middle`, `bottom`.
    Baseline = 4,
    /// `x y w h`.
    FillRect = 5,
    /// `x y w h`.
    StrokeRect = 6,
    /// `n x0 y0 ... x(n-1) y(n-1)`: a new path through the points, stroked (n >= 1).
    StrokePath = 7,
    /// `n x0 y0 ...`: a new closed path through the points, filled (n >= 1).
    FillPath = 8,
    /// `x y r`: a full circle, filled.
    FillCircle = 9,
    /// `x y r`: a full circle, stroked.
    StrokeCircle = 10,
    /// `x y`: the next string, filled at the point.
    Text = 11,
    /// `x y angle`: the next string, filled at the origin of a frame moved to the point and
    /// turned by the angle (radians).
    RotatedText = 12,
}

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

/// Text sizes measured so far, by font and text (see `estimate_text_size`; labels repeat from
/// one draw to the next). Cleared when it grows past [`TEXT_CACHE_MAX`] entries.
type TextSizes = HashMap<String, (u32, u32)>;

thread_local! {
    static TEXT_SIZES: RefCell<TextSizes> = RefCell::new(HashMap::new());
}

/// The most text sizes kept.
const TEXT_CACHE_MAX: usize = 4096;

/// The size kept for `key`, if any.
fn remembered(key: &str) -> Option<(u32, u32)> {
    TEXT_SIZES.with(|c| c.borrow().get(key).copied())
}

/// Keeps one measured size (forgetting all when there are too many).
fn remember(key: &str, size: (u32, u32)) {
    TEXT_SIZES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= TEXT_CACHE_MAX {
            c.clear();
        }
        c.insert(key.to_string(), size);
    });
}

/// A colour as the canvas's style string would say it, compared without formatting it.
type ColorKey = (u8, u8, u8, u64);

fn color_key(c: BackendColor) -> ColorKey {
    (c.rgb.0, c.rgb.1, c.rgb.2, c.alpha.to_bits())
}

/// A font as plotters-canvas writes it: `style size family` (see [`css_font`]).
type FontKey = (u64, String, String);

/// A plotters backend drawing on one canvas; make a new one for each drawing (it remembers
/// the styles it set). What it draws reaches the canvas at `present` (plotters'
/// `DrawingArea::present`), or when it is dropped.
pub struct PageCanvas {
    canvas: Surface,
    /// The canvas's 2D context (an `OffscreenCanvasRenderingContext2D` for an
    /// `OffscreenCanvas`: used only through the methods both have).
    context: CanvasRenderingContext2d,
    /// The operations not yet made ([`Op`] and arguments).
    ops: Vec<f64>,
    /// The strings they use, each ended by a NUL.
    texts: String,
    fill: Option<ColorKey>,
    stroke: Option<(ColorKey, u32)>,
    font: Option<FontKey>,
    align: Option<u8>,
    baseline: Option<u8>,
}

impl PageCanvas {
    /// A backend for `canvas` (an `HtmlCanvasElement` or an `OffscreenCanvas`), or `None` when
    /// it has no 2D context.
    pub fn new(canvas: impl JsCast) -> Option<PageCanvas> {
        let canvas: Surface = canvas.unchecked_into();
        let context = canvas.get_context("2d").ok()?;
        if context.is_null() || context.is_undefined() {
            return None;
        }
        let context: CanvasRenderingContext2d = context.unchecked_into();
        Some(PageCanvas {
            canvas,
            context,
            ops: Vec::with_capacity(4096),
            texts: String::with_capacity(1024),
            fill: None,
            stroke: None,
            font: None,
            align: None,
            baseline: None,
        })
    }

    #[inline(never)]
    fn op(&mut self, op: Op, args: &[f64]) {
        self.ops.push(op as u8 as f64);
        self.ops.extend_from_slice(args);
    }

    #[inline(never)]
    fn text(&mut self, text: &str) {
        self.texts.push_str(text);
        self.texts.push('\0');
    }

    /// A path through `path`'s points, stroked (`Op::StrokePath`, in `style`'s colour and
    /// width) or filled (`Op::FillPath`, in its colour); nothing for no points.
    fn path(
        &mut self,
        op: Op,
        path: impl IntoIterator<Item = BackendCoord>,
        style: &impl BackendStyle,
    ) {
        let (color, width) = (style.color(), style.stroke_width());
        let at = self.begin_path(op, color, width);
        for (x, y) in path {
            self.point(x, y);
        }
        self.end_path(at);
    }

    /// Starts a path: its style, then the op and a place for the number of points. Returns
    /// where it starts, and what the styles were before it, for [`PageCanvas::end_path`].
    #[inline(never)]
    fn begin_path(&mut self, op: Op, color: BackendColor, width: u32) -> PathStart {
        let (style_at, fill, stroke) = (self.ops.len(), self.fill, self.stroke);
        match op {
            Op::FillPath => self.set_fill(color),
            _ => self.set_stroke(color, width),
        }
        let at = self.ops.len();
        self.op(op, &[0.0]);
        PathStart {
            style_at,
            at,
            fill,
            stroke,
        }
    }

    #[inline(never)]
    fn point(&mut self, x: i32, y: i32) {
        self.ops.extend_from_slice(&[f64::from(x), f64::from(y)]);
    }

    /// Ends a path begun at `start`: writes its number of points, or, with none, takes the
    /// path and its style back out (an empty path draws nothing, and set no style before).
    #[inline(never)]
    fn end_path(&mut self, start: PathStart) {
        let n = (self.ops.len() - start.at - 2) / 2;
        if n == 0 {
            self.ops.truncate(start.style_at);
            self.fill = start.fill;
            self.stroke = start.stroke;
        } else {
            self.ops[start.at + 1] = n as f64;
        }
    }

    #[inline(never)]
    fn set_fill(&mut self, c: BackendColor) {
        let key = color_key(c);
        if self.fill != Some(key) {
            let (r, g, b) = c.rgb;
            self.op(
                Op::FillStyle,
                &[f64::from(r), f64::from(g), f64::from(b), c.alpha],
            );
            self.fill = Some(key);
        }
    }

    #[inline(never)]
    fn set_stroke(&mut self, c: BackendColor, width: u32) {
        let key = (color_key(c), width);
        if self.stroke != Some(key) {
            let (r, g, b) = c.rgb;
            self.op(
                Op::StrokeStyle,
                &[
                    f64::from(r),
                    f64::from(g),
                    f64::from(b),
                    c.alpha,
                    f64::from(width),
                ],
            );
            self.stroke = Some(key);
        }
    }

    /// Sets the font `style size family` (as [`css_font`] writes it) unless it is set.
    #[inline(never)]
    fn set_font(&mut self, size: f64, style: &str, family: &str) {
        let same = matches!(&self.font, Some((z, s, f))
            if *z == size.to_bits() && s == style && f == family);
        if !same {
            let mut css = String::new();
            let _ = write!(css, "{style} {size}px {family}");
            self.op(Op::Font, &[]);
            self.text(&css);
            self.font = Some((size.to_bits(), style.to_string(), family.to_string()));
        }
    }

    #[inline(never)]
    fn set_anchor(&mut self, align: u8, baseline: u8) {
        if self.align != Some(align) {
            self.op(Op::Align, &[f64::from(align)]);
            self.align = Some(align);
        }
        if self.baseline != Some(baseline) {
            self.op(Op::Baseline, &[f64::from(baseline)]);
            self.baseline = Some(baseline);
        }
    }

    #[inline(never)]
    fn line(&mut self, from: BackendCoord, to: BackendCoord, color: BackendColor, width: u32) {
        let (from, to) = fine_hor_ver_lines(from, to);
        self.set_stroke(color, width);
        self.op(Op::StrokePath, &[2.0, from.0, from.1, to.0, to.1]);
    }

    #[inline(never)]
    fn rect(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        color: BackendColor,
        width: u32,
        fill: bool,
    ) {
        // Corners in either order: the rectangle from its least corner, with a size >= 0 (the
        // replay's merged fills count on it).
        let (x0, x1) = (
            upper_left.0.min(bottom_right.0),
            upper_left.0.max(bottom_right.0),
        );
        let (y0, y1) = (
            upper_left.1.min(bottom_right.1),
            upper_left.1.max(bottom_right.1),
        );
        let (x, y) = (f64::from(x0), f64::from(y0));
        let w = f64::from(x1) - x;
        let h = f64::from(y1) - y;
        if fill {
            self.set_fill(color);
            self.op(Op::FillRect, &[x, y, w, h]);
        } else {
            self.set_stroke(color, width);
            self.op(Op::StrokeRect, &[x, y, w, h]);
        }
    }

    #[inline(never)]
    fn circle(
        &mut self,
        center: BackendCoord,
        radius: u32,
        color: BackendColor,
        width: u32,
        fill: bool,
    ) {
        let op = if fill {
            self.set_fill(color);
            Op::FillCircle
        } else {
            self.set_stroke(color, width);
            Op::StrokeCircle
        };
        self.op(
            op,
            &[f64::from(center.0), f64::from(center.1), f64::from(radius)],
        );
    }

    /// Fills `text` at `pos` in `color` and `font` (size, style, family), anchored and turned
    /// as given.
    #[inline(never)]
    fn fill_text(
        &mut self,
        text: &str,
        pos: BackendCoord,
        color: BackendColor,
        font: (f64, &str, &str),
        anchor: plotters_backend::text_anchor::Pos,
        transform: FontTransform,
    ) {
        let baseline = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => 1,
            VPos::Bottom => 2,
        };
        let align = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Right => 1,
            HPos::Center => 2,
        };
        // Styles in the order plotters-canvas set them.
        self.set_anchor(align, baseline);
        self.set_fill(color);
        self.set_font(font.0, font.1, font.2);
        let degree = match transform {
            FontTransform::None => 0.0,
            FontTransform::Rotate90 => 90.0,
            FontTransform::Rotate180 => 180.0,
            FontTransform::Rotate270 => 270.0,
        } / 180.0
            * std::f64::consts::PI;
        let (x, y) = (f64::from(pos.0), f64::from(pos.1));
        if degree != 0.0 {
            self.op(Op::RotatedText, &[x, y, degree]);
        } else {
            self.op(Op::Text, &[x, y]);
        }
        self.text(text);
    }

    /// Makes the canvas calls recorded so far.
    fn flush(&mut self) -> Result<(), DrawingErrorKind<CanvasError>> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let done = replay(&self.context, &self.ops, &self.texts).map_err(error_cast);
        self.ops.clear();
        self.texts.clear();
        done
    }
}

impl Drop for PageCanvas {
    fn drop(&mut self) {
        // A drawing that stopped early (an error) still shows what it drew, as before.
        let _ = self.flush();
    }
}

/// Where a path's ops start, and the styles before it (see [`PageCanvas::begin_path`]).
struct PathStart {
    /// Where its style ops (if any) start.
    style_at: usize,
    /// Where its op starts.
    at: usize,
    fill: Option<ColorKey>,
    stroke: Option<(ColorKey, u32)>,
}

/// Writes the CSS font of a text style, as plotters-canvas writes it, to `out`.
fn css_font<S: BackendTextStyle>(out: &mut String, style: &S) {
    let _ = write!(
        out,
        "{} {}px {}",
        style.style().as_str(),
        style.size(),
        style.family().as_str()
    );
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
        self.flush()
    }

    /// The bitmap in one `putImageData` (after the calls recorded before it), clipped to the
    /// canvas: a heatmap's hundreds of thousands of pixels in one call, where plotters'
    /// default draws each as a rectangle.
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        let (cw, ch) = self.get_size();
        let x0 = pos.0.max(0);
        let y0 = pos.1.max(0);
        let x1 = (pos.0.saturating_add(iw as i32)).min(cw as i32);
        let y1 = (pos.1.saturating_add(ih as i32)).min(ch as i32);
        if x1 <= x0 || y1 <= y0 || src.len() < (iw as usize) * (ih as usize) * 3 {
            return Ok(());
        }
        let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
        let mut rgba = vec![255u8; w * h * 4];
        for y in 0..h {
            let sy = (y0 - pos.1) as usize + y;
            let sx = (x0 - pos.0) as usize;
            let from = &src[(sy * iw as usize + sx) * 3..][..w * 3];
            for (o, p) in rgba[y * w * 4..][..w * 4]
                .chunks_exact_mut(4)
                .zip(from.chunks_exact(3))
            {
                o[..3].copy_from_slice(p);
            }
        }
        self.flush()?;
        put_rgba(&self.context, x0, y0, w as u32, h as u32, &rgba).map_err(error_cast)
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
        self.op(
            Op::FillRect,
            &[f64::from(point.0), f64::from(point.1), 1.0, 1.0],
        );
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
        self.line(from, to, style.color(), style.stroke_width());
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
        self.rect(
            upper_left,
            bottom_right,
            style.color(),
            style.stroke_width(),
            fill,
        );
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
        self.path(Op::StrokePath, path, style);
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
        self.path(Op::FillPath, path, style);
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
        self.circle(center, radius, style.color(), style.stroke_width(), fill);
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<CanvasError>> {
        // The key: the font (its size as the float's bits: formatting the float, for every label
        // plotters lays out, cost more than the lookup), a NUL, the text.
        let mut key = String::with_capacity(48 + text.len());
        let _ = write!(
            key,
            "{} {} {}\0",
            style.size().to_bits(),
            style.style().as_str(),
            style.family().as_str()
        );
        // The height of a line in this font (the span's box; the same for any one-line text)
        // is measured the old way once per font, kept under the font with no text.
        let height = match remembered(&key) {
            Some((_, h)) => h,
            None => {
                let ((_, y0), (_, y1)) = style
                    .layout_box("0")
                    .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
                let h = (y1 - y0).max(0) as u32;
                remember(&key, (0, h));
                h
            }
        };
        key.push_str(text);
        if let Some(size) = remembered(&key) {
            return Ok(size);
        }
        // The width, the text's advance, by the canvas (its font is set again before any text
        // is drawn: see `set_font`, whose first call in a drawing always sets it).
        let mut font = String::new();
        css_font(&mut font, style);
        self.context.set_font(&font);
        let m = self.context.measure_text(text).map_err(error_cast)?;
        let width = m.width().round().max(0.0) as u32;
        remember(&key, (width, height));
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
        let (size, st, family) = (style.size(), style.style(), style.family());
        self.fill_text(
            text,
            pos,
            color,
            (size, st.as_str(), family.as_str()),
            style.anchor(),
            style.transform(),
        );
        Ok(())
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
