//! A format run made on two cores on the page: wasm has one thread there, so for the formats
//! whose search is slow (the K-quants) the page shares the run with a Web Worker. The data is
//! cut into pieces of whole blocks; the page quantizes pieces from the front while the worker
//! takes them from the back, one or two ahead, until the two meet; then the worker's pieces are
//! appended after the page's ([`crate::quant::formats::parts`]: the same result bit for bit).
//! Neither side's speed needs to be known beforehand: each takes as much of the data as it gets
//! through, so a worker slowed by the machine's other work leaves more to the page.
//!
//! The page asks [`Session::format_job`] before an update; where it answers, the page sends
//! pieces of [`Session::format_piece_values`] to the worker, calls [`Session::format_piece`]
//! for its own, and passes the worker's bytes for each of the rest to [`Session::format_tail`],
//! in order. The update that follows uses the joined result when it is of the same data,
//! format and block; otherwise (a failed worker, a part that errs) the update quantizes the
//! whole data as it would have without help, errors included.

use super::Session;
use crate::analysis::Analysis;
use crate::data::generate::Dataset;
use crate::error::{Error, Result};
use crate::quant::formats::{self, parts, BlockScale, Format, Quantized};
use crate::settings::Settings;
use std::ops::Range;
use std::sync::Arc;

/// The fewest values for which the page's K-quant runs are shared with a worker. Handing
/// pieces over costs copies both ways and a message's latency; at a million values that is as
/// much as it saves, at 8M (about 250 ms of search in the page) a good part less.
pub const HELP_MIN_VALUES: usize = 1 << 23;

/// Values per piece: about 30 ms of a K-quant's search on the page, so that the page hears from
/// the worker that often and the side that finishes first waits at most about that long for
/// the other. A multiple of every K-quant's block.
const PIECE: usize = 1 << 20;

/// Whether a run of `format` on `n` values is worth sharing with a worker.
pub fn worth_help(format: Format, n: usize) -> bool {
    format.is_k_quant() && n >= HELP_MIN_VALUES
}

/// A run made in pieces: of which data, format and block, its pieces' length, the pieces
/// joined so far (the first `next`) and the whole once joined.
pub struct Help {
    key: (Format, usize),
    data: Arc<Dataset>,
    piece: usize,
    pieces: usize,
    next: usize,
    made: Option<Quantized>,
    joined: Option<Quantized>,
}

impl Help {
    /// The joined result, where it is of `analysis`'s data and of `key`.
    pub fn joined_for(self, analysis: &Analysis, key: (Format, usize)) -> Option<Quantized> {
        (self.key == key && Arc::ptr_eq(&self.data, &analysis.data))
            .then_some(self.joined)
            .flatten()
    }

    /// The values of piece `i`, or an error where there is no such piece.
    fn range(&self, i: usize) -> Result<Range<usize>> {
        let n = self.data.values.len();
        if i >= self.pieces {
            return Err(Error::Setting {
                name: "format",
                given: format!("piece {i}"),
                expected: format!("a piece from 0 to {}", self.pieces - 1),
            });
        }
        Ok(i * self.piece..((i + 1) * self.piece).min(n))
    }

    /// Appends piece `i`'s result, where `i` is the next piece and the result has its length
    /// and the job's block; once that is the last piece the run is whole. After an error the
    /// run is not to be used: the caller drops the job.
    fn join(&mut self, i: usize, part: Part) -> Result<()> {
        let range = self.range(i)?;
        let (n, block) = (self.data.values.len(), self.key.1);
        let made = self.made.get_or_insert_with(|| Quantized {
            codes: crate::par::with_capacity(n),
            dequantized: crate::par::with_capacity(n),
            scales: crate::par::with_capacity::<BlockScale>(n.div_ceil(block.max(1))),
            block,
            saturated: 0,
        });
        let had = made.codes.len();
        if i == self.next {
            match part {
                Part::Made(part) => parts::join(made, part?)?,
                // Read straight into the run: a piece's values are not copied twice.
                Part::Bytes(bytes) => parts::append(made, bytes)?,
            }
        }
        let got = made.codes.len() - had;
        if i != self.next || got != range.len() || made.block != block {
            return Err(Error::Setting {
                name: "format",
                given: format!("piece {i} of {got} values in blocks of {}", made.block),
                expected: format!(
                    "piece {} of {} values in blocks of {block}",
                    self.next,
                    range.len()
                ),
            });
        }
        self.next += 1;
        if self.next == self.pieces {
            self.joined = self.made.take();
        }
        Ok(())
    }
}

/// A piece's result: made on the page, or the worker's bytes ([`parts::encode`]).
enum Part<'a> {
    Made(Result<Quantized>),
    Bytes(&'a [u8]),
}

