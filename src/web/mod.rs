//! The wasm-bindgen boundary, the one module that knows the browser: it hands JavaScript's
//! strings, bytes and canvases to the [`crate::session::Session`] and its results back, errors
//! as JS `Error`s with the same message. No numerics and no state of its own here.

use crate::charts::Theme;
use crate::session::CSV_MAX_ROWS;
use crate::web::canvas::{PageCanvas, Surface};
use plotters::prelude::IntoDrawingArea;
use wasm_bindgen::prelude::*;

pub mod canvas;

/// The page's state (a [`crate::session::Session`]): the one type JavaScript holds.
#[wasm_bindgen]
#[derive(Default)]
pub struct Session {
    inner: crate::session::Session,
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Public methods, exported to JavaScript.
#[wasm_bindgen]
impl Session {
    /// A session with no data yet; call `update` first.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session::default()
    }

    /// Applies a query string (`dist=normal:0,1&bits=4...`) and returns the summary JSON.
    /// On bad input it throws an Error with the message and keeps the previous state.
    pub fn update(&mut self, query: &str) -> Result<String, JsError> {
        self.inner.update(query).map_err(js_err)
    }

    /// Uses the bytes of a file (`.npy`, or text of numbers) as the data, then applies the
    /// query's quantization settings; returns the summary JSON. Throws on a bad file and keeps
    /// the previous state.
    pub fn load(&mut self, bytes: &[u8], name: &str, query: &str) -> Result<String, JsError> {
        self.inner.load(bytes, name, query).map_err(js_err)
    }

    /// How many leading bytes of the model file `name` (`.safetensors`, `.gguf`) hold its
    /// header, given its first bytes (at least `modelPrefixBytes()` of them, or the whole file)
    /// and its length; where the answer is more than the bytes given, ask again with that many.
    #[wasm_bindgen(js_name = modelHeaderNeeded)]
    pub fn model_header_needed(prefix: &[u8], file_len: f64, name: &str) -> Result<usize, JsError> {
        crate::session::Session::model_header_needed(prefix, js_len(file_len)?, name)
            .map_err(js_err)
    }

    /// Reads a model file's tensor list from its header bytes and keeps it; returns it as JSON
    /// (see `session::Session::model_open`). The data shown does not change.
    #[wasm_bindgen(js_name = modelOpen)]
    pub fn model_open(
        &mut self,
        header: &[u8],
        file_len: f64,
        name: &str,
    ) -> Result<String, JsError> {
        self.inner
            .model_open(header, js_len(file_len)?, name)
            .map_err(js_err)
    }

    /// The byte range `[start, end]` of tensor `index` of the open model file, for
    /// `File.slice`; throws, before anything is read, where the page cannot load it.
    #[wasm_bindgen(js_name = modelRange)]
    pub fn model_range(&self, index: usize) -> Result<Vec<f64>, JsError> {
        let (start, end) = self.inner.model_range(index).map_err(js_err)?;
        Ok(vec![start as f64, end as f64])
    }

    /// Uses tensor `index` of the open model file, from exactly its bytes, as the data, then
    /// applies the query's quantization settings; returns the summary JSON. Throws on a bad
    /// tensor and keeps the previous state.
    #[wasm_bindgen(js_name = modelTensor)]
    pub fn model_tensor(
        &mut self,
        index: usize,
        bytes: &[u8],
        query: &str,
    ) -> Result<String, JsError> {
        self.inner.model_tensor(index, bytes, query).map_err(js_err)
    }

    /// The name of the model tensor that is the data, or undefined.
    #[wasm_bindgen(js_name = modelTensorName)]
    pub fn model_tensor_name(&self) -> Option<String> {
        self.inner.model_tensor_name().map(str::to_string)
    }

    /// Forgets a loaded file: the next `update` generates data again.
    #[wasm_bindgen(js_name = useGenerated)]
    pub fn use_generated(&mut self) {
        self.inner.use_generated();
    }

    /// Draws one chart (`histogram`, `error`, `compare`, `mapping`, `sweep`, the sweep's two
    /// parts `sweep-base` and `sweep-marker` (see `sweepCount`), `formats` (every format on the
    /// data), `blocks` (the format's blocks), `accuracy` (the model's accuracy against
    /// storage, after `loadModel`), `kl` (the KL calibration) or `rotation` (one rotated
    /// block)) of the current state onto a
    /// canvas (an `HTMLCanvasElement` or an `OffscreenCanvas`) whose width and height are
    /// already `css size * dpr`. The error chart's histogram and the sweep are computed on their
    /// charts' first draw of a state (`update` leaves them out, for a page that draws those
    /// charts after the frame).
    pub fn draw(
        &mut self,
        chart: &str,
        canvas: Surface,
        dpr: f64,
        dark: bool,
    ) -> Result<(), JsError> {
        let backend =
            PageCanvas::new(canvas).ok_or_else(|| JsError::new("the canvas has no 2d context"))?;
        let area = backend.into_drawing_area();
        let theme = Theme {
            dark,
            scale: if dpr.is_finite() && dpr > 0.0 {
                dpr
            } else {
                1.0
            },
        };
        self.inner.draw(chart, &area, &theme).map_err(js_err)
    }

