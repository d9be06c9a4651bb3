//! Seeded data: the same seed gives the same numbers natively and in wasm.
//!
//! The generator is xoshiro256++ (a fixed algorithm; `SmallRng` differs between targets) and
//! every transcendental function comes from the pure-Rust `libm`, because `f64::ln` is the
//! platform's C library natively and Rust's own port on wasm32, which may differ in the last bit.

use crate::error::{check_finite, Result};
use crate::settings::{DataSpec, Distribution, Matrix, Preset, Settings};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// A data set to quantize: the values, which of them are outliers, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The values, all finite.
    pub values: Vec<f64>,
    /// Sorted indices of injected outliers: metrics are also reported without them.
    pub outliers: Vec<usize>,
    /// A human description: `normal:0,1, n=10000, seed=42` or a file name.
    pub label: String,
    /// `(rows, cols)` of 2-D data, row-major; `None` for 1-D.
    pub shape: Option<(usize, usize)>,
}

impl Dataset {
    /// Wraps loaded values after checking they are non-empty and finite.
    pub fn from_values(values: Vec<f64>, label: impl Into<String>) -> Result<Dataset> {
        check_finite(&values)?;
        if values.len() > crate::error::MAX_VALUES {
            return Err(crate::error::Error::TooMany(values.len() as u64));
        }
        Ok(Dataset {
            values,
            outliers: Vec::new(),
            label: label.into(),
            shape: None,
        })
    }

    /// Wraps a model tensor's values after checking they are non-empty and finite: any count
    /// that fits in memory (the command line's; the page keeps to its own limit).
    pub fn from_tensor(values: Vec<f64>, label: impl Into<String>) -> Result<Dataset> {
        check_finite(&values)?;
        Ok(Dataset {
            values,
            outliers: Vec::new(),
            label: label.into(),
            shape: None,
        })
    }

    /// The same data laid out as `rows x cols` (`None`: 1-D), or an error where the product
    /// is not the number of values.
    pub fn with_shape(mut self, shape: Option<(usize, usize)>) -> Result<Dataset> {
        if let Some((r, c)) = shape {
            if r.checked_mul(c) != Some(self.values.len()) {
                return Err(crate::error::Error::Setting {
                    name: "shape",
                    given: format!("{r},{c}"),
                    expected: format!(
                        "rows x columns equal to the data's {} values",
                        self.values.len()
                    ),
                });
            }
        }
        self.shape = shape;
        Ok(self)
    }

    /// The number of values per row: the columns of 2-D data, all the values of 1-D data.
    pub fn row_len(&self) -> usize {
        self.shape.map_or(self.values.len(), |(_, c)| c)
    }

    /// A mask that is `true` for values that are not outliers, or `None` without outliers.
    pub fn inlier_mask(&self) -> Option<Vec<bool>> {
        if self.outliers.is_empty() {
            return None;
        }
        let mut keep = vec![true; self.values.len()];
        for &i in &self.outliers {
            if let Some(k) = keep.get_mut(i) {
                *k = false;
            }
        }
        Some(keep)
    }
}

/// A uniform f64 in [0, 1) from the top 53 bits of one u64.
#[inline]
fn unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform f64 in (0, 1): never 0, so that its logarithm is finite.
#[inline]
fn open_unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal draws by the Box-Muller transform, two at a time.
struct Normals {
    spare: Option<f64>,
}

impl Normals {
    fn next(&mut self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = open_unit(rng);
        let u2 = unit(rng);
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * libm::sin(theta));
        r * libm::cos(theta)
    }
}

