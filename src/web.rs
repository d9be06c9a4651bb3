//! The wasm-bindgen boundary, the one module that knows the browser: it turns JS values into
//! settings, calls the analysis, hands canvases to the charts and returns plain results.
//! No numerics here.

use crate::analysis::{Analysis, Run, Sweep, View};
use crate::canvas::{PageCanvas, Surface};
use crate::charts::{self, Theme};
use crate::generate::{dataset_for, Dataset};
use crate::settings::{Calibration, Preset, QuantSettings, Scheme, Settings, ZeroPoint};
use plotters::prelude::IntoDrawingArea;
use wasm_bindgen::prelude::*;

/// Rows the CSV export writes at most (a 10M-value CSV would not fit in a JS string).
pub const CSV_MAX_ROWS: usize = 1_000_000;

/// What the current data was made from: a change of this means new data.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Generated(crate::settings::DataSpec),
    Preset(Preset, u64, u64),
    File(String),
}

/// The page's state: settings, data and everything computed from them, reused where the
/// settings that feed it did not change.
#[wasm_bindgen]
pub struct Session {
    settings: Settings,
    file: Option<Dataset>,
    source: Option<Source>,
    analysis: Option<Analysis>,
    run: Option<Run>,
    view: Option<View>,
    compare: Option<(QuantSettings, Vec<Run>)>,
    /// The sweep of the current data for a zero point and percentile, computed when the sweep
    /// chart is first drawn (`None` until then, and again when the data or that key changes).
    sweep: Option<((ZeroPoint, u64), Sweep)>,
    /// Moves on whenever the sweep is made stale (see `sweepCount`).
    sweeps: u32,
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn percentile_key(q: &QuantSettings) -> u64 {
    match q.calibration {
        Calibration::Percentile(p) => p.to_bits(),
        _ => 0,
    }
}

/// Public methods, exported to JavaScript.
#[wasm_bindgen]
impl Session {
    /// A session with no data yet; call `update` first.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session {
            settings: Settings::default(),
            file: None,
            source: None,
            analysis: None,
            run: None,
            view: None,
            compare: None,
            sweep: None,
            sweeps: 0,
        }
    }

    /// Applies a query string (`dist=normal:0,1&bits=4...`) and returns the summary JSON.
    /// On bad input it throws an Error with the message and keeps the previous state.
    pub fn update(&mut self, query: &str) -> Result<String, JsError> {
        let settings = Settings::from_query(query).map_err(js_err)?;
        self.apply(settings).map_err(js_err)
    }

    /// Uses the bytes of a file (`.npy`, or text of numbers) as the data, then applies the
    /// query's quantization settings; returns the summary JSON. Throws on a bad file.
    pub fn load(&mut self, bytes: &[u8], name: &str, query: &str) -> Result<String, JsError> {
        let settings = Settings::from_query(query).map_err(js_err)?;
        let values = crate::load::parse_bytes(bytes, name).map_err(js_err)?;
        let data = Dataset::from_values(values, name).map_err(js_err)?;
        let previous = (self.file.take(), self.source.clone());
        self.file = Some(data);
        self.source = None;
        match self.apply(settings) {
            Ok(s) => Ok(s),
            Err(e) => {
                (self.file, self.source) = previous;
                Err(js_err(e))
            }
        }
    }

    /// Forgets a loaded file: the next `update` generates data again.
    #[wasm_bindgen(js_name = useGenerated)]
    pub fn use_generated(&mut self) {
        self.file = None;
        self.source = None;
    }

    /// Draws one chart (`histogram`, `error`, `compare`, `mapping`, `sweep`, or the sweep's two
    /// parts `sweep-base` and `sweep-marker`, see `sweepCount`) of the current state onto a
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
        let none = || JsError::new("nothing to draw yet: call update() first");
        let result = match chart {
            "histogram" => {
                charts::draw_histogram(&area, self.view.as_ref().ok_or_else(none)?, &theme)
            }
            "error" => {
                self.bin_errors();
                charts::draw_error(&area, self.view.as_ref().ok_or_else(none)?, &theme)
            }
            "mapping" => charts::draw_mapping(&area, self.view.as_ref().ok_or_else(none)?, &theme),
            "compare" => {
                let (q, runs) = self.compare.as_ref().ok_or_else(none)?;
                charts::draw_compare(&area, runs, q, &theme)
            }
            "sweep" | "sweep-base" | "sweep-marker" => {
                self.compute_sweep().map_err(js_err)?;
                let (_, sweep) = self.sweep.as_ref().ok_or_else(none)?;
                let part = match chart {
                    "sweep-base" => charts::SweepPart::Base,
                    "sweep-marker" => charts::SweepPart::Marker,
                    _ => charts::SweepPart::Full,
                };
                charts::draw_sweep_part(&area, sweep, &self.settings.quant, &theme, part)
            }
            other => {
                return Err(JsError::new(&format!(
                    "unknown chart '{other}': expected histogram, error, compare, mapping, sweep, \
                     sweep-base or sweep-marker"
                )))
            }
        };
        result.map_err(|e| JsError::new(&format!("drawing the {chart} chart failed: {e}")))?;
        area.present()
            .map_err(|e| JsError::new(&format!("drawing the {chart} chart failed: {e}")))
    }

    /// The values of the current state as CSV: `index,original,code,dequantized,error`
    /// (the first 1,000,000 rows).
    pub fn csv(&self) -> Result<String, JsError> {
        let (Some(a), Some(run)) = (&self.analysis, &self.run) else {
            return Err(JsError::new("nothing to export yet"));
        };
        let rows = a.table(&run.params, CSV_MAX_ROWS);
        let mut out = String::with_capacity(rows.len() * 48 + 64);
        out.push_str("index,original,code,dequantized,error\n");
        for r in rows {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                r.index, r.original, r.code, r.dequantized, r.error
            ));
        }
        Ok(out)
    }

    /// A count that moves on whenever the sweep (the error at every bit width, computed on the
    /// sweep chart's first draw after new data or a new zero point or percentile) is made
    /// stale: the same count means the same sweep. The sweep chart's base
    /// (`draw("sweep-base", ...)`) depends only on the sweep, the scheme and calibration, the
    /// zero point, and the canvas's size, dpr and colours: a page that keeps it while these
    /// stay the same (a Bits change) draws only `sweep-marker` over it.
    #[wasm_bindgen(js_name = sweepCount)]
    pub fn sweep_count(&self) -> u32 {
        self.sweeps
    }

    /// The canonical query string of the current state.
    pub fn query(&self) -> String {
        self.settings.to_query()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

/// Rust-only helpers.
impl Session {
    /// Bins the current view's errors, which `update` leaves for the error chart's first draw.
    fn bin_errors(&mut self) {
        if let (Some(a), Some(v)) = (&self.analysis, &mut self.view) {
            a.add_errors(v);
        }
    }

    /// Computes the sweep where `update` left it stale, for the sweep chart's first draw.
    fn compute_sweep(&mut self) -> crate::Result<()> {
        if let (None, Some(a)) = (&self.sweep, &self.analysis) {
            let q = self.settings.quant;
            self.sweep = Some((sweep_key(&q), a.sweep(&q)?));
        }
        Ok(())
    }

    /// Computes everything for `settings`, reusing what did not change; commits only on success.
    fn apply(&mut self, settings: Settings) -> crate::Result<String> {
        let source = match (&self.file, settings.preset) {
            (Some(f), _) => Source::File(f.label.clone()),
            (None, Some(p)) => {
                Source::Preset(p, settings.data.seed, settings.data.outlier_value.to_bits())
            }
            (None, None) => Source::Generated(settings.data),
        };
        let fresh = self.source.as_ref() != Some(&source) || self.analysis.is_none();
        let new_analysis = if fresh {
            let data = match &self.file {
                Some(f) => f.clone(),
                None => dataset_for(&settings)?,
            };
            Some(Analysis::new(data)?)
        } else {
            None
        };
        let analysis = new_analysis
            .as_ref()
            .or(self.analysis.as_ref())
            .ok_or(crate::Error::EmptyData)?;
        let q = settings.quant;
        let compare = match &self.compare {
            Some((k, runs)) if !fresh && compare_key_of(k) == compare_key_of(&q) => runs.clone(),
            _ => analysis.compare(&q)?,
        };
        // The current settings are one of the six compared (the same run, bit for bit).
        let run = match compare.iter().find(|r| r.settings == q) {
            Some(r) => *r,
            None => analysis.run(&q)?,
        };
        // The errors' histogram only when the error chart is drawn (`draw`).
        let view = analysis.view_without_errors(run);
        // The sweep only for the sweep chart, when it is drawn (`draw`): a page that draws that
        // chart after the frame (off screen) does not wait for its 90 runs and 30 searches.
        let same_sweep = !fresh && self.sweep.as_ref().map(|(k, _)| *k) == Some(sweep_key(&q));
        if !same_sweep {
            // What would make the sweep fail, a range too wide to scale to 2 bits (symmetric
            // min-max clips at -2·absmax), fails the update now, as when the sweep was made here.
            for scheme in [Scheme::Asymmetric, Scheme::Symmetric] {
                let two = QuantSettings {
                    bits: 2,
                    scheme,
                    calibration: Calibration::MinMax,
                    ..q
                };
                analysis.params(&two)?;
            }
        }
        let kind = match source {
            Source::File(_) => "file",
            Source::Preset(..) => "preset",
            Source::Generated(_) => "generated",
        };
        let summary = crate::report::summary_json(&settings, kind, analysis, &run, &compare);
        if let Some(a) = new_analysis {
            self.analysis = Some(a);
        }
        self.source = Some(source);
        self.settings = settings;
        self.run = Some(run);
        self.view = Some(view);
        self.compare = Some((q, compare));
        if !same_sweep {
            self.sweep = None;
            self.sweeps = self.sweeps.wrapping_add(1);
        }
        Ok(summary)
    }
}

/// What the sweep depends on besides the data: the zero point and the percentile.
fn sweep_key(q: &QuantSettings) -> (ZeroPoint, u64) {
    (q.zero_point, percentile_key(q))
}

/// The part of the settings the comparison depends on: bits, zero point, percentile.
fn compare_key_of(q: &QuantSettings) -> QuantSettings {
    QuantSettings {
        scheme: Scheme::Asymmetric,
        calibration: Calibration::Percentile(f64::from_bits(percentile_key(q))),
        ..*q
    }
}

/// How many rows `Session.csv()` writes at most, for the page to say so.
#[wasm_bindgen(js_name = csvMaxRows)]
pub fn csv_max_rows() -> usize {
    CSV_MAX_ROWS
}

/// Installs a panic hook that reports panics to the console (there should be none).
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}