    /// The values of the current state as CSV: `index,original,code,dequantized,error`
    /// (the first 1,000,000 rows).
    pub fn csv(&self) -> Result<String, JsError> {
        self.inner.csv().map_err(js_err)
    }

    /// A count that moves on whenever the sweep is made stale: the same count means the same
    /// sweep, so a page may keep the sweep chart's base (`draw("sweep-base", ...)`) while the
    /// count, the scheme, calibration, zero point and the canvas's size, dpr and colours stay
    /// the same, and draw only `sweep-marker` over it.
    #[wasm_bindgen(js_name = sweepCount)]
    pub fn sweep_count(&self) -> u32 {
        self.inner.sweep_count()
    }

    /// The canonical query string of the current state.
    pub fn query(&self) -> String {
        self.inner.query()
    }

    /// Block `index` of the current format's run as JSON: its stored scale in its own
    /// encoding, its first values with their codes and reconstructions. It becomes the block
    /// the `blocks` chart marks. Throws with int, or past the last block.
    pub fn block(&mut self, index: usize) -> Result<String, JsError> {
        self.inner.block(index).map_err(js_err)
    }

    /// Each block's scale and error of the current format's run as JSON, as the `blocks` chart
    /// plots them (at most 2048 entries, each the largest of its group). Throws with int.
    pub fn strip(&mut self) -> Result<String, JsError> {
        self.inner.strip().map_err(js_err)
    }

    /// The block the inspector shows.
    #[wasm_bindgen(js_name = selectedBlock)]
    pub fn selected_block(&self) -> usize {
        self.inner.selected_block()
    }

    /// The block under the pixel column `x` (the canvas's backing-store pixels) of the `blocks`
    /// chart as last drawn, or -1.
    #[wasm_bindgen(js_name = blockAt)]
    pub fn block_at(&self, x: f64) -> i32 {
        self.inner
            .block_at(x)
            .and_then(|b| i32::try_from(b).ok())
            .unwrap_or(-1)
    }

    /// Whether the comparison of every format is computed for the current state; if not, the
    /// `formats` chart's next draw computes it (every format on all the data), so a page draws
    /// that chart after the frame.
    #[wasm_bindgen(js_name = formatsReady)]
    pub fn formats_ready(&self) -> bool {
        self.inner.formats_ready()
    }

    /// Takes the next step of the comparison of every format (a row, or on large data a piece
    /// of one); how many rows are left (0: ready).
    #[wasm_bindgen(js_name = formatsStep)]
    pub fn formats_step(&mut self) -> Result<u32, JsError> {
        let left = self.inner.formats_step().map_err(js_err)?;
        Ok(u32::try_from(left).unwrap_or(u32::MAX))
    }

    /// The KL card's numbers as JSON: the KL threshold and bin at the current bits beside the
    /// symmetric percentile and least-error thresholds (computed if they are not yet).
    pub fn kl(&mut self) -> Result<String, JsError> {
        self.inner.kl().map_err(js_err)
    }

    /// The rotation card's numbers as JSON: the block the `rotation` chart shows, its peak
    /// before and after, and the error in both bases. Throws without a rotation.
    pub fn rotation(&self) -> Result<String, JsError> {
        self.inner.rotation().map_err(js_err)
    }

