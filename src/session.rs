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
//!
//! The model section ([`Session::load_model`], [`Session::model_json`]) evaluates the network
//! with the current quantization settings, once per setting (the data does not feed it), and
//! its accuracy chart's sweep once per model, on that chart's first draw.
//!
//! With a format other than int, `update` also quantizes the data in it: its run, each block's
//! scale and error, and its histogram, recomputed only when the data, the format or its block
//! change. The comparison of every format and the int schemes at 2 to 8 bits is left for its
//! chart's first draw, and kept while the data, the int calibration, the zero point policy and
//! NF4's block stay the same.

use crate::analysis::blocks::{histogram_range, BlockSummary, FormatView};
use crate::analysis::formats::{format_extras, FormatRow, FormatRun, RowSpec};
use crate::analysis::front::pareto_front;
use crate::analysis::granular::{GranularRun, GranularSettings};
use crate::analysis::histogram::Histogram;
use crate::analysis::kl_view::KlView;
use crate::analysis::pieces::{RowJob, PIECE};
use crate::analysis::rotation_view::RotationView;
use crate::analysis::{Analysis, Run, Sweep, View, HISTOGRAM_BINS};
use crate::charts::{self, ChartResult, HeatGrid, HeatPlot, HeatValue, Reduce, Theme};
use crate::data::generate::{dataset_for, Dataset};
use crate::error::{Error, Result};
use crate::model::{Evaluation, Model, SweepRow};
use crate::quant::formats::Format;
use crate::settings::{
    Calibration, DataSpec, Granularity, Matrix, Preset, QuantSettings, Rotation, Scheme, Settings,
    ZeroPoint,
};
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};

mod help;
pub use help::{quantize_part, Job, HELP_MIN_VALUES};
mod model_file;
pub use model_file::page_shape;

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
    /// Heatmap grids computed (the tensor reduced to the canvas).
    pub heat_grids: u32,
    /// Format runs (a format quantizing the data, with its blocks' summary and histogram).
    pub format_runs: u32,
    /// Comparisons of every format and the int schemes at 2 to 8 bits.
    pub every_formats: u32,
    /// KL views (the KL search at a width beside the percentile and least-error thresholds).
    pub kl_views: u32,
    /// Evaluations of the model (its weights quantized, the test set run through).
    pub model_evaluations: u32,
    /// Sweeps of the model over every int width and format, for its accuracy chart.
    pub model_sweeps: u32,
    /// Format runs a Format change took from those the comparison made ahead.
    pub runs_taken: u32,
}

/// The model section's state: the network, the evaluation at the last quantization settings
/// asked for, and the sweep for the accuracy chart.
struct ModelState {
    model: Model,
    /// The settings evaluated (see [`model_key`]) and the outcome, or why they cannot
    /// quantize the network.
    eval: Option<(Settings, std::result::Result<Evaluation, String>)>,
    /// Every int width and format, computed on the accuracy chart's first draw and kept for
    /// the model: it runs at fixed settings (see [`model_sweep_base`]).
    sweep: Option<Vec<SweepRow>>,
}

/// The current format's run and what the page shows of it: each block's scale and error for
/// the blocks chart, and the histogram, computed on first use (a page draws those charts after
/// the frame when they are off screen).
struct FormatState {
    /// The format and its block.
    key: (Format, usize),
    run: FormatRun,
    blocks: Option<BlockSummary>,
    view: Option<FormatView>,
}

/// The most units the page calibrates by KL one at a time: each is an exact search of 1,921
/// thresholds (a few ms to about 25 ms in the page, by the unit's size), so 256 keep a change
/// within seconds; more would hold the page for minutes with no way to stop it.
pub const PAGE_KL_UNITS: usize = 256;

/// What the comparison of every format depends on besides the data: the int calibration and
/// zero point policy, and NF4's block.
type FormatsKey = (Calibration, ZeroPoint, Option<usize>);

/// The comparison of every format: the rows to measure, those measured so far (in order), and
/// once all are, which of them are on the lower-left front.
struct EveryFormat {
    key: FormatsKey,
    specs: Vec<RowSpec>,
    rows: Vec<FormatRow>,
    front: Vec<bool>,
    /// The next row, where it is being measured in pieces.
    job: Option<RowJob>,
}

impl EveryFormat {
    fn done(&self) -> bool {
        self.rows.len() == self.specs.len()
    }
}

/// One heatmap cell as [`Session::heatmap_at`] reports it.
#[derive(serde::Serialize)]
struct HeatCell {
    row: usize,
    col: usize,
    value: f64,
    dequantized: Option<f64>,
    error: Option<f64>,
    unit: usize,
    units: usize,
    /// The unit's scale and zero point (int only; a format's blocks have their own).
    scale: Option<f64>,
    zero_point: Option<f64>,
}

/// The bit widths of the int schemes the comparison of every format shows.
pub const FORMATS_INT_BITS: [u32; 7] = [2, 3, 4, 5, 6, 7, 8];

/// The page's state: settings, data and everything computed from them.
#[derive(Default)]
pub struct Session {
    settings: Settings,
    file: Option<std::sync::Arc<Dataset>>,
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
    /// The last format run, kept (while the data stays) when the page goes back to int.
    format: Option<FormatState>,
    /// The original values binned over the format histogram's range, per data.
    format_values: Option<Histogram>,
    /// The comparison of every format, computed on its chart's first draw.
    every: Option<EveryFormat>,
    /// The block the inspector shows.
    selected_block: usize,
    /// Where the blocks chart last drew block 0's left edge and the last block's right edge,
    /// in the canvas's pixels.
    blocks_plot: Option<(i32, i32)>,
    /// The KL card's view of the current data, by bit width and percentile, computed on its
    /// chart's first draw (or `kl()`) and kept while the data, the bits and the percentile stay.
    kl_view: Option<((u32, u64), KlView)>,
    /// What the heatmap shows and how it reduces, as the page last asked.
    heat: (HeatValue, Reduce),
    /// The heatmap's grid of the current state, by what it shows, its reduction and its size
    /// (redrawing at the same size, after a resize back or a dark-mode change, reuses it).
    heat_grid: Option<((HeatValue, Reduce, usize, usize), HeatGrid)>,
    /// Where the heatmap last drew its plot, for pointing at a cell.
    heat_plot: Option<HeatPlot>,

    /// The model section's network, once the page has handed it over.
    model: Option<ModelState>,
    computed: Computed,
    /// The model file whose tensor list the page shows (see [`model_file`]).
    model_file: Option<model_file::OpenModel>,
    /// The name of the model tensor that is the data, or `None`.
    tensor: Option<String>,
    /// A format run being made in two parts, one by a worker (see [`help`]).
    help: Option<help::Help>,
    /// Runs of the current data in the K-quants, whose search takes several times as long as
    /// any other format's run (about 30 ms at a million values on the page, where the rest of
    /// a change takes a few), made whole by the comparison while the page is idle and kept for
    /// a Format change (see [`row_ahead`]); by format (`Format as usize`).
    ahead: Ahead,
}

/// Runs kept ahead, one slot per format.
type Ahead = [Option<Box<FormatState>>; Format::ALL.len()];

/// Bytes of the runs kept ahead ([`Session::ahead`]): at a million values every K-quant's run
/// is kept, at ten million none.
const AHEAD_BYTES: usize = 64 << 20;

/// Bytes of room per value: a format run keeps a code and a dequantized value (4 bytes each),
/// and the run shown stays until the next is made.
const ROOM_PER_VALUE: usize = 16;

/// Writes `bytes` of new memory once and lets it go. New memory costs a page fault per 4 KiB
/// page the first time it is written (hundreds of megabytes of them for a format run on a
/// large tensor, and wasm memory is never given back): written here, ahead of a run, the
/// memory is the allocator's to give that run. Natively (the command line's `plot`) a block
/// this large is the system's own pages, given back when freed: nothing written would stay.
fn write_room(bytes: usize) {
    if cfg!(not(target_arch = "wasm32")) {
        return;
    }
    let mut room = Vec::<u8>::new();
    if room.try_reserve_exact(bytes).is_ok() {
        room.resize(room.capacity(), 1);
    }
}

/// The charts a session draws, by the names the page and `draw` use.
pub const CHART_NAMES: &str = "histogram, error, compare, mapping, sweep, sweep-base, sweep-marker, formats, blocks, accuracy, heatmap, scales, kl or rotation";

impl Session {
    /// A session with no data yet; call [`Session::update`] first.
    pub fn new() -> Session {
        Session::default()
    }

    /// Applies a query string (`dist=normal:0,1&bits=4...`) and returns the summary JSON.
    /// On bad input it returns the error and keeps the previous state.
    pub fn update(&mut self, query: &str) -> Result<String> {
        let settings = Settings::from_query(query).inspect_err(|_| self.help = None)?;
        self.apply(settings)
    }