/// Gamma(shape, 1) by Marsaglia and Tsang's method (with the boost for shape < 1).
fn gamma(shape: f64, rng: &mut Xoshiro256PlusPlus, normals: &mut Normals) -> f64 {
    if shape < 1.0 {
        let g = gamma(shape + 1.0, rng, normals);
        return g * libm::pow(open_unit(rng), 1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / libm::sqrt(9.0 * d);
    loop {
        let z = normals.next(rng);
        let v = 1.0 + c * z;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = open_unit(rng);
        if libm::log(u) < 0.5 * z * z + d - d * v + d * libm::log(v) {
            return d * v;
        }
    }
}

/// Draws `n` values of `dist` from a xoshiro256++ generator seeded with `seed`.
pub fn sample(dist: Distribution, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut normals = Normals { spare: None };
    let mut out = crate::par::with_capacity(n);
    match dist {
        Distribution::Uniform { lo, hi } => {
            let w = hi - lo;
            out.extend((0..n).map(|_| lo + w * unit(&mut rng)));
        }
        Distribution::Normal { mean, std } => {
            out.extend((0..n).map(|_| mean + std * normals.next(&mut rng)));
        }
        Distribution::Laplace { loc, scale } => {
            // Inverse CDF: u uniform in (-1/2, 1/2), x = loc - scale * sign(u) * ln(1 - 2|u|).
            out.extend((0..n).map(|_| {
                let u = open_unit(&mut rng) - 0.5;
                let mag = -scale * libm::log1p(-2.0 * u.abs());
                if u < 0.0 {
                    loc - mag
                } else {
                    loc + mag
                }
            }));
        }
        Distribution::StudentT { dof } => {
            // t = Z / sqrt(V / dof) with V ~ chi^2(dof) = 2 Gamma(dof / 2).
            for _ in 0..n {
                let z = normals.next(&mut rng);
                let v = 2.0 * gamma(dof / 2.0, &mut rng, &mut normals);
                let t = z / libm::sqrt(v / dof);
                // A tiny dof can give t = inf; such a draw is outside any float tensor.
                out.push(if t.is_finite() {
                    t
                } else {
                    f64::MAX.copysign(t)
                });
            }
        }
    }
    out
}

/// Picks `k` distinct positions in `0..n`, sorted, by Floyd's algorithm on a generator
/// derived from `seed` (so outliers do not change the values around them).
pub fn outlier_positions(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let k = k.min(n);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
    if k == 0 {
        return Vec::new();
    }
    // The chosen positions as one bit each (a bitset rather than a HashSet: no hashing code in
    // the wasm, and reading the bits in order gives the positions sorted).
    let mut chosen = vec![0u64; n.div_ceil(64)];
    let mut choose = |i: usize| {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let new = chosen[word] & bit == 0;
        chosen[word] |= bit;
        new
    };
    for j in (n - k)..n {
        // uniform in 0..=j without modulo bias worth caring about at these sizes (j < 2^24)
        let t = (((rng.next_u64() >> 11) as u128 * (j as u128 + 1)) >> 53) as usize;
        if !choose(t) {
            choose(j);
        }
    }
    let mut v = Vec::with_capacity(k);
    for (w, &bits) in chosen.iter().enumerate() {
        let mut b = bits;
        while b != 0 {
            v.push(w * 64 + b.trailing_zeros() as usize);
            b &= b - 1;
        }
    }
    v
}

/// Generates the data a [`DataSpec`] describes: values, then outliers at seeded positions.
pub fn generate(spec: &DataSpec) -> Result<Dataset> {
    spec.validate()?;
    let mut values = sample(spec.dist, spec.n, spec.seed);
    // A distribution this wide draws values beyond float64: say so of the parameters the user
    // gave, not of values they never wrote.
    let beyond = values.iter().filter(|v| !v.is_finite()).count();
    if beyond > 0 {
        return Err(crate::error::Error::Setting {
            name: "dist",
            given: spec.dist.to_string(),
            expected: format!(
                "a distribution whose values and whose width stay within float64 (about ±1.8e308): {beyond} of the {} values drawn came out infinite or NaN; choose a smaller range or scale",
                spec.n
            ),
        });
    }
    let outliers = outlier_positions(spec.n, spec.outliers, spec.seed);
    for &i in &outliers {
        values[i] = spec.outlier_value;
    }
    let mut label = format!("{}, n={}, seed={}", spec.dist, spec.n, spec.seed);
    if !outliers.is_empty() {
        label.push_str(&format!(
            ", {} outliers at {}",
            outliers.len(),
            crate::present::number::full(spec.outlier_value)
        ));
    }
    Ok(Dataset {
        values,
        outliers,
        label,
        shape: None,
    })
}

/// Seed salts of the 2-D patterns, so that they do not repeat the values' own stream.
const ROW_SALT: u64 = 0xD1B5_4A32_D192_ED03;
const CHANNEL_SALT: u64 = 0x5851_F42D_4C95_7F2D;

/// Generates 2-D data: `spec`'s values laid out as `matrix.shape` (whose product is the count;
/// `spec.n` is not used), row `i` multiplied by `exp(row_spread * z_i)` with `z_i` standard
/// normal from the seed, `K` seeded columns multiplied by `F`, and then `spec`'s outliers at
/// their seeded positions (so they keep their value). Without a shape it is [`generate`].
pub fn generate_matrix(spec: &DataSpec, matrix: &Matrix) -> Result<Dataset> {
    matrix.validate()?;
    let Some((rows, cols)) = matrix.shape else {
        return generate(spec);
    };
    // The spec as the shape counts it (its outliers checked against that count), then
    // without outliers, which go in last.
    DataSpec {
        n: rows * cols,
        ..*spec
    }
    .validate()?;
    let plain = DataSpec {
        n: rows * cols,
        outliers: 0,
        ..*spec
    };
    let mut d = generate(&plain)?;
    if matrix.row_spread > 0.0 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed ^ ROW_SALT);
        let mut normals = Normals { spare: None };
        for row in d.values.chunks_exact_mut(cols) {
            let f = libm::exp(matrix.row_spread * normals.next(&mut rng));
            row.iter_mut().for_each(|v| *v *= f);
        }
    }
    let channels = match matrix.outlier_channels {
        Some((k, f)) if k > 0 => {
            let at = outlier_positions(cols, k, spec.seed ^ CHANNEL_SALT);
            for row in d.values.chunks_exact_mut(cols) {
                for &c in &at {
                    row[c] *= f;
                }
            }
            at.len()
        }
        _ => 0,
    };
    let beyond = d.values.iter().filter(|v| !v.is_finite()).count();
    if beyond > 0 {
        let with = match matrix.outlier_channels {
            Some((k, f)) => format!(
                " with outlier channels {k}:{}",
                crate::present::number::full(f)
            ),
            None => String::new(),
        };
        return Err(crate::error::Error::Setting {
            name: "row_spread",
            given: format!(
                "{}{with}",
                crate::present::number::full(matrix.row_spread)
            ),
            expected: format!(
                "a spread (and outlier factor) that keep the values within float64: {beyond} values went beyond it"
            ),
        });
    }
    let outliers = outlier_positions(plain.n, spec.outliers, spec.seed);
    for &i in &outliers {
        d.values[i] = spec.outlier_value;
    }
    let mut label = format!("{}, shape {rows}x{cols}, seed={}", spec.dist, spec.seed);
    if matrix.row_spread > 0.0 {
        label.push_str(&format!(
            ", row spread {}",
            crate::present::number::full(matrix.row_spread)
        ));
    }
    if let (Some((_, f)), true) = (matrix.outlier_channels, channels > 0) {
        label.push_str(&format!(
            ", {channels} outlier columns x{}",
            crate::present::number::full(f)
        ));
    }
    if !outliers.is_empty() {
        label.push_str(&format!(
            ", {} outliers at {}",
            outliers.len(),
            crate::present::number::full(spec.outlier_value)
        ));
    }
    d.outliers = outliers;
    d.label = label;
    d.shape = Some((rows, cols));
    Ok(d)
}