/// What [`Session::format_job`] asks of the page and the worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Job {
    /// The format's name.
    pub format: &'static str,
    /// Its block.
    pub block: usize,
    /// How many pieces the data is cut into.
    pub pieces: usize,
    /// Values per piece (the last may have fewer).
    pub piece: usize,
    /// How many values in all.
    pub n: usize,
}

impl Session {
    /// The job the update `query` would share with a worker, where it is worth one: its format,
    /// block and pieces when `query` keeps the data and asks for a new run of a slow format on
    /// many values; `None` otherwise (the update then runs as it always does).
    pub fn format_job(&mut self, query: &str) -> Result<Option<Job>> {
        self.help = None;
        let settings = Settings::from_query(query)?;
        let (Some(analysis), Some(format)) = (self.analysis.as_ref(), settings.format) else {
            return Ok(None);
        };
        let block = format.block(settings.block)?;
        let n = analysis.values().len();
        let kept = self
            .format
            .as_ref()
            .is_some_and(|s| s.key == (format, block));
        let same_data = self.source.as_ref() == Some(&self.source_of(&settings));
        if kept
            || !same_data
            || !worth_help(format, n)
            || block == 0
            || format.check_count(n, block).is_err()
        {
            return Ok(None);
        }
        let piece = (PIECE / block).max(1) * block;
        let pieces = n.div_ceil(piece);
        if pieces < 2 {
            return Ok(None);
        }
        self.help = Some(Help {
            key: (format, block),
            data: analysis.data.clone(),
            piece,
            pieces,
            next: 0,
            made: None,
            joined: None,
        });
        Ok(Some(Job {
            format: format.name(),
            block,
            pieces,
            piece,
            n,
        }))
    }

    /// The job and the data as float32 (what every format computes in).
    fn job(&self) -> Result<(&Help, &[f32])> {
        let h = self.help.as_ref().ok_or_else(no_job)?;
        let a = self.analysis.as_ref().ok_or_else(no_job)?;
        if !Arc::ptr_eq(&h.data, &a.data) {
            return Err(no_job());
        }
        Ok((h, a.values_f32()?))
    }

    /// The values of piece `i` as float32: what the worker quantizes for it.
    pub fn format_piece_values(&self, i: usize) -> Result<&[f32]> {
        let (h, xs) = self.job()?;
        Ok(&xs[h.range(i)?])
    }

    /// Quantizes piece `i` here and appends it: `i` must be the next piece to join.
    pub fn format_piece(&mut self, i: usize) -> Result<()> {
        let (h, xs) = self.job()?;
        let part = formats::quantize(h.key.0, h.key.1, &xs[h.range(i)?]);
        self.join_piece(i, Part::Made(part))
    }

    /// Takes the worker's bytes for piece `i` ([`parts::encode`] of its result) and appends
    /// them: `i` must be the next piece to join. Once every piece is joined, the next update
    /// of the same data, format and block uses the run. An error drops the job, so that
    /// nothing more can be joined and the update quantizes the whole data itself.
    pub fn format_tail(&mut self, i: usize, bytes: &[u8]) -> Result<()> {
        self.job()?;
        self.join_piece(i, Part::Bytes(bytes))
    }

    fn join_piece(&mut self, i: usize, part: Part) -> Result<()> {
        let h = self.help.as_mut().ok_or_else(no_job)?;
        let joined = h.join(i, part);
        if joined.is_err() {
            self.help = None;
        }
        joined
    }
}

fn no_job() -> Error {
    Error::Setting {
        name: "format",
        given: "a piece with no job".into(),
        expected: "format_job first, then format_piece and format_tail for its pieces in order"
            .into(),
    }
}