    /// Uses the bytes of a file (`.npy`, or text of numbers) as the data, then applies the
    /// query's quantization settings; returns the summary JSON. A `.npy` array, a model tensor,
    /// may hold up to [`crate::data::load::model::PAGE_MAX_VALUES`] values, text up to
    /// [`crate::error::MAX_VALUES`] (each reader refuses more). On a bad file or settings it
    /// returns the error and keeps the previous data and state.
    pub fn load(&mut self, bytes: &[u8], name: &str, query: &str) -> Result<String> {
        self.help = None;
        let settings = Settings::from_query(query)?;
        let loaded = crate::data::load::read_page_bytes(bytes, name)?;
        let shape = settings.matrix.shape.or_else(|| loaded.rows_cols());
        let data = Dataset::from_tensor(loaded.values, name)?.with_shape(shape)?;
        self.use_file(data, loaded.note, settings)
    }

    /// Uses `data` as the data, as a loaded file's, then applies the query's quantization
    /// settings; returns the summary JSON. The command line's `plot` draws the page's charts
    /// this way, from the data its own flags make. On bad settings it returns the error and
    /// keeps the previous data and state.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn use_data(&mut self, data: Dataset, query: &str) -> Result<String> {
        self.help = None;
        let settings = Settings::from_query(query)?;
        self.use_file(data, None, settings)
    }

    /// A file's values (`data`, with what its reader noted) as the data, then `settings`
    /// applied; on failure the previous file, note, source and tensor come back.
    fn use_file(
        &mut self,
        data: Dataset,
        note: Option<String>,
        settings: Settings,
    ) -> Result<String> {
        let previous = (self.file.take(), self.file_note.take(), self.source.clone());
        self.file = Some(std::sync::Arc::new(data));
        self.file_note = note;
        self.source = None;
        let tensor = self.tensor.take();
        match self.apply(settings) {
            Ok(s) => Ok(s),
            Err(e) => {
                (self.file, self.file_note, self.source) = previous;
                self.tensor = tensor;
                Err(e)
            }
        }
    }

    /// Forgets a loaded file: the next `update` generates data again.
    pub fn use_generated(&mut self) {
        self.help = None;
        self.file = None;
        self.file_note = None;
        self.source = None;
        self.tensor = None;
    }

    /// Draws one chart (`histogram`, `error`, `compare`, `mapping`, `sweep`, the sweep's two
    /// parts `sweep-base` and `sweep-marker` (see [`Session::sweep_count`]), `formats` (every
    /// format and the int schemes on the data) or `blocks` (the current format's blocks)) of
    /// the current state. With a format chosen, `histogram` is the format's. The error chart's
    /// histogram, the sweep and the comparison of every format are computed on their charts'
    /// first draw of a state.
    pub fn draw<DB: DrawingBackend>(
        &mut self,
        chart: &str,
        area: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> Result<()> {
        let drawn: ChartResult = match chart {
            "histogram" => match self.settings.format {
                Some(_) => {
                    let view = self.format_parts()?.view.as_ref().ok_or_else(nothing_yet)?;
                    charts::draw_format_histogram(area, view, theme)
                }
                None => charts::draw_histogram(area, self.int_view()?, theme),
            },
            "formats" => {
                self.compute_every_format()?;
                let every = self.every.as_ref().ok_or_else(nothing_yet)?;
                let current = match self.settings.format {
                    Some(f) => charts::Choice::Format(f),
                    None => {
                        let (q, g, r) = (
                            self.settings.quant,
                            self.settings.granularity,
                            self.settings.rotate,
                        );
                        if g == Granularity::Tensor && r == Rotation::None {
                            charts::Choice::Int(q.bits, q.scheme)
                        } else {
                            charts::Choice::Fine(q.bits, q.scheme, q.calibration, g, r)
                        }
                    }
                };
                charts::draw_formats(area, &every.rows, &every.front, current, theme)
            }
            "blocks" => {
                let selected = self.selected_block;
                let f = self.format_parts()?;
                let blocks = f.blocks.as_ref().ok_or_else(nothing_yet)?;
                let selected = selected.min(blocks.blocks.saturating_sub(1));
                match charts::draw_blocks(area, blocks, f.run.format, f.run.block, selected, theme)
                {
                    Ok(plot) => {
                        self.blocks_plot = plot;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            "error" => {
                self.int_view()?;
                self.bin_errors();
                charts::draw_error(area, self.int_view()?, theme)
            }
            "mapping" => charts::draw_mapping(area, self.int_view()?, theme),
            "kl" => {
                self.compute_kl_view()?;
                let (_, view) = self.kl_view.as_ref().ok_or_else(nothing_yet)?;
                charts::draw_kl(area, view, theme)
            }
            "rotation" => charts::draw_rotation(area, &self.rotation_view()?, theme),
            "accuracy" => {
                self.compute_model_sweep()?;
                let current = self
                    .model_outcome()?
                    .as_ref()
                    .ok()
                    .map(|e| charts::AccuracyMark {
                        bits_per_weight: e.bits_per_weight(),
                        accuracy: e.accuracy(),
                    });
                let st = self.model.as_ref().ok_or_else(no_model)?;
                let rows = st.sweep.as_deref().unwrap_or_default();
                charts::draw_accuracy(area, rows, st.model.float_accuracy(), current, theme)
            }
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
            "heatmap" => match self.draw_heatmap(area, theme) {
                Ok(plot) => {
                    self.heat_plot = plot;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            "scales" => {
                let run = self.run.as_ref().ok_or_else(nothing_yet)?;
                let (scales, name) = match self.granular.as_ref().and_then(|g| g.units.as_ref()) {
                    Some(u) if u.units.count() > 1 => {
                        let name = if u.units.per_row == 1 && u.units.rows > 1 {
                            "row"
                        } else {
                            "group"
                        };
                        (u.scales(), name)
                    }
                    _ => (Vec::new(), "unit"),
                };
                charts::draw_scales(area, &scales, name, run.params.scale, theme)
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

    /// The values of the current state as CSV: `index,original,code,dequantized,error` (the
    /// first [`CSV_MAX_ROWS`] rows), of the format's run where a format is chosen.
    pub fn csv(&self) -> Result<String> {
        let (Some(a), Some(run)) = (&self.analysis, &self.run) else {
            return Err(Error::Chart("nothing to export yet: update first".into()));
        };
        let rows = match self.current_format() {
            Some(f) => crate::present::json::format_rows(a.values(), &f.run, 0, CSV_MAX_ROWS)
                .into_iter()
                .map(|r| crate::analysis::Row {
                    index: r.index,
                    original: r.original,
                    code: r.code,
                    dequantized: r.dequantized,
                    error: r.error,
                })
                .collect(),
            None => a.table(&run.params, CSV_MAX_ROWS),
        };
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

    /// The KL card's numbers as JSON (the KL threshold and bin at the current bits, beside the
    /// symmetric percentile and least-error thresholds), computed where they are not yet. The
    /// percentile compared with is the settings' where it is the calibration, else 99.99.
    pub fn kl(&mut self) -> Result<String> {
        self.compute_kl_view()?;
        let (_, view) = self.kl_view.as_ref().ok_or_else(nothing_yet)?;
        Ok(crate::present::json::to_json(
            &crate::present::cards::KlJson::from(view),
        ))
    }

    /// The rotation card's numbers as JSON: the block the rotation chart shows (the one
    /// holding the largest `|x|`), its peak before and after, and the error in both bases.
    /// Errors without a rotation.
    pub fn rotation(&self) -> Result<String> {
        Ok(crate::present::json::to_json(
            &crate::present::cards::RotationJson::from(&self.rotation_view()?),
        ))
    }

    /// The block of the rotated run the rotation chart shows (copied out of the run: `k`
    /// values of each kind).
    fn rotation_view(&self) -> Result<RotationView> {
        let a = self.analysis.as_ref().ok_or_else(nothing_yet)?;
        let no_rotation = || Error::Chart("no rotation to show: choose rotate=hadamard".into());
        let g = self.granular.as_ref().ok_or_else(no_rotation)?;
        RotationView::of(g, a.values(), a.data.row_len(), None)
    }

    /// Computes the KL view where it is stale, for the KL chart's first draw.
    fn compute_kl_view(&mut self) -> Result<()> {
        let q = self.settings.quant;
        let p = match q.calibration {
            Calibration::Percentile(p) => p,
            _ => crate::settings::DEFAULT_PERCENTILE,
        };
        let key = (q.bits, p.to_bits());
        if self.kl_view.as_ref().is_some_and(|(k, _)| *k == key) {
            return Ok(());
        }
        let a = self.analysis.as_ref().ok_or_else(nothing_yet)?;
        self.kl_view = Some((key, a.kl_view(q.bits, p)?));
        self.computed.kl_views += 1;
        Ok(())
    }

    /// How many times each costly part has been computed so far.
    pub fn computed(&self) -> Computed {
        self.computed
    }

    /// Block `index` of the current format's run as JSON (its stored scale in its own
    /// encoding, its first values with their codes and reconstructions), and makes it the
    /// block the blocks chart marks. Errors with int, or past the last block.
    pub fn block(&mut self, index: usize) -> Result<String> {
        let (Some(a), Some(f)) = (&self.analysis, self.current_format()) else {
            return Err(Error::Chart(
                "no blocks to inspect: choose a format other than int".into(),
            ));
        };
        let json =
            crate::present::json::block_json(a.values(), &f.run, index).ok_or_else(|| {
                Error::Setting {
                    name: "block index",
                    given: index.to_string(),
                    expected: format!("a block from 0 to {}", f.run.blocks.saturating_sub(1)),
                }
            })?;
        self.selected_block = index;
        Ok(crate::present::json::to_json(&json))
    }

    /// The block the inspector shows.
    pub fn selected_block(&self) -> usize {
        self.selected_block
    }

    /// The block under the canvas pixel column `x` of the blocks chart as last drawn, if any.
    pub fn block_at(&self, x: f64) -> Option<usize> {
        let f = self.current_format()?;
        let (x0, x1) = self.blocks_plot?;
        let n = f.run.blocks;
        if !(x.is_finite() && x1 > x0 && n > 0) || x < f64::from(x0) || x > f64::from(x1) {
            return None;
        }
        let at = (x - f64::from(x0)) / f64::from(x1 - x0) * n as f64;
        Some((at as usize).min(n - 1))
    }

    /// Whether the comparison of every format is computed for the current state: if not, the
    /// formats chart's next draw computes it (every format on all the data).
    pub fn formats_ready(&self) -> bool {
        self.every
            .as_ref()
            .is_some_and(|e| e.key == formats_key(&self.settings) && e.done())
    }

    /// Measures the next row of the comparison of every format, or on a large tensor the next
    /// piece of it ([`crate::analysis::pieces`]), starting over where the data or what it
    /// depends on changed, and returns how many rows are left: a page that calls it between
    /// frames stays responsive while the comparison of a large tensor (tens of seconds in all)
    /// is made. 0 once the comparison is ready.
    pub fn formats_step(&mut self) -> Result<usize> {
        let key = formats_key(&self.settings);
        let a = self.analysis.as_ref().ok_or_else(nothing_yet)?;
        let every = match &mut self.every {
            Some(e) if e.key == key => e,
            slot => slot.insert(EveryFormat {
                key,
                specs: a.every_format_specs(
                    &Format::ALL,
                    key.2,
                    &self.settings.quant,
                    &FORMATS_INT_BITS,
                ),
                rows: Vec::new(),
                front: Vec::new(),
                job: None,
            }),
        };
        if let Some(spec) = every.specs.get(every.rows.len()) {
            let row = match every.job.take().or_else(|| a.row_job(spec, PIECE)) {
                Some(mut job) => match a.row_job_step(&mut job) {
                    Some(row) => row,
                    None => {
                        every.job = Some(job);
                        return Ok(every.specs.len() - every.rows.len());
                    }
                },
                None => match *spec {
                    RowSpec::Format(f, block) if f.is_k_quant() => {
                        row_ahead(a, (f, block), &mut self.ahead, self.format.as_ref())
                    }
                    _ => a.format_row(spec),
                },
            };
            every.rows.push(row);
            if every.done() {
                let points: Vec<(f64, Option<f64>)> = every
                    .rows
                    .iter()
                    .map(|r| (r.bits_per_weight, r.outcome.as_ref().ok().map(|m| m.mse)))
                    .collect();
                every.front = pareto_front(&points);
                self.computed.every_formats += 1;
                // The runs kept ahead took the memory the comparison had used: the room a
                // first format run takes is written again, in one step: at most 16 bytes a
                // value of data whose run could be kept (8M values), a memset of 128 MB.
                if self.ahead.iter().any(Option::is_some) {
                    write_room(a.values().len() * ROOM_PER_VALUE);
                }
            }
        }
        Ok(every.specs.len() - every.rows.len())
    }

    /// The comparison of every format as JSON rows (computed if it is not yet): label, bits per
    /// weight, MSE, SQNR, max error or why the format cannot take the data, whether the row is
    /// on the lower-left front and whether it is the current choice.
    pub fn formats_table(&mut self) -> Result<String> {
        self.compute_every_format()?;
        let every = self.every.as_ref().ok_or_else(nothing_yet)?;
        let q = self.settings.quant;
        let rows: Vec<crate::present::json::FormatTableRow> = every
            .rows
            .iter()
            .zip(&every.front)
            .map(|(r, &front)| {
                let current = match (self.settings.format, r.format, r.int) {
                    (Some(f), Some(rf), _) => f == rf,
                    (None, None, Some(i)) => {
                        let fine = (self.settings.granularity, self.settings.rotate);
                        let plain = fine == (Granularity::Tensor, Rotation::None);
                        i.bits == q.bits
                            && i.scheme == q.scheme
                            && (r.fine.is_none() || i.calibration == q.calibration)
                            && (r.fine == Some(fine) || (plain && r.fine.is_none()))
                    }
                    _ => false,
                };
                crate::present::json::FormatTableRow::new(r, front, current)
            })
            .collect();
        Ok(crate::present::json::to_json(&rows))
    }

    /// Sets what the heatmap shows (`abs`: |x|, `error`: |x - x̂|) and how it reduces the
    /// values a pixel covers (`max` or `mean`); the next `draw("heatmap")` shows it.
    pub fn set_heatmap(&mut self, what: &str, reduce: &str) -> Result<()> {
        let w = HeatValue::parse(what).ok_or_else(|| Error::Setting {
            name: "heatmap value",
            given: what.into(),
            expected: "abs or error".into(),
        })?;
        let r = Reduce::parse(reduce).ok_or_else(|| Error::Setting {
            name: "heatmap reduction",
            given: reduce.into(),
            expected: "max or mean".into(),
        })?;
        self.heat = (w, r);
        Ok(())
    }

    /// Whether the kept heatmap grid is stale after an update: new data, or a grid of the error.
    fn analysis_changed_or_error_view(&self, fresh: bool) -> bool {
        fresh
            || self
                .heat_grid
                .as_ref()
                .is_some_and(|((what, ..), _)| *what == HeatValue::Error)
    }

    /// The data's `(rows, cols)`: its shape, or one row for 1-D data.
    fn rows_cols(&self) -> Option<(usize, usize)> {
        let a = self.analysis.as_ref()?;
        Some(a.data.shape.unwrap_or((1, a.values().len())))
    }

    /// Draws the heatmap of the current state, reusing the grid of the same view and size.
    fn draw_heatmap<DB: DrawingBackend>(
        &mut self,
        area: &DrawingArea<DB, Shift>,
        theme: &Theme,
    ) -> std::result::Result<Option<HeatPlot>, String> {
        let (rows, cols) = self
            .rows_cols()
            .ok_or("nothing to draw yet: call update() first")?;
        let (what, reduce) = self.heat;
        let (Some(a), Some(run)) = (&self.analysis, &self.run) else {
            return Err("nothing to draw yet: call update() first".into());
        };
        let xs = a.values();
        let granular = self.granular.as_ref();
        let format = self
            .settings
            .format
            .and_then(|f| self.format.as_ref().filter(|s| s.key.0 == f));
        let cache = &mut self.heat_grid;
        let computed = &mut self.computed;
        let mut grid = |w: usize, h: usize| -> HeatGrid {
            let key = (what, reduce, w, h);
            if let Some((k, g)) = cache.as_ref() {
                if *k == key {
                    return g.clone();
                }
            }
            let row = |r: usize| &xs[r * cols..][..cols];
            let g = match what {
                HeatValue::Magnitude => {
                    HeatGrid::of_rows(rows, cols, w, h, reduce, &mut |r, out| {
                        for (o, &x) in out.iter_mut().zip(row(r)) {
                            *o = x.abs();
                        }
                    })
                }
                HeatValue::Error => {
                    let units = granular.and_then(|g| g.units.as_ref());
                    match (
                        granular.and_then(|g| g.dequantized.as_deref()),
                        format,
                        units,
                    ) {
                        (None, _, Some(u)) => {
                            HeatGrid::of_rows(rows, cols, w, h, reduce, &mut |r, out| {
                                let xs = row(r);
                                for k in 0..u.units.per_row {
                                    let p = &u.params[r * u.units.per_row + k];
                                    let at = k * u.units.size;
                                    let end = (at + u.units.size).min(cols);
                                    for (o, &x) in out[at..end].iter_mut().zip(&xs[at..end]) {
                                        *o = (x - p.fake_quantize(x)).abs();
                                    }
                                }
                            })
                        }
                        (Some(d), _, _) => {
                            HeatGrid::of_rows(rows, cols, w, h, reduce, &mut |r, out| {
                                let d = &d[r * cols..][..cols];
                                for ((o, &x), &y) in out.iter_mut().zip(row(r)).zip(d) {
                                    *o = (x - y).abs();
                                }
                            })
                        }
                        (None, Some(f), None) => {
                            let d = &f.run.quantized.dequantized;
                            HeatGrid::of_rows(rows, cols, w, h, reduce, &mut |r, out| {
                                let d = &d[r * cols..][..cols];
                                for ((o, &x), &y) in out.iter_mut().zip(row(r)).zip(d) {
                                    *o = (x - f64::from(y)).abs();
                                }
                            })
                        }
                        (None, None, None) => {
                            let p = run.params;
                            HeatGrid::of_rows(rows, cols, w, h, reduce, &mut |r, out| {
                                for (o, &x) in out.iter_mut().zip(row(r)) {
                                    *o = (x - p.fake_quantize(x)).abs();
                                }
                            })
                        }
                    }
                }
            };
            computed.heat_grids += 1;
            *cache = Some((key, g.clone()));
            g
        };
        let units = granular.and_then(|g| g.units.as_ref()).map(|u| &u.units);
        charts::draw_heatmap(area, rows, cols, what, units, &mut grid, theme)
    }

    /// What lies under the pixel `(x, y)` of the heatmap as last drawn, as JSON: its row,
    /// column, value, dequantized value, error, unit and the unit's scale and zero point (the
    /// per-tensor ones at `tensor`); `None` off the plot.
    pub fn heatmap_at(&self, x: f64, y: f64) -> Option<String> {
        let (rows, cols) = self.rows_cols()?;
        let (r, c) = self.heat_plot?.cell_at(x, y, rows, cols)?;
        let a = self.analysis.as_ref()?;
        let run = self.run.as_ref()?;
        let i = r * cols + c;
        let x = *a.values().get(i)?;
        let units = self.granular.as_ref().and_then(|g| g.units.as_ref());
        let (unit, p) = match units {
            Some(u) => {
                let k = u.units.unit_of(i);
                (k, *u.params.get(k)?)
            }
            None => (0, run.params),
        };
        let deq = match (&self.granular, self.current_format()) {
            (Some(g), _) => match &g.dequantized {
                Some(d) => d.get(i).copied(),
                None => Some(p.fake_quantize(x)),
            },
            (None, Some(f)) => f.run.quantized.dequantized.get(i).map(|&d| f64::from(d)),
            (None, None) => Some(run.params.fake_quantize(x)),
        };
        let json = HeatCell {
            row: r,
            col: c,
            value: x,
            dequantized: deq,
            error: deq.map(|d| x - d),
            unit,
            units: units.map_or(1, |u| u.units.count()),
            scale: self.settings.format.is_none().then_some(p.scale),
            zero_point: self.settings.format.is_none().then_some(p.zero_point),
        };
        Some(crate::present::json::to_json(&json))
    }

    /// Reads the model section's network and test set (the bytes of `digits-mlp.safetensors`
    /// and `digits-test.safetensors`); on bad bytes keeps the model it had, if any.
    pub fn load_model(&mut self, model: &[u8], test_set: &[u8]) -> Result<()> {
        let model = Model::from_bytes(model, test_set)?;
        self.model = Some(ModelState {
            model,
            eval: None,
            sweep: None,
        });
        Ok(())
    }

    /// Whether the model section has its network.
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Whether the accuracy chart's sweep is computed: if not, that chart's next draw computes
    /// it (the network evaluated at every int width and format).
    pub fn model_ready(&self) -> bool {
        self.model.as_ref().is_some_and(|m| m.sweep.is_some())
    }

    /// The model section as JSON (see [`crate::present::model_section::ModelSectionJson`]):
    /// the network evaluated with the current quantization settings, computed once per
    /// setting. Settings that cannot quantize the network give JSON with their `error`, not an
    /// error; no model yet is one.
    pub fn model_json(&mut self) -> Result<String> {
        self.model_outcome()?;
        let st = self.model.as_ref().ok_or_else(no_model)?;
        let (s, outcome) = st.eval.as_ref().ok_or_else(no_model)?;
        let json = crate::present::model_section::ModelSectionJson::new(
            s,
            outcome,
            st.model.test_set(),
            st.model.float_predictions(),
            st.model.float_correct(),
        );
        Ok(crate::present::json::to_json(&json))
    }

    /// The network evaluated with the current quantization settings, evaluated only when they
    /// differ from the last ones evaluated.
    fn model_outcome(&mut self) -> Result<&std::result::Result<Evaluation, String>> {
        let key = model_key(&self.settings);
        let st = self.model.as_mut().ok_or_else(no_model)?;
        if st.eval.as_ref().is_none_or(|(k, _)| *k != key) {
            let outcome = st.model.evaluate(&key).map_err(|e| e.to_string());
            st.eval = Some((key, outcome));
            self.computed.model_evaluations += 1;
        }
        let (_, outcome) = st.eval.as_ref().ok_or_else(no_model)?;
        Ok(outcome)
    }

    /// Computes the accuracy chart's sweep where it is not yet.
    fn compute_model_sweep(&mut self) -> Result<()> {
        let st = self.model.as_mut().ok_or_else(no_model)?;
        if st.sweep.is_none() {
            st.sweep = Some(st.model.sweep(&model_sweep_base()));
            self.computed.model_sweeps += 1;
        }
        Ok(())
    }

    /// The current format's state, where a format other than int is chosen.
    fn current_format(&self) -> Option<&FormatState> {
        let f = self.settings.format?;
        self.format.as_ref().filter(|s| s.key.0 == f)
    }

    /// Computes the comparison of every format where it is stale, for its chart's first draw.
    fn compute_every_format(&mut self) -> Result<()> {
        while self.formats_step()? > 0 {}
        Ok(())
    }

    /// Each block's scale and error of the current format's run as JSON (as the blocks chart
    /// plots them: at most 2048 entries, each the largest of its group of blocks).
    pub fn strip(&mut self) -> Result<String> {
        let f = self.format_parts()?;
        let b = f.blocks.as_ref().ok_or_else(nothing_yet)?;
        Ok(crate::present::json::to_json(
            &crate::present::json::BlocksJson::new(b, f.run.block),
        ))
    }

    /// The current format's state with its blocks' summary and histogram, computing them where
    /// `update` left them out. Errors with int.
    fn format_parts(&mut self) -> Result<&FormatState> {
        let no_format = || Error::Chart("no blocks: choose a format other than int".into());
        let f = self.settings.format.ok_or_else(no_format)?;
        let a = self.analysis.as_ref().ok_or_else(nothing_yet)?;
        let st = self
            .format
            .as_mut()
            .filter(|s| s.key.0 == f)
            .ok_or_else(no_format)?;
        let run = &st.run;
        let values = self.format_values.get_or_insert_with(|| {
            let (lo, hi) = histogram_range(a.stats.min, a.stats.max);
            Histogram::of(a.values(), lo, hi, HISTOGRAM_BINS)
        });
        // Both at once (they are made and dropped together): one pass over the dequantized
        // values.
        if st.blocks.is_none() || st.view.is_none() {
            let bins = Histogram::new(values.lo, values.hi, values.counts.len());
            let e = format_extras(a.values(), &run.quantized, run.block, bins);
            let blocks = BlockSummary::from_mse(f, &run.quantized, run.block, e.block_mse);
            st.view = Some(FormatView::with_dequantized(
                f,
                run.block,
                &run.quantized,
                values.clone(),
                e.dequantized,
                blocks.top,
            ));
            st.blocks = Some(blocks);
        }
        Ok(st)
    }

    /// The int run's view (what the histogram and the staircase draw), computed on first use
    /// after `update` changed the run.
    fn int_view(&mut self) -> Result<&View> {
        if self.view.is_none() {
            let (Some(a), Some(run)) = (&self.analysis, &self.run) else {
                return Err(nothing_yet());
            };
            self.view = Some(a.view_without_errors(*run));
        }
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

    /// Where `settings` take the data from: the loaded file, or what they generate.
    fn source_of(&self, settings: &Settings) -> Source {
        match (&self.file, settings.preset) {
            (Some(f), _) => Source::File(f.label.clone()),
            (None, Some(p)) => {
                Source::Preset(p, settings.data.seed, settings.data.outlier_value.to_bits())
            }
            (None, None) => Source::Generated(settings.data, settings.matrix),
        }
    }

    /// Computes everything for `settings`, reusing what did not change; commits only on success.
    fn apply(&mut self, settings: Settings) -> Result<String> {
        // A run made in parts serves this update or none: taken before anything can fail.
        let help = self.help.take();
        let source = self.source_of(&settings);
        let fresh = self.source.as_ref() != Some(&source) || self.analysis.is_none();
        if fresh {
            // The old data's float32 copy goes before the new data is made (wasm memory keeps
            // its high-water mark); should this update fail, the copy is made again on use.
            if let Some(a) = self.analysis.as_mut() {
                a.forget_values_f32();
            }
        }
        let new_analysis = if fresh {
            let data = match &self.file {
                Some(f) => f.clone(),
                None => std::sync::Arc::new(dataset_for(&settings)?),
            };
            Some(Analysis::new_shared(data)?)
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
        // The view only when a chart of it is drawn (`draw`), and the errors' histogram only
        // when the error chart is: a Format change, which keeps the run, recomputes neither.
        let same_run = !fresh && self.run == Some(run);
        if q.calibration == Calibration::Kl && settings.granularity != Granularity::Tensor {
            let units = analysis.units(settings.granularity)?.count();
            if units > PAGE_KL_UNITS {
                return Err(Error::Setting {
                    name: "calibration",
                    given: format!("kl with granularity {}", settings.granularity),
                    expected: format!(
                        "at most {PAGE_KL_UNITS} units for kl on the page, not {units}: kl \
                         searches 1,921 thresholds for each unit (milliseconds each, on one \
                         core here); choose a coarser granularity or another calibration, or \
                         run `quantviz quantize --input F --scheme symmetric --calibration kl \
                         --granularity {}` on all cores",
                        settings.granularity
                    ),
                });
            }
        }
        let granular =
            if settings.granularity != Granularity::Tensor || settings.rotate != Rotation::None {
                let g = GranularSettings {
                    quant: q,
                    format: settings.format.map(|f| (f, settings.block)),
                    granularity: settings.granularity,
                    rotate: settings.rotate,
                };
                // The values after rotation and the dequantized values only with a rotation
                // (where the dequantized values are made anyway, to rotate back): without one,
                // each value's x̂ is its unit's parameters applied to it, and a Granularity
                // change writes no arrays of the codes and dequantized values.
                Some(analysis.granular(&g, settings.rotate != Rotation::None)?)
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
        // The format's run, unless the one kept is of the same data, format and block.
        let new_format = match settings.format {
            None => None,
            Some(f) => {
                let block = f.block(settings.block)?;
                let kept = self
                    .format
                    .as_ref()
                    .filter(|s| !fresh && s.key == (f, block));
                let ahead = self
                    .ahead
                    .get_mut(f as usize)
                    .filter(|s| !fresh && s.as_ref().is_some_and(|s| s.key == (f, block)));
                match (kept, help, ahead.and_then(Option::take)) {
                    (Some(_), _, _) => None,
                    (None, _, Some(run)) => {
                        self.computed.runs_taken += 1;
                        Some(*run)
                    }
                    (None, help, None) => {
                        match help.and_then(|h| h.joined_for(analysis, (f, block))) {
                            Some(q) => Some(FormatState::of(analysis, (f, block), q)?),
                            None => Some(FormatState::new(analysis, f, settings.block)?),
                        }
                    }
                }
            }
        };
        let format_now = match settings.format {
            None => None,
            Some(_) => new_format.as_ref().or(self.format.as_ref()),
        };
        let kind = match source {
            Source::File(_) => "file",
            Source::Preset(..) => "preset",
            Source::Generated(..) => "generated",
        };
        let mut summary = crate::present::json::summary_json(
            &settings,
            kind,
            self.file_note.as_deref(),
            analysis,
            &run,
            &compare,
            format_now.map(|f| &f.run),
        );
        summary.granular = granular
            .as_ref()
            .map(crate::present::json::PageGranularJson::from);
        let summary = crate::present::json::to_json(&summary);
        if let Some(a) = new_analysis {
            self.analysis = Some(a);
            self.computed.analyses += 1;
            // Of the old data: dropped (a kept format run would be of the old values).
            self.format = None;
            self.ahead = Ahead::default();
            self.format_values = None;
            self.every = None;
            self.kl_view = None;
            // On large data (a model's tensor), what a first format run needs of the data is
            // made now rather than by that run: a Format change made as soon as the data is
            // shown then takes what later ones take. The float32 values every format takes,
            // the values binned for a format's histogram, and the room the run is written to.
            if let Some(a) =
                (self.analysis.as_ref()).filter(|a| a.values().len() >= HELP_MIN_VALUES)
            {
                // An error (a value beyond float32) is the format run's to report.
                let _ = a.values_f32();
                let (lo, hi) = histogram_range(a.stats.min, a.stats.max);
                self.format_values = Some(Histogram::of(a.values(), lo, hi, HISTOGRAM_BINS));
                write_room(a.values().len() * ROOM_PER_VALUE);
            }
        }
        if let Some(f) = new_format {
            if self.format.as_ref().map(|s| s.run.blocks) != Some(f.run.blocks) {
                self.selected_block = 0;
            }
            // A K-quant's run given way to goes back among those kept ahead, where it fits:
            // going back to it is then as quick as the first visit was.
            if let Some(old) = self.format.replace(f) {
                let n = old.run.quantized.codes.len();
                if old.key.0.is_k_quant()
                    && ahead_bytes(&self.ahead) + n * AHEAD_PER_VALUE <= AHEAD_BYTES
                {
                    let slot = old.key.0 as usize;
                    if let Some(s) = self.ahead.get_mut(slot) {
                        *s = Some(Box::new(old));
                    }
                }
            }
            self.computed.format_runs += 1;
        }
        if compared {
            self.computed.compares += 1;
        }
        self.source = Some(source);
        self.settings = settings;
        self.run = Some(run);
        if !same_run {
            self.view = None;
        }
        self.compare = Some((q, compare));
        self.granular = granular;
        // The |x| heatmap depends on the data alone; the error's on everything.
        if self.analysis_changed_or_error_view(fresh) {
            self.heat_grid = None;
        }
        if !same_sweep {
            self.sweep = None;
            self.sweep_count = self.sweep_count.wrapping_add(1);
        }
        Ok(summary)
    }
}

impl FormatState {
    /// `format` (with the block `block` asks for) on the analysis's data.
    // Not inlined: its two callers would each hold a copy of the whole run.
    #[inline(never)]
    fn new(analysis: &Analysis, format: Format, block: Option<usize>) -> Result<FormatState> {
        let run = analysis.format_run(format, block)?;
        Ok(FormatState {
            key: (format, format.block(block)?),
            run,
            blocks: None,
            view: None,
        })
    }

    /// The format `key` on the analysis's data from its result made in parts.
    fn of(
        analysis: &Analysis,
        key: (Format, usize),
        quantized: crate::quant::formats::Quantized,
    ) -> Result<FormatState> {
        Ok(FormatState {
            key,
            run: analysis.format_run_of(key.0, key.1, quantized)?,
            blocks: None,
            view: None,
        })
    }
}

/// The comparison's row of the K-quant `f` (its block as the row asks for it), measured on a
/// whole run that is kept in `ahead` while the runs there fit in [`AHEAD_BYTES`]; a run kept
/// already (there or as the current format's, `current`) is measured again, not made. The row
/// is the streamed measure's, bit for bit: both sum the same errors in numpy's order.
#[inline(never)]
fn row_ahead(
    a: &Analysis,
    (f, block): (Format, Option<usize>),
    ahead: &mut Ahead,
    current: Option<&FormatState>,
) -> FormatRow {
    let spec = RowSpec::Format(f, block);
    let key = f.block(block).map(|b| (f, b)).ok();
    let Some(slot) = ahead.get_mut(f as usize) else {
        return a.format_row(&spec);
    };
    let kept = slot.as_deref().or(current).filter(|s| Some(s.key) == key);
    let run = match kept {
        Some(s) => &s.run,
        None => {
            let n = a.values().len();
            let room = n * AHEAD_PER_VALUE <= AHEAD_BYTES - ahead_bytes(ahead).min(AHEAD_BYTES);
            // The streamed measure says why the format cannot take the data.
            let Some(s) = room.then(|| FormatState::new(a, f, block).ok()).flatten() else {
                return a.format_row(&spec);
            };
            &ahead[f as usize].insert(Box::new(s)).run
        }
    };
    a.format_row_of(f, block, Ok((run.metrics, run.bits_per_weight)))
}

/// Bytes a value of a run kept ahead is counted at: its code and its dequantized value. Its
/// super-block's scales (a `BlockScale` and two small vectors per 256 values) add under half a
/// byte a value that [`AHEAD_BYTES`] does not count.
const AHEAD_PER_VALUE: usize = 8;

/// The bytes of the runs kept in `ahead`.
fn ahead_bytes(ahead: &Ahead) -> usize {
    ahead
        .iter()
        .flatten()
        .map(|s| s.run.quantized.codes.len() * AHEAD_PER_VALUE)
        .sum()
}

/// What the comparison of every format depends on besides the data.
fn formats_key(s: &Settings) -> FormatsKey {
    let block = match s.format {
        Some(Format::Nf4) => s.block,
        _ => None,
    };
    (s.quant.calibration, s.quant.zero_point, block)
}

/// What the model's evaluation depends on: the settings with the data's part left at its
/// defaults (the model has its own weights), so that a new setting of any quantization field
/// is a new key and a data change is not.
fn model_key(s: &Settings) -> Settings {
    Settings {
        data: DataSpec::default(),
        preset: None,
        ..*s
    }
}

/// The settings the accuracy chart's int families run at each width (asymmetric min-max, one
/// scale per tensor unless the family says otherwise), the same whatever the page's controls
/// say: the chart is computed once per model, and the ring marks where the current setting
/// falls against it.
fn model_sweep_base() -> Settings {
    Settings::default()
}

fn no_model() -> Error {
    Error::Chart("the model is not loaded yet: load it first".into())
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
    fn the_heatmap_grid_is_kept_per_state_view_and_size() {
        let mut s = Session::new();
        summary(&mut s, "shape=64,256&bits=4&granularity=group:32");
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 1);
        // The same state, view and size: the grid is reused.
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 1);
        // Another view, then a new state: computed again.
        s.set_heatmap("error", "mean").unwrap();
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 2);
        summary(&mut s, "shape=64,256&bits=4&granularity=channel");
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 3);
        // The |x| view depends on the data alone: kept through a quantization change.
        s.set_heatmap("abs", "max").unwrap();
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 4);
        summary(&mut s, "shape=64,256&bits=3&granularity=group:64");
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 4);
        summary(&mut s, "shape=64,256&bits=3&granularity=group:64&seed=7");
        draw(&mut s, "heatmap").unwrap();
        assert_eq!(s.computed().heat_grids, 5);
        assert!(s
            .set_heatmap("log", "max")
            .unwrap_err()
            .to_string()
            .contains("abs or error"));
        assert!(s
            .set_heatmap("abs", "median")
            .unwrap_err()
            .to_string()
            .contains("max or mean"));
    }

    #[test]
    fn pointing_at_the_heatmap_finds_the_value_and_its_unit() {
        let mut s = Session::new();
        summary(&mut s, "shape=8,64&bits=4&granularity=group:16");
        assert!(s.heatmap_at(100.0, 100.0).is_none(), "nothing drawn yet");
        draw(&mut s, "heatmap").unwrap();
        let p = s.heat_plot.unwrap();
        // The last row's last value, at the plot's bottom-right pixel.
        let json = s
            .heatmap_at(f64::from(p.x1) - 0.5, f64::from(p.y1) - 0.5)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((v["row"].as_u64(), v["col"].as_u64()), (Some(7), Some(63)));
        let g = s.granular().unwrap().units.as_ref().unwrap();
        let i = 7 * 64 + 63;
        assert_eq!(v["unit"].as_u64(), Some(g.units.unit_of(i) as u64));
        assert_eq!(v["units"].as_u64(), Some(32));
        assert_eq!(
            v["scale"].as_f64(),
            Some(g.params[g.units.unit_of(i)].scale)
        );
        assert_eq!(
            v["value"].as_f64(),
            Some(s.analysis.as_ref().unwrap().values()[i])
        );
        // Without rotation the session keeps no dequantized array: x̂ is the unit's parameters
        // applied, the same bits as the run that keeps them.
        assert!(s.granular().unwrap().dequantized.is_none());
        let kept = s
            .analysis
            .as_ref()
            .unwrap()
            .granular(&s.granular().unwrap().settings, true)
            .unwrap();
        let d = kept.dequantized.unwrap()[i];
        assert_eq!(v["dequantized"].as_f64(), Some(d));
        assert_eq!(
            v["error"].as_f64(),
            Some(s.analysis.as_ref().unwrap().values()[i] - d)
        );
        assert!(s
            .heatmap_at(f64::from(p.x1) + 1.0, f64::from(p.y0))
            .is_none());
    }

    #[test]
    fn scales_are_drawn_per_unit_and_per_tensor() {
        let mut s = Session::new();
        summary(&mut s, "shape=32,64&row_spread=1&granularity=channel");
        let svg = draw(&mut s, "scales").unwrap();
        assert!(svg.contains("32 rows"), "{svg}");
        summary(&mut s, "shape=32,64");
        let svg = draw(&mut s, "scales").unwrap();
        assert!(svg.contains("per tensor: one scale"), "{svg}");
        let v: serde_json::Value =
            serde_json::from_str(&summary(&mut s, "shape=32,64&granularity=group:32")).unwrap();
        assert_eq!(v["settings"]["shape"], serde_json::json!([32, 64]));
        assert_eq!(v["settings"]["granularity"], "group:32");
        assert_eq!(v["granular"]["units"]["count"], 64);
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

    const FMT: &str = "dist=normal:0,1&n=8192&seed=7&bits=4";

    #[test]
    fn kl_on_more_units_than_the_page_takes_is_refused_and_the_state_kept() {
        let mut s = Session::new();
        let few = "shape=64,64&scheme=symmetric&calibration=kl&granularity=channel";
        let shown = summary(&mut s, few);
        let many = "shape=512,16&scheme=symmetric&calibration=kl&granularity=channel";
        let e = s.update(many).unwrap_err().to_string();
        assert!(
            e.contains("at most 256 units") && e.contains("not 512"),
            "{e}"
        );
        assert!(e.contains("--granularity channel"), "{e}");
        // Groups count too; per tensor any size is one search.
        let e = s
            .update("shape=64,64&scheme=symmetric&calibration=kl&granularity=group:8")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not 512"), "{e}");
        assert_eq!(summary(&mut s, few), shown);
        summary(&mut s, "shape=512,16&scheme=symmetric&calibration=kl");
    }

    #[test]
    fn a_format_run_is_recomputed_only_when_data_format_or_block_change() {
        let mut s = Session::new();
        let int = summary(&mut s, FMT);
        assert!(int.contains("\"format\":null"), "int has no format part");
        assert_eq!(s.computed().format_runs, 0);
        let q4 = summary(&mut s, &format!("{FMT}&format=q4_0"));
        assert!(q4.contains("\"format\":{\"format\":\"q4_0\""), "{q4}");
        assert_eq!(s.computed().format_runs, 1);
        // The int settings feed the int scheme, not the format.
        summary(&mut s, "dist=normal:0,1&n=8192&seed=7&bits=6&format=q4_0");
        summary(
            &mut s,
            "dist=normal:0,1&n=8192&seed=7&bits=6&scheme=symmetric&format=q4_0",
        );
        assert_eq!(s.computed().format_runs, 1, "int settings keep the run");
        // Back to int and to the same format again: the run was kept.
        summary(&mut s, FMT);
        let again = summary(&mut s, &format!("{FMT}&format=q4_0"));
        assert_eq!(
            s.computed().format_runs,
            1,
            "the last run is kept across int"
        );
        assert_eq!(again, q4, "and is the same run");
        summary(&mut s, &format!("{FMT}&format=q8_0"));
        assert_eq!(s.computed().format_runs, 2, "a new format");
        summary(&mut s, &format!("{FMT}&format=nf4"));
        summary(&mut s, &format!("{FMT}&format=nf4&block=64"));
        assert_eq!(s.computed().format_runs, 3, "block 64 is nf4's default");
        summary(&mut s, &format!("{FMT}&format=nf4&block=128"));
        assert_eq!(s.computed().format_runs, 4, "a new block");
        summary(
            &mut s,
            "dist=normal:0,1&n=8192&seed=8&bits=4&format=nf4&block=128",
        );
        assert_eq!(s.computed().format_runs, 5, "new data");
        assert_eq!(s.computed().analyses, 2);
        // A fresh session gives the same summary.
        let mut fresh = Session::new();
        assert_eq!(
            summary(
                &mut fresh,
                "dist=normal:0,1&n=8192&seed=8&bits=4&format=nf4&block=128"
            ),
            summary(
                &mut s,
                "dist=normal:0,1&n=8192&seed=8&bits=4&format=nf4&block=128"
            )
        );
    }

    /// On large data the update makes the float32 values and bins the values for a format's
    /// histogram, so that a first format run does not wait for them; the comparison's first
    /// step then measures. Smaller data leaves both to the first run that needs them.
    #[test]
    fn large_data_is_made_ready_for_a_format_run_by_its_update() {
        let mut s = Session::new();
        summary(&mut s, "dist=normal:0,1&n=8388608&seed=3");
        let a = s.analysis.as_ref().unwrap();
        assert!(a.has_values_f32(), "the float32 values made ahead");
        let (lo, hi) = histogram_range(a.stats.min, a.stats.max);
        let whole = Histogram::of(a.values(), lo, hi, HISTOGRAM_BINS);
        assert_eq!(s.format_values.as_ref(), Some(&whole));
        s.formats_step().unwrap();
        let every = s.every.as_ref().unwrap();
        assert!(
            every.job.is_some() || !every.rows.is_empty(),
            "the first step measures"
        );
        summary(&mut s, "dist=normal:0,1&n=8388607&seed=3");
        assert!(s.format_values.is_none());
        assert!(!s.analysis.as_ref().unwrap().has_values_f32());
    }

    #[test]
    fn every_format_measured_a_row_at_a_time_is_the_table_made_at_once() {
        let q = "dist=normal:0,1&n=8192&seed=7&bits=5&shape=64,128";
        let mut whole = Session::new();
        summary(&mut whole, q);
        let table = whole.formats_table().unwrap();
        let mut s = Session::new();
        summary(&mut s, q);
        let mut lefts = vec![];
        loop {
            let left = s.formats_step().unwrap();
            lefts.push(left);
            if left == 0 {
                break;
            }
            assert!(!s.formats_ready());
            // A change the comparison does not depend on keeps the rows measured so far.
            if lefts.len() == 3 {
                summary(&mut s, "dist=normal:0,1&n=8192&seed=7&bits=6&shape=64,128");
                summary(&mut s, q);
            }
        }
        // One row a step, from all of them to none, int schemes, finer scales and formats.
        assert!(lefts.len() > 13 + 14, "{lefts:?}");
        assert!(lefts.windows(2).all(|w| w[1] + 1 == w[0]), "{lefts:?}");
        assert!(s.formats_ready());
        assert_eq!(s.computed().every_formats, 1);
        assert_eq!(s.formats_table().unwrap(), table);
        assert_eq!(s.formats_step().unwrap(), 0);
        // New data starts it over.
        summary(&mut s, "dist=normal:0,1&n=8192&seed=8&bits=5&shape=64,128");
        assert_eq!(s.formats_step().unwrap(), lefts[0]);
    }

    /// New data with a K-quant chosen makes its run: the runs the comparison kept were of
    /// the data before.
    #[test]
    fn new_data_in_a_k_quant_does_not_take_a_kept_run() {
        let q = "dist=normal:0,1&n=8192&seed=7&bits=4&shape=64,128";
        let mut s = Session::new();
        summary(&mut s, q);
        s.formats_table().unwrap();
        assert_eq!(s.ahead.iter().flatten().count(), 5);
        let q2 = "dist=normal:0,1&n=8192&seed=8&bits=4&shape=64,128&format=q4_K";
        let got = summary(&mut s, q2);
        let mut made = Session::new();
        assert_eq!(got, summary(&mut made, q2));
        assert_eq!(s.strip().unwrap(), made.strip().unwrap());
        assert_eq!(s.computed().runs_taken, 0);
    }

    #[test]
    fn the_comparison_keeps_its_k_quant_runs_for_a_format_change() {
        let q = "dist=normal:0,1&n=8192&seed=7&bits=4&shape=64,128";
        let mut s = Session::new();
        summary(&mut s, q);
        s.formats_table().unwrap();
        // Its K-quant rows, measured on the runs it keeps, are the streamed measure's.
        let (a, every) = (s.analysis.as_ref().unwrap(), s.every.as_ref().unwrap());
        let mut k_quants = 0;
        for (spec, row) in every.specs.iter().zip(&every.rows) {
            if matches!(spec, RowSpec::Format(f, _) if f.is_k_quant()) {
                assert_eq!(*row, a.format_row(spec), "{spec:?}");
                k_quants += 1;
            }
        }
        assert_eq!((k_quants, s.ahead.iter().flatten().count()), (5, 5));
        // A change to one of them takes its run; the one it replaces goes back. What the page
        // is given is what a run made then gives.
        for (i, f) in ["q4_K", "q2_K", "q4_K", "q8_0", "q6_K"]
            .into_iter()
            .enumerate()
        {
            let query = format!("{q}&format={f}");
            let got = summary(&mut s, &query);
            let mut made = Session::new();
            assert_eq!(got, summary(&mut made, &query), "{f}");
            assert_eq!(s.strip().unwrap(), made.strip().unwrap(), "{f}");
            assert_eq!(draw(&mut s, "blocks"), draw(&mut made, "blocks"), "{f}");
            assert_eq!(s.computed().format_runs, i as u32 + 1);
        }
        assert_eq!(s.computed().runs_taken, 4, "q8_0 is made");
        assert_eq!(
            s.ahead.iter().flatten().count(),
            4,
            "q6_K is the current run"
        );
        // A restarted comparison measures the runs kept, the current one among them, without
        // making them again.
        summary(&mut s, &format!("{q}&format=q6_K&calibration=mse"));
        s.formats_table().unwrap();
        assert_eq!(s.ahead.iter().flatten().count(), 4);
        summary(&mut s, &format!("{q}&format=q5_K&calibration=mse"));
        assert_eq!(s.computed().runs_taken, 5);
        // New data lets them go.
        summary(&mut s, "dist=normal:0,1&n=8192&seed=8&bits=4&shape=64,128");
        assert_eq!(s.ahead.iter().flatten().count(), 0);
    }

    #[test]
    fn every_format_is_computed_on_its_chart_s_first_draw_and_kept_while_its_key_holds() {
        let mut s = Session::new();
        summary(&mut s, FMT);
        assert!(!s.formats_ready());
        assert_eq!(s.computed().every_formats, 0, "update leaves it out");
        let a = draw(&mut s, "formats").unwrap();
        assert!(s.formats_ready());
        assert_eq!(s.computed().every_formats, 1);
        let table = s.formats_table().unwrap();
        assert_eq!(s.computed().every_formats, 1, "the table is the chart's");
        assert!(table.contains("\"label\":\"int4 asymmetric\""), "{table}");
        assert!(table.contains("\"front\":true"), "{table}");
        // Bits, scheme and the format choose what is ringed: the comparison stays.
        for q in [
            "dist=normal:0,1&n=8192&seed=7&bits=5",
            "dist=normal:0,1&n=8192&seed=7&bits=5&scheme=symmetric",
            "dist=normal:0,1&n=8192&seed=7&bits=5&format=q4_1",
            "dist=normal:0,1&n=8192&seed=7&bits=5&format=nf4",
        ] {
            summary(&mut s, q);
            assert!(s.formats_ready(), "{q}");
            let b = draw(&mut s, "formats").unwrap();
            assert_ne!(a, b, "{q}: the current choice is drawn");
        }
        assert_eq!(s.computed().every_formats, 1);
        // What it depends on: calibration, zero point, NF4's block, the data.
        for q in [
            "dist=normal:0,1&n=8192&seed=7&bits=5&format=nf4&calibration=mse",
            "dist=normal:0,1&n=8192&seed=7&bits=5&format=nf4&calibration=mse&zero_point=include-zero",
            "dist=normal:0,1&n=8192&seed=7&bits=5&format=nf4&block=256&calibration=mse&zero_point=include-zero",
            "dist=normal:0,1&n=8192&seed=9&bits=5&format=nf4&block=256&calibration=mse&zero_point=include-zero",
        ] {
            summary(&mut s, q);
            assert!(!s.formats_ready(), "{q} makes it stale");
            draw(&mut s, "formats").unwrap();
        }
        assert_eq!(s.computed().every_formats, 5);
    }

    #[test]
    fn a_format_that_cannot_take_the_data_keeps_the_previous_state() {
        let mut s = Session::new();
        let before = summary(&mut s, "dist=normal:0,1&n=1024&seed=7&format=q8_0");
        let histogram = draw(&mut s, "histogram").unwrap();
        let e = s
            .update("dist=normal:0,1&n=1000&seed=7&format=q8_0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("32") && e.contains("992 or 1024"), "{e}");
        let e = s
            .update("dist=normal:0,1&n=1000&seed=7&format=q4_K")
            .unwrap_err()
            .to_string();
        assert!(e.contains("256") && e.contains("768 or 1024"), "{e}");
        assert!(s.update("format=q4_0&block=64").is_err());
        assert!(s.update("format=nf4&block=48").is_err());
        assert_eq!(draw(&mut s, "histogram").unwrap(), histogram);
        assert_eq!(s.query(), "dist=normal:0,1&n=1024&seed=7&outliers=0&outlier_value=20&bits=8&scheme=asymmetric&calibration=minmax&zero_point=raw&format=q8_0");
        assert_eq!(
            summary(&mut s, "dist=normal:0,1&n=1024&seed=7&format=q8_0"),
            before
        );
        assert_eq!(s.computed().format_runs, 1);
    }

    #[test]
    fn blocks_are_inspected_one_at_a_time() {
        let mut s = Session::new();
        assert!(s.block(0).is_err(), "nothing yet");
        summary(&mut s, FMT);
        assert!(s.block(0).unwrap_err().to_string().contains("int"));
        assert!(s.strip().is_err(), "int has no blocks");
        assert!(draw(&mut s, "blocks").is_err(), "int has no blocks");
        summary(&mut s, &format!("{FMT}&format=q4_0"));
        let b = s.block(3).unwrap();
        assert!(
            b.contains("\"index\":3") && b.contains("\"start\":96"),
            "{b}"
        );
        assert!(b.contains("\"encoding\":\"fp16\""), "{b}");
        assert!(b.contains("x̂ = (q − 8) · d = ("), "{b}");
        assert_eq!(s.selected_block(), 3);
        let e = s.block(256).unwrap_err().to_string();
        assert!(e.contains("0 to 255"), "{e}");
        assert_eq!(s.selected_block(), 3, "a bad index changes nothing");
        assert_eq!(s.block_at(10.0), None, "not drawn yet");
        let strip = s.strip().unwrap();
        assert!(
            strip.contains("\"count\":256") && strip.contains("\"block\":32"),
            "{strip}"
        );
        draw(&mut s, "blocks").unwrap();
        let (x0, x1) = s.blocks_plot.unwrap();
        assert!(x1 > x0);
        assert_eq!(s.block_at(f64::from(x0)), Some(0));
        assert_eq!(s.block_at(f64::from(x1)), Some(255));
        assert_eq!(s.block_at(f64::from(x0 + x1) / 2.0), Some(128));
        assert_eq!(s.block_at(f64::from(x0) - 1.0), None);
        // Every format inspects its blocks; the CSV is the format's.
        for f in crate::quant::formats::Format::ALL {
            let sum = summary(&mut s, &format!("{FMT}&format={f}"));
            let board = match f.name() {
                "nf4" => "absmax = max|v|",
                "fp8-e4m3" => "448 / max|x|",
                "fp8-e5m2" => "57344 / max|x|",
                "mxfp4" => "floor(log2(max|v|))",
                "nvfp4" => "UE4M3(max|v| / 6)",
                "q4_0" => "d = m / −8",
                "q4_1" => "(max − min) / 15",
                "q8_0" => "max|v| / 127",
                _ => "scales of scales",
            };
            assert!(sum.contains(board), "{f}: the board says {board}: {sum}");
            assert!(sum.contains("MSE = mean((x − x̂)²)"), "{f}");
            let b = s.block(0).unwrap();
            assert!(b.contains("\"stored\":[{"), "{f}: {b}");
            draw(&mut s, "blocks").unwrap();
            draw(&mut s, "histogram").unwrap();
            let csv = s.csv().unwrap();
            assert_eq!(csv.lines().count(), 8193, "{f}");
        }
    }

    #[test]
    fn the_kl_view_is_computed_once_per_data_and_bits() {
        let mut s = Session::new();
        let sum: serde_json::Value =
            serde_json::from_str(&summary(&mut s, "n=5000&seed=7&bits=4&calibration=kl")).unwrap();
        assert_eq!(
            sum["settings"]["scheme"], "symmetric",
            "kl alone is symmetric"
        );
        assert_eq!(
            s.computed().kl_views,
            0,
            "left for the KL chart's first draw"
        );
        draw(&mut s, "kl").unwrap();
        assert_eq!(s.computed().kl_views, 1);
        let kl: serde_json::Value = serde_json::from_str(&s.kl().unwrap()).unwrap();
        draw(&mut s, "kl").unwrap();
        assert_eq!(s.computed().kl_views, 1, "same data and bits: kept");
        assert_eq!(kl["threshold"], sum["result"]["clip_max"]);
        assert_eq!(kl["bits"], 4);
        assert_eq!(kl["bins"], 2048);
        let t = kl["threshold"].as_f64().unwrap();
        // The threshold is an edge rounded to float32, as the reference returns it.
        let absmax = kl["absmax"].as_f64().unwrap();
        assert!(t > 0.0 && t as f32 <= absmax as f32, "{t} {absmax}");
        assert!(kl["percentile_threshold"].as_f64().unwrap() > 0.0);
        assert!(kl["mse_threshold"].as_f64().unwrap() > 0.0);
        // A scheme or calibration change at the same bits and percentile keeps it.
        summary(
            &mut s,
            "n=5000&seed=7&bits=4&scheme=symmetric&calibration=mse",
        );
        draw(&mut s, "kl").unwrap();
        assert_eq!(s.computed().kl_views, 1);
        summary(&mut s, "n=5000&seed=7&bits=6&calibration=kl");
        draw(&mut s, "kl").unwrap();
        assert_eq!(s.computed().kl_views, 2, "new bits: computed again");
        summary(&mut s, "n=5000&seed=8&bits=6&calibration=kl");
        s.kl().unwrap();
        assert_eq!(s.computed().kl_views, 3, "new data: computed again");
        // kl with asymmetric is refused with the core's message and the state is kept.
        let e = s
            .update("n=5000&seed=9&bits=6&scheme=asymmetric&calibration=kl")
            .unwrap_err();
        assert_eq!(e.to_string(), Error::KlAsymmetric.to_string());
        assert!(s.query().contains("seed=8"));
        s.kl().unwrap();
        assert_eq!(s.computed().kl_views, 3);
    }

    #[test]
    fn the_rotation_card_shows_the_block_of_the_largest_value() {
        let mut s = Session::new();
        assert!(s.rotation().is_err(), "nothing yet");
        summary(&mut s, "shape=8,64&bits=4&seed=3");
        let e = s.rotation().unwrap_err().to_string();
        assert!(e.contains("rotate=hadamard"), "{e}");
        assert!(draw(&mut s, "rotation").is_err());
        summary(&mut s, "shape=8,64&bits=4&seed=3&rotate=hadamard:32");
        let xs: Vec<f64> = s.analysis.as_ref().unwrap().values().to_vec();
        let top = (0..xs.len())
            .max_by(|&a, &b| xs[a].abs().total_cmp(&xs[b].abs()))
            .unwrap();
        let r: serde_json::Value = serde_json::from_str(&s.rotation().unwrap()).unwrap();
        assert_eq!(r["k"], 32);
        assert_eq!(r["blocks"], 16);
        assert_eq!(r["block"], top / 32);
        assert_eq!(r["row"], top / 64);
        assert_eq!(r["column"], (top % 64) / 32 * 32);
        assert_eq!(r["peak_before"], xs[top].abs());
        assert!(r["peak_after"].as_f64().unwrap() < xs[top].abs());
        let g = s.granular().unwrap();
        assert_eq!(r["original"]["mse"], g.metrics.mse);
        assert_eq!(r["rotated"]["mse"], g.rotated_metrics.unwrap().mse);
        let svg = draw(&mut s, "rotation").unwrap();
        assert!(svg.contains(&format!("block {} of 16", top / 32)), "{svg}");
    }

    #[test]
    fn the_model_is_evaluated_once_per_quantization_setting() {
        let mut s = Session::new();
        summary(&mut s, BASE);
        assert!(!s.has_model());
        assert!(s.model_json().is_err(), "no model yet");
        assert!(draw(&mut s, "accuracy").is_err(), "no model to draw yet");
        s.load_model(
            crate::model::EMBEDDED_MODEL,
            crate::model::EMBEDDED_TEST_SET,
        )
        .unwrap();
        let evals = |s: &Session| s.computed().model_evaluations;
        let j = s.model_json().unwrap();
        assert!(j.contains("\"float_text\":\"96.67 % (348 / 360)\""), "{j}");
        assert_eq!(evals(&s), 1);
        // Asked again, or after a data change, the evaluation is the one kept.
        assert_eq!(s.model_json().unwrap(), j);
        summary(&mut s, "dist=laplace:0,1&n=3000&seed=9&bits=4");
        s.model_json().unwrap();
        assert_eq!(evals(&s), 1, "the data does not feed the model");
        // A quantization change is a new evaluation; back again is another.
        summary(&mut s, "dist=laplace:0,1&n=3000&seed=9&bits=2");
        let two = s.model_json().unwrap();
        assert_eq!(evals(&s), 2);
        assert_ne!(two, j);
        for q in [
            "scheme=symmetric",
            "calibration=mse",
            "zero_point=include-zero",
            "format=nf4",
        ] {
            summary(&mut s, &format!("{BASE}&{q}"));
            s.model_json().unwrap();
        }
        assert_eq!(evals(&s), 6);
        // The chart's sweep is computed on its first draw and kept whatever the settings.
        assert!(!s.model_ready());
        draw(&mut s, "accuracy").unwrap();
        assert!(s.model_ready());
        summary(&mut s, "bits=3");
        draw(&mut s, "accuracy").unwrap();
        assert_eq!(s.computed().model_sweeps, 1);
        assert_eq!(
            evals(&s),
            7,
            "the chart's ring reuses the section's evaluation"
        );
        s.model_json().unwrap();
        assert_eq!(evals(&s), 7);
    }

    #[test]
    fn bad_model_bytes_keep_the_model_there_was() {
        let mut s = Session::new();
        assert!(s.load_model(b"not safetensors", b"").is_err());
        assert!(!s.has_model());
        s.load_model(
            crate::model::EMBEDDED_MODEL,
            crate::model::EMBEDDED_TEST_SET,
        )
        .unwrap();
        let err = s
            .load_model(
                crate::model::EMBEDDED_TEST_SET,
                crate::model::EMBEDDED_MODEL,
            )
            .unwrap_err();
        assert!(err.to_string().contains("fc1"), "{err}");
        assert!(s.has_model());
    }
}
