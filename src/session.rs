//! The page's state: the settings, the data and everything computed from them, each part reused
//! while the settings that feed it stay the same. Plain Rust, so that its caching is tested
//! natively; `web::Session` is a thin binding over it.
//!
//! What a change recomputes:
//! - new data (a new seed, distribution, size, preset or file): everything;
//! - the bits, the zero point policy or the percentile: the comparison of the six schemes and
//!   calibrations, the current run and its view;
//! - the scheme or calibration alone: the current run and its view (it is one of the six
//!   compared, so it is taken from the comparison).
//!
//! Two things only some charts need are left for those charts' first draw: the error histogram
//! and the sweep (the error at every bit width, which depends only on the data, the zero point
//! policy and the percentile).

use crate::analysis::granular::{GranularRun, GranularSettings};
use crate::analysis::{Analysis, Run, Sweep, View};
use crate::charts::{self, ChartResult, Theme};
use crate::data::generate::{dataset_for, Dataset};
use crate::error::{Error, Result};
use crate::settings::{
    Calibration, DataSpec, Granularity, Matrix, Preset, QuantSettings, Rotation, Scheme, Settings,
    ZeroPoint,
};
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};

/// Rows the CSV export writes at most (a 10M-value CSV would not fit in a JS string).
pub const CSV_MAX_ROWS: usize = 1_000_000;

/// What the current data was made from: a change of this means new data.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Generated(DataSpec, Matrix),
    Preset(Preset, u64, u64),
    File(String),
}

/// How many times each costly part was computed: what the caching saves, for tests and
/// benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Computed {
    /// Data generated or loaded and analysed.
    pub analyses: u32,
    /// Comparisons of the six schemes and calibrations.
    pub compares: u32,
    /// Sweeps over every bit width.
    pub sweeps: u32,
    /// Error histograms binned.
    pub error_bins: u32,
}

/// The page's state: settings, data and everything computed from them.
#[derive(Default)]
pub struct Session {
    settings: Settings,
    file: Option<Dataset>,
    /// What the file's reader noted (a skipped header line), shown with the file's summary.
    file_note: Option<String>,
    source: Option<Source>,
    analysis: Option<Analysis>,
    run: Option<Run>,
    view: Option<View>,
    compare: Option<(QuantSettings, Vec<Run>)>,
    /// The run at the settings' granularity, format and rotation, with its per-unit scales and
    /// the values before and after rotation; `None` at `tensor` without rotation.
    granular: Option<GranularRun>,
    /// The sweep of the current data for a zero point and percentile, computed when the sweep
    /// chart is first drawn (`None` until then, and again when the data or that key changes).
    sweep: Option<((ZeroPoint, u64), Sweep)>,
    /// Moves on whenever the sweep is made stale (see [`Session::sweep_count`]).
    sweep_count: u32,
    computed: Computed,
}

/// The charts a session draws, by the names the page and `draw` use.
pub const CHART_NAMES: &str =
    "histogram, error, compare, mapping, sweep, sweep-base or sweep-marker";

impl Session {
    /// A session with no data yet; call [`Session::update`] first.
    pub fn new() -> Session {
        Session::default()
    }

    /// Applies a query string (`dist=normal:0,1&bits=4...`) and returns the summary JSON.
    /// On bad input it returns the error and keeps the previous state.
    pub fn update(&mut self, query: &str) -> Result<String> {
        let settings = Settings::from_query(query)?;
        self.apply(settings)
    }

    /// Uses the bytes of a file (`.npy`, or text of numbers) as the data, then applies the
    /// query's quantization settings; returns the summary JSON. On a bad file or settings it
    /// returns the error and keeps the previous data and state.
    pub fn load(&mut self, bytes: &[u8], name: &str, query: &str) -> Result<String> {
        let settings = Settings::from_query(query)?;
        let loaded = crate::data::load::read_bytes(bytes, name)?;
        let shape = settings.matrix.shape.or_else(|| loaded.rows_cols());
        let data = Dataset::from_values(loaded.values, name)?.with_shape(shape)?;
        let previous = (self.file.take(), self.file_note.take(), self.source.clone());
        self.file = Some(data);
        self.file_note = loaded.note;
        self.source = None;
        match self.apply(settings) {
            Ok(s) => Ok(s),
            Err(e) => {
                (self.file, self.file_note, self.source) = previous;
                Err(e)
            }
        }
    }