/// The data the settings ask for: a notebook preset's or a generated set.
pub fn dataset_for(settings: &Settings) -> Result<Dataset> {
    match settings.preset {
        Some(Preset::NotebookMinmax) => Ok(crate::data::presets::minmax_dataset()),
        Some(Preset::NotebookPercentile) => Ok(crate::data::presets::percentile_dataset(
            settings.data.seed,
            settings.data.outlier_value,
        )),
        None => generate_matrix(&settings.data, &settings.matrix),
    }
}

/// numpy's `np.round(x, decimals)`: `rint(x * 10^d) / 10^d`, halves to even.
pub fn round_decimals(values: &mut [f64], decimals: i32) {
    let f = 10f64.powi(decimals);
    for v in values.iter_mut() {
        *v = (*v * f).round_ties_even() / f;
    }
}

/// The notebook's touches to its first example: first value max + 1, second min - 1, third 0.
pub fn notebook_touches(values: &mut [f64]) {
    if values.len() < 3 {
        return;
    }
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values[0] = max + 1.0;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    values[1] = min - 1.0;
    values[2] = 0.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlier_positions_are_floyds_with_a_set() {
        // The HashSet version this replaced, as the reference.
        fn with_set(n: usize, k: usize, seed: u64) -> Vec<usize> {
            let k = k.min(n);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
            let mut chosen = std::collections::HashSet::new();
            for j in (n - k)..n {
                let t = (((rng.next_u64() >> 11) as u128 * (j as u128 + 1)) >> 53) as usize;
                if !chosen.insert(t) {
                    chosen.insert(j);
                }
            }
            let mut v: Vec<usize> = chosen.into_iter().collect();
            v.sort_unstable();
            v
        }
        for n in [0, 1, 2, 63, 64, 65, 100, 1000, 12_345] {
            for k in [0, 1, 2, 3, 10, 64, 500, 20_000] {
                for seed in [0, 1, 42, u64::MAX] {
                    assert_eq!(
                        outlier_positions(n, k, seed),
                        with_set(n, k, seed),
                        "{n} {k} {seed}"
                    );
                }
            }
        }
    }

    #[test]
    fn same_seed_same_numbers() {
        let d = Distribution::StudentT { dof: 3.0 };
        assert_eq!(sample(d, 100, 5), sample(d, 100, 5));
        assert_ne!(sample(d, 100, 5), sample(d, 100, 6));
    }

    #[test]
    fn moments_are_right() {
        let n = 200_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64
        };
        let u = sample(
            Distribution::Uniform {
                lo: -50.0,
                hi: 150.0,
            },
            n,
            1,
        );
        assert!((mean(&u) - 50.0).abs() < 1.0);
        assert!(u.iter().all(|&x| (-50.0..150.0).contains(&x)));
        let g = sample(
            Distribution::Normal {
                mean: 2.0,
                std: 3.0,
            },
            n,
            2,
        );
        assert!((mean(&g) - 2.0).abs() < 0.05);
        assert!((var(&g) - 9.0).abs() < 0.15);
        let l = sample(
            Distribution::Laplace {
                loc: 0.0,
                scale: 1.0,
            },
            n,
            3,
        );
        assert!((var(&l) - 2.0).abs() < 0.05, "laplace var {}", var(&l));
        let t = sample(Distribution::StudentT { dof: 5.0 }, n, 4);
        assert!((var(&t) - 5.0 / 3.0).abs() < 0.1, "t var {}", var(&t));
    }

    #[test]
    fn outliers_are_distinct_and_seeded() {
        let p = outlier_positions(1000, 50, 9);
        assert_eq!(p.len(), 50);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(p, outlier_positions(1000, 50, 9));
        assert_eq!(outlier_positions(5, 5, 1), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn notebook_touches_like_the_notebook() {
        let mut v = sample(
            Distribution::Uniform {
                lo: -50.0,
                hi: 150.0,
            },
            20,
            3,
        );
        let (max, min) = (
            v.iter().copied().fold(f64::MIN, f64::max),
            v.iter().copied().fold(f64::MAX, f64::min),
        );
        notebook_touches(&mut v);
        round_decimals(&mut v, 2);
        assert_eq!(v[0], ((max + 1.0) * 100.0).round_ties_even() / 100.0);
        assert_eq!(v[1], ((min - 1.0) * 100.0).round_ties_even() / 100.0);
        assert_eq!(v[2], 0.0);
        assert!(v
            .iter()
            .all(|x| (x * 100.0 - (x * 100.0).round()).abs() < 1e-9));
    }

    #[test]
    fn round_is_half_even_like_numpy() {
        let mut v = [0.125, 0.135, 2.5, -0.005];
        round_decimals(&mut v, 2);
        // 0.125 * 100 = 12.5 -> 12; 0.135 * 100 = 13.500000000000002 -> 14
        assert_eq!(v, [0.12, 0.14, 2.5, -0.0]);
    }
}
