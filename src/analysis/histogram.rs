//! Histograms: fixed-width bins over a range, filled in one pass.

/// Counts of values in equal-width bins over `[lo, hi]` (the last bin includes `hi`).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Right edge of the last bin.
    pub hi: f64,
    /// Count of each bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram of `bins` bins over `[lo, hi]`; a zero-width range is widened by 0.5
    /// on each side (or by half its magnitude) so that a constant still shows as one bar.
    pub fn new(lo: f64, hi: f64, bins: usize) -> Histogram {
        let bins = bins.max(1);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.5 };
            (lo - pad, lo + pad)
        };
        Histogram {
            lo,
            hi,
            counts: vec![0; bins],
        }
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len() as f64
    }

    /// The bin index of `x`, or `None` when it is outside `[lo, hi]`.
    #[inline]
    pub fn bin_of(&self, x: f64) -> Option<usize> {
        if !(x >= self.lo && x <= self.hi) {
            return None;
        }
        let b = ((x - self.lo) / (self.hi - self.lo) * self.counts.len() as f64) as usize;
        Some(b.min(self.counts.len() - 1))
    }

    /// Counts one value (values outside the range are ignored).
    #[inline]
    pub fn add(&mut self, x: f64) {
        if let Some(b) = self.bin_of(x) {
            self.counts[b] += 1;
        }
    }

    /// A histogram of `xs` over `[lo, hi]`.
    pub fn of(xs: &[f64], lo: f64, hi: f64, bins: usize) -> Histogram {
        let mut h = Histogram::new(lo, hi, bins);
        for &x in xs {
            h.add(x);
        }
        h
    }

    /// Left edge of bin `i`.
    pub fn edge(&self, i: usize) -> f64 {
        self.lo + self.bin_width() * i as f64
    }

    /// The largest count.
    pub fn max_count(&self) -> u64 {
        self.counts.iter().copied().max().unwrap_or(0)
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_value_in_range() {
        let xs: Vec<f64> = (0..=100).map(|i| i as f64).collect();
        let h = Histogram::of(&xs, 0.0, 100.0, 10);
        assert_eq!(h.total(), 101);
        assert_eq!(h.counts[9], 11); // 90..=100, the last bin is closed
    }

    #[test]
    fn constant_data_gets_a_range() {
        let h = Histogram::of(&[3.0, 3.0], 3.0, 3.0, 4);
        assert!(h.hi > h.lo);
        assert_eq!(h.total(), 2);
    }
}
