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

    /// [`Histogram::add`] for many values: the same bins, found by a multiplication, with the
    /// division `add` makes only for a value within rounding of a bin's edge. (The two ways
    /// differ by a few units in the last place, so where the product is farther than that from
    /// an integer, both have the same floor.)
    pub fn adder(&mut self) -> impl FnMut(f64) + '_ {
        let bins = self.counts.len() as f64;
        let per = bins / (self.hi - self.lo);
        move |x| {
            if !(x >= self.lo && x <= self.hi) {
                return;
            }
            let t = (x - self.lo) * per;
            let f = t.floor();
            let near = 1e-9 * t.max(1.0);
            let b = if t - f > near && f + 1.0 - t > near {
                (f as usize).min(self.counts.len() - 1)
            } else {
                match self.bin_of(x) {
                    Some(b) => b,
                    None => return,
                }
            };
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
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        /// The adder's bins are `add`'s, for values anywhere in the range, on bin edges and at
        /// its ends, over ranges of every scale.
        #[test]
        fn the_adder_bins_as_add_does(
            lo in -1e6f64..1e6,
            width in prop_oneof![1e-300f64..1e-290, 1e-12f64..1e-6, 1e-3f64..1e3, 1e290f64..1e300],
            bins in 1usize..300,
            picks in proptest::collection::vec((0usize..300, -1e-12f64..1.0), 1..200),
        ) {
            let hi = lo + width;
            prop_assume!(hi > lo && hi.is_finite());
            let mut a = Histogram::new(lo, hi, bins);
            let mut b = a.clone();
            let step = (hi - lo) / bins as f64;
            let mut xs = vec![lo, hi, f64::NAN, hi + width, lo - width];
            for &(k, f) in &picks {
                let edge = lo + step * (k % (bins + 1)) as f64;
                xs.extend([edge, edge + f * step, f64::from_bits(edge.to_bits().wrapping_sub(1))]);
            }
            for &x in &xs {
                a.add(x);
            }
            let mut add = b.adder();
            for &x in &xs {
                add(x);
            }
            drop(add);
            prop_assert_eq!(a.counts, b.counts);
        }
    }

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