    /// Reads the model section's network and test set (the bytes of `digits-mlp.safetensors`
    /// and `digits-test.safetensors`). Throws on bad bytes and keeps the model it had.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&mut self, model: &[u8], test_set: &[u8]) -> Result<(), JsError> {
        self.inner.load_model(model, test_set).map_err(js_err)
    }

    /// Whether the model section has its network.
    #[wasm_bindgen(js_name = hasModel)]
    pub fn has_model(&self) -> bool {
        self.inner.has_model()
    }

    /// Whether the `accuracy` chart's sweep is computed; if not, its next draw computes it
    /// (the network at every int width and format), so a page draws it after the frame.
    #[wasm_bindgen(js_name = modelReady)]
    pub fn model_ready(&self) -> bool {
        self.inner.model_ready()
    }

    /// The model section as JSON: the network evaluated with the current quantization
    /// settings (once per setting), or the `error` that says why they cannot quantize it.
    /// Throws before `loadModel`.
    #[wasm_bindgen(js_name = modelJson)]
    pub fn model_json(&mut self) -> Result<String, JsError> {
        self.inner.model_json().map_err(js_err)
    }

    /// Before `update(query)`: where that update would make a new run of a slow format on
    /// many values, the job to share with a worker as a JSON string `{"format", "block",
    /// "pieces", "piece", "n"}` (`pieces` of `piece` values each, the last perhaps fewer, `n`
    /// in all), kept for `formatPieceValues`, `formatPiece` and `formatTail`; otherwise
    /// `undefined`.
    #[wasm_bindgen(js_name = formatJob)]
    pub fn format_job(&mut self, query: &str) -> Result<Option<String>, JsError> {
        let job = self.inner.format_job(query).map_err(js_err)?;
        job.map(|j| serde_json::to_string(&j).map_err(js_err))
            .transpose()
    }

    /// Piece `i`'s values, as float32, copied into `into` (as long as the piece): what the
    /// worker quantizes for it (`quantizePart`). The page reuses the arrays the worker sends
    /// back, rather than making one per piece.
    #[wasm_bindgen(js_name = formatPieceValues)]
    pub fn format_piece_values(
        &self,
        i: usize,
        into: &js_sys::Float32Array,
    ) -> Result<(), JsError> {
        let xs = self.inner.format_piece_values(i).map_err(js_err)?;
        if into.length() as usize != xs.len() {
            return Err(JsError::new(&format!(
                "piece {i} has {} values; the array given holds {}",
                xs.len(),
                into.length()
            )));
        }
        into.copy_from(xs);
        Ok(())
    }

    /// Quantizes piece `i` here and joins it: the pieces are joined in order, each once.
    #[wasm_bindgen(js_name = formatPiece)]
    pub fn format_piece(&mut self, i: usize) -> Result<(), JsError> {
        self.inner.format_piece(i).map_err(js_err)
    }

    /// Joins the worker's bytes for piece `i` (`quantizePart`'s), in the same order; after the
    /// last piece the next `update` uses the run.
    #[wasm_bindgen(js_name = formatTail)]
    pub fn format_tail(&mut self, i: usize, bytes: &[u8]) -> Result<(), JsError> {
        self.inner.format_tail(i, bytes).map_err(js_err)
    }

    /// The comparison of every format as JSON rows (computed if it is not yet).
    #[wasm_bindgen(js_name = formatsTable)]
    pub fn formats_table(&mut self) -> Result<String, JsError> {
        self.inner.formats_table().map_err(js_err)
    }

    /// Sets what the `heatmap` chart shows (`abs` or `error`) and how it reduces the values a
    /// pixel covers (`max` or `mean`). Throws on another name.
    #[wasm_bindgen(js_name = setHeatmap)]
    pub fn set_heatmap(&mut self, what: &str, reduce: &str) -> Result<(), JsError> {
        self.inner.set_heatmap(what, reduce).map_err(js_err)
    }

    /// What lies under the pixel `(x, y)` (the canvas's backing-store pixels) of the `heatmap`
    /// chart as last drawn, as JSON (row, col, value, dequantized, error, unit, units, scale,
    /// zero_point), or `undefined` off the plot.
    #[wasm_bindgen(js_name = heatmapAt)]
    pub fn heatmap_at(&self, x: f64, y: f64) -> Option<String> {
        self.inner.heatmap_at(x, y)
    }
}

/// How many rows `Session.csv()` writes at most, for the page to say so.
#[wasm_bindgen(js_name = csvMaxRows)]
pub fn csv_max_rows() -> usize {
    CSV_MAX_ROWS
}

/// How many leading bytes the page reads first to tell a model file's kind and header length.
#[wasm_bindgen(js_name = modelPrefixBytes)]
pub fn model_prefix_bytes() -> usize {
    crate::data::load::model::PREFIX_BYTES
}

/// Whether bytes starting a file are a model file the page lists (`safetensors` or `gguf`),
/// or the empty string.
#[wasm_bindgen(js_name = modelSniff)]
pub fn model_sniff(prefix: &[u8]) -> String {
    use crate::data::load::model::{sniff, FileFormat};
    match sniff(prefix) {
        Some(f @ (FileFormat::Safetensors | FileFormat::Gguf)) => f.name().to_string(),
        _ => String::new(),
    }
}

/// A file length from JavaScript (a number) as bytes: a whole number from 0 to 2^53.
fn js_len(len: f64) -> Result<u64, JsError> {
    if len.is_finite() && len >= 0.0 && len.fract() == 0.0 && len <= 9_007_199_254_740_992.0 {
        Ok(len as u64)
    } else {
        Err(JsError::new(&format!(
            "invalid file length {len}: expected a whole number of bytes"
        )))
    }
}

/// A worker's part of a format run (`Session.formatJob`): `xs` quantized in `format` with
/// blocks of `block`, as bytes for `Session.formatTail`.
#[wasm_bindgen(js_name = quantizePart)]
pub fn quantize_part(format: &str, block: usize, xs: &[f32]) -> Result<Vec<u8>, JsError> {
    crate::session::quantize_part(format, block, xs).map_err(js_err)
}

/// From how many values the page splits a slow format's run with its worker (and starts it).
#[wasm_bindgen(js_name = helpMinValues)]
pub fn help_min_values() -> usize {
    crate::session::HELP_MIN_VALUES
}

/// Installs a panic hook that reports panics to the console (there should be none).
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}
