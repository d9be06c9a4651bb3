//! A format run made in two parts on the page: wasm has one thread there, so for the formats
//! whose search is slow (the K-quants) the page hands the tail of the data (5/11 of its blocks)
//! to a Web Worker, quantizes the head itself meanwhile, and joins the two
//! ([`crate::quant::formats::parts`]: the same result bit for bit).
//!
//! The page asks [`Session::format_job`] before an update; where it answers, the page sends
//! [`Session::format_job_tail`] to the worker, calls [`Session::format_head`], and passes the
//! worker's bytes to [`Session::format_tail`]. The update that follows uses the joined result
//! when it is of the same data, format and block; otherwise (a failed worker, a part that
//! errs) the update quantizes the whole data as it would have without help, errors included.

use super::Session;
use crate::analysis::Analysis;
use crate::data::generate::Dataset;
use crate::error::{Error, Result};
use crate::quant::formats::{self, parts, Format, Quantized};
use crate::settings::Settings;
use std::sync::Arc;

/// The fewest values for which the page's K-quant runs are split with a worker. Handing half
/// over costs copies both ways and a message's latency; at a million values that is as much as
/// it saves, at 8M (about 250 ms of search in the page) a good part less.
pub const HELP_MIN_VALUES: usize = 1 << 23;

/// The page's share of a split run: 6/11 of the blocks. The worker gets less because its
/// copy of the values and its result's trip back take time the page's share does not, and
/// because it runs its search about a third slower than the page's thread does here.
const HEAD_SHARE: (usize, usize) = (6, 11);

/// Whether a run of `format` on `n` values is worth splitting with a worker.
pub fn worth_help(format: Format, n: usize) -> bool {
    matches!(
        format,
        Format::Q2_K | Format::Q3_K | Format::Q4_K | Format::Q5_K | Format::Q6_K
    ) && n >= HELP_MIN_VALUES
}

/// A run in two parts: of which data, format and block, where the data is cut, and the parts
/// made so far.
pub struct Help {
    key: (Format, usize),
    data: Arc<Dataset>,
    split: usize,
    head: Option<Quantized>,
    joined: Option<Quantized>,
}

impl Help {
    /// The joined result, where it is of `analysis`'s data and of `key`.
    pub fn joined_for(self, analysis: &Analysis, key: (Format, usize)) -> Option<Quantized> {
        (self.key == key && Arc::ptr_eq(&self.data, &analysis.data))
            .then_some(self.joined)
            .flatten()
    }
}

/// What [`Session::format_job`] asks of the worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Job {
    /// The format's name.
    pub format: &'static str,
    /// Its block.
    pub block: usize,
    /// The index of the tail's first value.
    pub split: usize,
}

impl Session {
    /// The worker's part of the update `query` would make, where it is worth one: its format
    /// and block when `query` keeps the data and asks for a new run of a slow format on many
    /// values; `None` otherwise (the update then runs as it always does).
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
        if kept || !same_data || !worth_help(format, n) || format.check_count(n, block).is_err() {
            return Ok(None);
        }
        let Some(split) = parts::split_point(format, block, n, HEAD_SHARE) else {
            return Ok(None);
        };
        self.help = Some(Help {
            key: (format, block),
            data: analysis.data.clone(),
            split,
            head: None,
            joined: None,
        });
        Ok(Some(Job {
            format: format.name(),
            block,
            split,
        }))
    }

    /// The job's data as float32 (what every format computes in) and where it is cut.
    fn job_values(&self) -> Result<(&[f32], usize)> {
        let h = self.help.as_ref().ok_or_else(no_job)?;
        let a = self.analysis.as_ref().ok_or_else(no_job)?;
        if !Arc::ptr_eq(&h.data, &a.data) {
            return Err(no_job());
        }
        Ok((a.values_f32(), h.split))
    }

    /// The values of the job's tail, as float32: what the worker quantizes.
    pub fn format_job_tail(&self) -> Result<&[f32]> {
        let (xs, split) = self.job_values()?;
        Ok(&xs[split..])
    }

    /// Quantizes the job's head, here.
    pub fn format_head(&mut self) -> Result<()> {
        let (xs, split) = self.job_values()?;
        let h = self.help.as_ref().ok_or_else(no_job)?;
        let head = formats::quantize(h.key.0, h.key.1, &xs[..split])?;
        if let Some(h) = self.help.as_mut() {
            h.head = Some(head);
        }
        Ok(())
    }

    /// Takes the worker's bytes ([`parts::encode`] of the result of the tail, or of its next
    /// piece, in order) and appends them to what is made; once that is the whole data, the
    /// next update of the same data, format and block uses it. An error drops what was made,
    /// so that nothing more can be appended and the update quantizes the whole data itself.
    pub fn format_tail(&mut self, bytes: &[u8]) -> Result<()> {
        let h = self.help.as_mut().ok_or_else(no_job)?;
        let mut made = h.head.take().ok_or_else(no_job)?;
        parts::append(&mut made, bytes)?;
        let n = h.data.values.len();
        match made.codes.len() {
            k if k < n => h.head = Some(made),
            k if k == n => h.joined = Some(made),
            k => {
                return Err(Error::Setting {
                    name: "format",
                    given: format!("a tail of {} values", k - h.split),
                    expected: format!("the job's {} values", n - h.split),
                })
            }
        }
        Ok(())
    }
}