/// The worker's side: `xs` quantized in `format` with blocks of `block`, as bytes for
/// [`Session::format_tail`].
pub fn quantize_part(format: &str, block: usize, xs: &[f32]) -> Result<Vec<u8>> {
    let format: Format = format.parse()?;
    // The format's own block (0 for FP8's one scale) is its default, not a block asked for.
    let own = format.default_block().unwrap_or(0);
    let block = format.block((block != own).then_some(block))?;
    Ok(parts::encode(&formats::quantize(format, block, xs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = "dist=normal:0,1&n=8388608&seed=3";
    const QUERY: &str = "dist=normal:0,1&n=8388608&seed=3&format=q4_K";

    /// The page's pieces from the front and the worker's (through bytes) from the back, met at
    /// piece `meet`, joined in order.
    fn share(s: &mut Session, job: &Job, meet: usize) {
        let tail: Vec<Vec<u8>> = (meet..job.pieces)
            .rev()
            .map(|i| {
                let xs = s.format_piece_values(i).unwrap().to_vec();
                quantize_part(job.format, job.block, &xs).unwrap()
            })
            .collect();
        for i in 0..meet {
            s.format_piece(i).unwrap();
        }
        for (i, bytes) in (meet..job.pieces).zip(tail.iter().rev()) {
            s.format_tail(i, bytes).unwrap();
        }
    }

    #[test]
    fn a_run_made_in_pieces_is_the_run_made_whole() {
        let mut whole = Session::new();
        whole.update(DATA).unwrap();
        let want = whole.update(QUERY).unwrap();
        for meet in [0, 3, 8] {
            let mut s = Session::new();
            s.update(DATA).unwrap();
            let job = s.format_job(QUERY).unwrap().unwrap();
            assert_eq!((job.format, job.block, job.pieces), ("q4_K", 256, 8));
            assert_eq!(job.piece, 1 << 20);
            share(&mut s, &job, meet);
            let runs = s.computed.format_runs;
            assert_eq!(s.update(QUERY).unwrap(), want, "meet {meet}");
            assert_eq!(s.computed.format_runs, runs + 1);
            assert!(s.help.is_none());
            // And the blocks and their inspector read the joined run like the whole one.
            assert_eq!(s.block(1000).unwrap(), whole.block(1000).unwrap());
        }
    }

    #[test]
    fn no_job_where_help_does_not_pay_or_the_data_changes() {
        let mut s = Session::new();
        assert_eq!(s.format_job(QUERY).unwrap(), None);
        s.update(DATA).unwrap();
        assert_eq!(
            s.format_job(&QUERY.replace("seed=3", "seed=4")).unwrap(),
            None
        );
        assert_eq!(s.format_job(&QUERY.replace("q4_K", "q4_0")).unwrap(), None);
        assert!(s.format_job(&format!("{QUERY}&block=7")).is_err());
        s.update(QUERY).unwrap();
        assert_eq!(s.format_job(QUERY).unwrap(), None, "kept");
        let mut small = Session::new();
        small.update("dist=normal:0,1&n=8388352").unwrap();
        assert_eq!(
            small
                .format_job("dist=normal:0,1&n=8388352&format=q6_K")
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_piece_out_of_turn_leaves_the_update_to_quantize_it_all() {
        let mut s = Session::new();
        s.update(DATA).unwrap();
        assert!(s.format_piece(0).is_err() && s.format_tail(0, &[]).is_err());
        let mut whole = Session::new();
        whole.update(DATA).unwrap();
        let want = whole.update(QUERY).unwrap();
        let right = |s: &Session, i: usize| {
            quantize_part("q4_K", 256, s.format_piece_values(i).unwrap()).unwrap()
        };
        // Out of order, twice, past the last, of the wrong length, not bytes of a part: each
        // drops the job, and the update quantizes everything itself.
        type Wrong = fn(&mut Session, &[u8]) -> Result<()>;
        let wrongs: [Wrong; 6] = [
            |s, _| s.format_piece(1),
            |s, b| s.format_piece(0).and_then(|_| s.format_tail(0, b)),
            |s, b| s.format_tail(8, b),
            |s, _| s.format_tail(0, &quantize_part("q4_K", 256, &[0.5; 512]).unwrap()),
            |s, _| s.format_tail(0, b"QVP1 and then nothing"),
            |s, _| {
                let other = quantize_part("q4_0", 32, s.format_piece_values(0)?)?;
                s.format_tail(0, &other)
            },
        ];
        for wrong in wrongs {
            s.format_job(QUERY).unwrap().unwrap();
            let bytes = right(&s, 0);
            assert!(s.format_piece_values(8).is_err());
            assert!(wrong(&mut s, &bytes).is_err());
            assert!(s.help.is_none());
            assert!(s.format_piece(1).is_err());
        }
        assert_eq!(s.update(QUERY).unwrap(), want);
        // A job is for the next update only, even one that fails: nothing is held after it.
        let q6 = QUERY.replace("q4_K", "q6_K");
        for bad in [
            format!("{q6}&bits=99"),
            format!("{q6}&calibration=kl&scheme=asymmetric"),
        ] {
            s.format_job(&q6).unwrap().unwrap();
            s.format_piece(0).unwrap();
            assert!(s.update(&bad).is_err(), "{bad}");
            assert!(s.help.is_none(), "{bad}");
        }
    }

    #[test]
    fn the_worker_refuses_what_the_format_refuses() {
        assert!(quantize_part("q4_K", 256, &[0.0; 100]).is_err());
        assert!(quantize_part("q9_K", 256, &[0.0; 256]).is_err());
        assert!(quantize_part("q4_K", 64, &[0.0; 256]).is_err());
        assert!(quantize_part("nf4", 128, &[0.0; 256]).is_ok());
        assert!(quantize_part("fp8-e4m3", 0, &[0.5; 100]).is_ok());
        assert!(quantize_part("fp8-e4m3", 32, &[0.5; 100]).is_err());
        assert!(quantize_part("q4_0", 32, &[f32::NAN; 32]).is_err());
    }
}