    /// Forgets a loaded file: the next `update` generates data again.
    pub fn use_generated(&mut self) {
        self.file = None;
        self.file_note = None;
        self.source = None;
    }

    /// Draws one chart (`histogram`, `error`, `compare`, `mapping`, `sweep`, or the sweep's two
    /// parts `sweep-base` and `sweep-marker`, see [`Session::sweep_count`]) of the current
    /// state. The error chart's histogram and the sweep are computed on their charts' first
    /// draw of a state.
    pub fn draw<DB: DrawingBackend>(
        &mut self,
        chart: &str,
        area: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<()> {
        let drawn: ChartResult = match chart {
            "histogram" => charts::draw_histogram(area, self.current_view()?, theme),
            "error" => {
                self.bin_errors();
                charts::draw_error(area, self.current_view()?, theme)
            }
            "mapping" => charts::draw_mapping(area, self.current_view()?, theme),
            "compare" => {
                let (q, runs) = self.compare.as_ref().ok_or_else(nothing_yet)?;
                charts::draw_compare(area, runs, q, theme)
            }
            "sweep" | "sweep-base" | "sweep-marker" => {
                self.compute_sweep()?;
                let (_, sweep) = self.sweep.as_ref().ok_or_else(nothing_yet)?;
                let part = match chart {
                    "sweep-base" => charts::SweepPart::Base,
                    "sweep-marker" => charts::SweepPart::Marker,
                    _ => charts::SweepPart::Full,
                };
                charts::draw_sweep_part(area, sweep, &self.settings.quant, theme, part)
            }
            other => {
                return Err(Error::Setting {
                    name: "chart",
                    given: other.into(),
                    expected: CHART_NAMES.into(),
                })
            }
        };
        drawn
            .and_then(|()| area.present().map_err(|e| e.to_string()))
            .map_err(|e| Error::Chart(format!("drawing the {chart} chart failed: {e}")))
    }

    /// The values of the current state as CSV: `index,original,code,dequantized,error`
    /// (the first [`CSV_MAX_ROWS`] rows).
    pub fn csv(&self) -> Result<String> {
        let (Some(a), Some(run)) = (&self.analysis, &self.run) else {
            return Err(Error::Chart("nothing to export yet: update first".into()));
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
    pub fn sweep_count(&self) -> u32 {
        self.sweep_count
    }

    /// The canonical query string of the current state.
    pub fn query(&self) -> String {
        self.settings.to_query()
    }

    /// The run at the current granularity and rotation (per-unit scales and zero points, the
    /// unit layout, the values before and after rotation, the error in both bases), where the
    /// settings ask for one (`None` at `tensor` granularity without rotation).
    pub fn granular(&self) -> Option<&GranularRun> {
        self.granular.as_ref()
    }

    /// How many times each costly part has been computed so far.
    pub fn computed(&self) -> Computed {
        self.computed
    }

    fn current_view(&self) -> Result<&View> {
        self.view.as_ref().ok_or_else(nothing_yet)
    }

    /// Bins the current view's errors, which `update` leaves for the error chart's first draw.
    fn bin_errors(&mut self) {
        if let (Some(a), Some(v)) = (&self.analysis, &mut self.view) {
            if v.errors.is_none() {
                a.add_errors(v);
                self.computed.error_bins += 1;
            }
        }
    }

    /// Computes the sweep where `update` left it stale, for the sweep chart's first draw.
    fn compute_sweep(&mut self) -> Result<()> {
        if let (None, Some(a)) = (&self.sweep, &self.analysis) {
            let q = self.settings.quant;
            self.sweep = Some((sweep_key(&q), a.sweep(&q)?));
            self.computed.sweeps += 1;
        }
        Ok(())
    }

    /// Computes everything for `settings`, reusing what did not change; commits only on success.
    fn apply(&mut self, settings: Settings) -> Result<String> {
        let source = match (&self.file, settings.preset) {
            (Some(f), _) => Source::File(f.label.clone()),
            (None, Some(p)) => {
                Source::Preset(p, settings.data.seed, settings.data.outlier_value.to_bits())
            }
            (None, None) => Source::Generated(settings.data, settings.matrix),
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
            .ok_or(Error::EmptyData)?;
        let q = settings.quant;
        let (compare, compared) = match &self.compare {
            Some((k, runs)) if !fresh && compare_key_of(k) == compare_key_of(&q) => {
                (runs.clone(), false)
            }
            _ => (analysis.compare(&q)?, true),
        };
        // The current settings are one of the six compared (the same run, bit for bit).
        let run = match compare.iter().find(|r| r.settings == q) {
            Some(r) => *r,
            None => analysis.run(&q)?,
        };
        // The errors' histogram only when the error chart is drawn (`draw`).
        let view = analysis.view_without_errors(run);
        let granular =
            if settings.granularity != Granularity::Tensor || settings.rotate != Rotation::None {
                let g = GranularSettings {
                    quant: q,
                    format: settings.format.map(|f| (f, settings.block)),
                    granularity: settings.granularity,
                    rotate: settings.rotate,
                };
                Some(analysis.granular(&g, true)?)
            } else {
                None
            };
        // The sweep only for the sweep chart, when it is drawn (`draw`): a page that draws that
        // chart after the frame (off screen) does not wait for its runs and searches.
        let same_sweep = !fresh && self.sweep.as_ref().map(|(k, _)| *k) == Some(sweep_key(&q));
        if !same_sweep {
            // What would make the sweep fail, a range too wide to scale to 2 bits (symmetric
            // min-max clips at -2·absmax), fails the update now, not the sweep chart's draw.
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
            Source::Generated(..) => "generated",
        };
        let summary = crate::present::json::summary_json(
            &settings,
            kind,
            self.file_note.as_deref(),
            analysis,
            &run,
            &compare,
        );
        if let Some(a) = new_analysis {
            self.analysis = Some(a);
            self.computed.analyses += 1;
        }
        if compared {
            self.computed.compares += 1;
        }
        self.source = Some(source);
        self.settings = settings;
        self.run = Some(run);
        self.view = Some(view);
        self.compare = Some((q, compare));
        self.granular = granular;
        if !same_sweep {
            self.sweep = None;
            self.sweep_count = self.sweep_count.wrapping_add(1);
        }
        Ok(summary)
    }
}

fn nothing_yet() -> Error {
    Error::Chart("nothing to draw yet: call update() first".into())
}

fn percentile_key(q: &QuantSettings) -> u64 {
    match q.calibration {
        Calibration::Percentile(p) => p.to_bits(),
        _ => 0,
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

// Native only: the charts are drawn into SVG, whose text needs a font file.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use plotters::prelude::{IntoDrawingArea, SVGBackend};

    const BASE: &str = "dist=normal:0,1&n=5000&seed=7&bits=4";

    /// Draws `chart` into an SVG string and returns it.
    fn draw(s: &mut Session, chart: &str) -> Result<String> {
        crate::charts::register_native_font().map_err(Error::Chart)?;
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (480, 320)).into_drawing_area();
            s.draw(chart, &area, &Theme::default())?;
        }
        Ok(svg)
    }

    fn summary(s: &mut Session, query: &str) -> String {
        s.update(query).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    #[test]
    fn a_bits_change_keeps_the_data_and_recompares() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        assert_eq!(s.computed().analyses, 1);
        assert_eq!(s.computed().compares, 1);
        summary(&mut s, "dist=normal:0,1&n=5000&seed=7&bits=6");
        assert_eq!(s.computed().analyses, 1, "same data: not analysed again");
        assert_eq!(s.computed().compares, 2, "new bits: a new comparison");
    }

    #[test]
    fn a_scheme_or_calibration_change_reuses_the_comparison() {
        let mut s = Session::new();
        let first = summary(&mut s, BASE);
        let sym = summary(&mut s, &format!("{BASE}&scheme=symmetric&calibration=mse"));
        assert_eq!(
            s.computed().compares,
            1,
            "the run is one of the six compared"
        );
        assert_ne!(first, sym, "but the summary is the new run's");
        // And it is the run a fresh session computes, bit for bit.
        let mut fresh = Session::new();
        assert_eq!(
            summary(
                &mut fresh,
                &format!("{BASE}&scheme=symmetric&calibration=mse")
            ),
            sym
        );
    }

    #[test]
    fn granularity_and_rotation_reach_the_session() {
        let mut s = Session::new();
        summary(
            &mut s,
            "shape=16,64&bits=4&granularity=group:32&rotate=hadamard",
        );
        let g = s.granular().unwrap();
        assert_eq!(g.units.as_ref().unwrap().units.count(), 32);
        assert_eq!(g.rotate_block, Some(64));
        assert_eq!(g.rotated.as_ref().unwrap().len(), 1024);
        assert!(s
            .update("shape=16,64&granularity=group:65")
            .unwrap_err()
            .to_string()
            .contains("row length (64"));
        summary(&mut s, "shape=16,64&bits=4");
        assert!(s.granular().is_none());
    }

    #[test]
    fn new_data_is_analysed_again() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        summary(&mut s, "dist=normal:0,1&n=5000&seed=8&bits=4");
        assert_eq!(s.computed().analyses, 2);
        summary(&mut s, "preset=notebook-minmax");
        assert_eq!(s.computed().analyses, 3);
        summary(&mut s, "preset=notebook-minmax&bits=5");
        assert_eq!(s.computed().analyses, 3);
    }

    #[test]
    fn the_sweep_is_computed_on_its_first_draw_and_kept_while_its_key_holds() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        let count = s.sweep_count();
        assert_eq!(s.computed().sweeps, 0, "update leaves the sweep out");
        draw(&mut s, "sweep").unwrap();
        draw(&mut s, "sweep-base").unwrap();
        draw(&mut s, "sweep-marker").unwrap();
        assert_eq!(s.computed().sweeps, 1, "computed once for three draws");
        summary(
            &mut s,
            "dist=normal:0,1&n=5000&seed=7&bits=7&scheme=symmetric",
        );
        assert_eq!(
            s.sweep_count(),
            count,
            "bits and scheme leave the sweep as it is"
        );
        draw(&mut s, "sweep").unwrap();
        assert_eq!(s.computed().sweeps, 1);
        summary(&mut s, &format!("{BASE}&zero_point=include-zero"));
        assert_ne!(
            s.sweep_count(),
            count,
            "a new zero point policy makes it stale"
        );
        draw(&mut s, "sweep").unwrap();
        assert_eq!(s.computed().sweeps, 2);
    }

    #[test]
    fn the_error_histogram_is_binned_once_per_state() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        assert_eq!(s.computed().error_bins, 0);
        let a = draw(&mut s, "error").unwrap();
        let b = draw(&mut s, "error").unwrap();
        assert_eq!(s.computed().error_bins, 1);
        assert_eq!(a, b);
        summary(&mut s, "dist=normal:0,1&n=5000&seed=7&bits=5");
        draw(&mut s, "error").unwrap();
        assert_eq!(s.computed().error_bins, 2);
    }