fn no_job() -> Error {
    Error::Setting {
        name: "format",
        given: "a part with no job".into(),
        expected: "format_job first, then format_head and format_tail".into(),
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

    const QUERY: &str = "dist=normal:0,1&n=8388608&seed=3&format=q4_K";

    #[test]
    fn a_run_made_in_parts_is_the_run_made_whole() {
        let mut whole = Session::new();
        whole.update("dist=normal:0,1&n=8388608&seed=3").unwrap();
        let want = whole.update(QUERY).unwrap();
        let mut s = Session::new();
        s.update("dist=normal:0,1&n=8388608&seed=3").unwrap();
        let job = s.format_job(QUERY).unwrap().unwrap();
        assert_eq!((job.format, job.block), ("q4_K", 256));
        let tail = s.format_job_tail().unwrap().to_vec();
        assert_eq!(tail.len(), 8_388_608 - job.split);
        // The tail in three pieces, as the page's worker sends it.
        s.format_head().unwrap();
        let piece = 1 << 20;
        for xs in tail.chunks(piece) {
            let bytes = quantize_part(job.format, job.block, xs).unwrap();
            s.format_tail(&bytes).unwrap();
        }
        assert!(tail.len() > 2 * piece);
        let runs = s.computed.format_runs;
        assert_eq!(s.update(QUERY).unwrap(), want);
        assert_eq!(s.computed.format_runs, runs + 1);
        assert!(s.help.is_none());
        // And the blocks and their inspector read the joined run like the whole one.
        assert_eq!(s.block(1000).unwrap(), whole.block(1000).unwrap());
    }

    #[test]
    fn no_job_where_help_does_not_pay_or_the_data_changes() {
        let mut s = Session::new();
        assert_eq!(s.format_job(QUERY).unwrap(), None);
        s.update("dist=normal:0,1&n=8388608&seed=3").unwrap();
        assert_eq!(
            s.format_job(&QUERY.replace("seed=3", "seed=4")).unwrap(),
            None
        );
        assert_eq!(s.format_job(&QUERY.replace("q4_K", "q4_0")).unwrap(), None);
        assert!(s
            .format_job("dist=normal:0,1&n=8388608&seed=3&format=q4_K&block=7")
            .is_err());
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
    fn a_part_that_does_not_fit_leaves_the_update_to_quantize_it_all() {
        let mut s = Session::new();
        s.update("dist=normal:0,1&n=8388608&seed=3").unwrap();
        assert!(s.format_head().is_err() && s.format_tail(&[]).is_err());
        s.format_job(QUERY).unwrap().unwrap();
        s.format_head().unwrap();
        // A first piece, then one past the tail's end: the job is dropped.
        let piece = quantize_part("q4_K", 256, &[0.5; 512]).unwrap();
        s.format_tail(&piece).unwrap();
        let past = quantize_part("q4_K", 256, &vec![0.5; 8_388_608 / 2]).unwrap();
        assert!(s.format_tail(&past).is_err());
        assert!(s.format_tail(&piece).is_err());
        let mut whole = Session::new();
        whole.update("dist=normal:0,1&n=8388608&seed=3").unwrap();
        assert_eq!(s.update(QUERY).unwrap(), whole.update(QUERY).unwrap());
        // A job is for the next update only, even one that fails: nothing is held after it.
        let q6 = QUERY.replace("q4_K", "q6_K");
        for bad in [
            format!("{q6}&bits=99"),
            format!("{q6}&calibration=kl&scheme=asymmetric"),
        ] {
            s.format_job(&q6).unwrap().unwrap();
            s.format_head().unwrap();
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