    #[test]
    fn bad_input_keeps_the_previous_state() {
        let mut s = Session::new();
        let before = summary(&mut s, BASE);
        let query = s.query();
        let histogram = draw(&mut s, "histogram").unwrap();
        for bad in [
            "bits=1",
            "dist=normal:0,-1",
            "n=0",
            "calibration=percentile:20",
        ] {
            assert!(s.update(bad).is_err(), "{bad} is refused");
            assert_eq!(s.query(), query, "{bad} leaves the settings");
            assert_eq!(draw(&mut s, "histogram").unwrap(), histogram, "{bad}");
        }
        let e = s.load(b"1,2,oops", "bad.csv", BASE).unwrap_err();
        assert!(e.to_string().contains("bad.csv"), "{e}");
        assert_eq!(s.query(), query);
        assert_eq!(summary(&mut s, BASE), before, "still the generated data");
        assert_eq!(s.computed().analyses, 1);
    }

    #[test]
    fn a_loaded_file_is_the_data_until_use_generated() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        let loaded = s.load(b"1,2,3,4.5", "four.csv", "bits=8").unwrap();
        assert!(loaded.contains("\"n\":4"), "{loaded}");
        assert!(loaded.contains("\"note\":null"), "{loaded}");
        let headed = s.load(b"weight\n1\n2\n", "w.csv", "bits=8").unwrap();
        assert!(headed.contains("skipped the header line"), "{headed}");
        let again = summary(&mut s, "bits=6");
        assert!(
            again.contains("\"n\":2"),
            "the file stays the data: {again}"
        );
        assert!(
            again.contains("skipped the header"),
            "and its note: {again}"
        );
        s.use_generated();
        let generated = summary(&mut s, BASE);
        assert!(generated.contains("\"n\":5000"), "{generated}");
    }

    #[test]
    fn nothing_to_draw_or_export_before_the_first_update() {
        let mut s = Session::new();
        assert!(draw(&mut s, "histogram").is_err());
        assert!(s.csv().is_err());
        summary(&mut s, BASE);
        let e = draw(&mut s, "pie").unwrap_err().to_string();
        assert!(e.contains("histogram, error"), "{e}");
        let csv = s.csv().unwrap();
        assert_eq!(csv.lines().count(), 5001);
    }
}
