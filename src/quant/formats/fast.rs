//! The error of Q4_0, Q4_1, Q8_0 and FP8 in one fused AVX2 pass: each block of 32 values is
//! loaded once, quantized in registers, its codes written as bytes and its squared errors
//! (float64, against the values as given) kept in a small buffer that stays in the core's
//! cache until numpy's pairwise tree sums them. These four formats are a few array operations
//! in numpy, so the general path (quantize a piece into buffers, then measure it) spends more
//! on moving values than on quantizing them.
//!
//! Every step is the portable block's own operation in the same order, eight lanes at a time
//! (products and sums rounded one by one, never fused), so codes, dequantized values and every
//! squared error are the same bits; the tests compare the two on data with ties, zero blocks
//! and extreme scales. A block that cannot be quantized (a value that is not finite, a scale
//! that overflows fp16) makes the pass give up, and the caller runs the general path, which
//! names the error.

use super::fp8::{self, Fp8};
use super::Format;
use crate::quant::pairwise::{pairwise_tree_indexed, BLOCK};
use std::arch::x86_64::*;

/// Values a block kernel takes at a time: ggml's block, and four vectors of FP8.
const LEN: usize = 32;

/// Squared errors kept at a time: a multiple of [`LEN`], with room for the last leaf's rest.
const PIECE: usize = 2048;

/// The sum of squared errors, the largest |error|, the largest |dequantized value|, and the
/// saturated count, as [`crate::analysis::formats::streamed_error_sums`] gives them.
pub(crate) type Sums = ((f64, f64, f64), usize);

/// A format with a fused pass, with what the pass needs beyond the values. Made only by
/// [`Fused::of`], which checks the CPU: the pass's AVX2 code relies on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fused(Kind);

#[derive(Debug, Clone, Copy)]
enum Kind {
    Q4_0,
    Q4_1,
    Q8_0,
    /// The encoding's constants and the whole tensor's scale.
    Fp8(fp8::Constants, f32),
}

impl Fused {
    /// `format`'s fused pass over `xs` where this CPU has one (AVX2 and F16C); for FP8 this
    /// finds the tensor's scale, one pass over the values.
    pub(crate) fn of(format: Format, xs: &[f32]) -> Option<Fused> {
        if !(crate::quant::kernels::has_avx2() && std::arch::is_x86_feature_detected!("f16c")) {
            return None;
        }
        let fp8 = |kind| Kind::Fp8(fp8::constants(kind), fp8::tensor_scale(xs, kind));
        Some(Fused(match format {
            Format::Q4_0 => Kind::Q4_0,
            Format::Q4_1 => Kind::Q4_1,
            Format::Q8_0 => Kind::Q8_0,
            Format::Fp8E4m3 => fp8(Fp8::E4m3),
            Format::Fp8E5m2 => fp8(Fp8::E5m2),
            _ => return None,
        }))
    }

    /// The sums over values `a..b` of `xs` (the whole tensor, float32), against `given` (the
    /// whole tensor as given, or `None` where that is `xs`), with the codes of `a..b` written
    /// to `codes` where given (as long as `b - a`). The squared errors are summed in numpy's pairwise tree over `a..b`, so parts
    /// cut where [`crate::par`] cuts add up to the whole tensor's sum. `None` where a block
    /// cannot be quantized, where 32 does not divide the count for a ggml format, or where
    /// `given` or `codes` is of another length.
    pub(crate) fn part(
        self,
        xs: &[f32],
        given: Option<&[f64]>,
        a: usize,
        b: usize,
        codes: Option<&mut [u8]>,
    ) -> Option<Sums> {
        let b = b.min(xs.len());
        let a = a.min(b);
        let partial_block = !matches!(self.0, Kind::Fp8(..)) && !xs.len().is_multiple_of(LEN);
        let lengths = given.is_some_and(|g| g.len() != xs.len())
            || codes.as_ref().is_some_and(|c| c.len() != b - a);
        if partial_block || lengths {
            return None;
        }
        // SAFETY: `of` found AVX2 and F16C on this CPU (a `Fused` is made nowhere else).
        unsafe {
            match self.0 {
                Kind::Q4_0 => run(&Q40, xs, given, a, b, codes),
                Kind::Q4_1 => run(&Q41, xs, given, a, b, codes),
                Kind::Q8_0 => run(&Q80, xs, given, a, b, codes),
                Kind::Fp8(c, scale) => run(&Fp8Kernel::new(c, scale), xs, given, a, b, codes),
            }
        }
    }
}

/// A block of 32 values as four vectors, and what quantizing it gives: the codes (as 32-bit
/// lanes) and the dequantized values.
type Vals = [__m256; 4];
type Codes = [__m256i; 4];

/// One format's block in registers, in two steps: its scale (a chain of dependent scalar
/// steps: the largest magnitude, divisions, the fp16 rounding), then its codes and dequantized
/// values. [`run`] finds the next block's scale before it quantizes this one, so that the
/// processor works on the chain while this block's vector work is done.
trait Kernel {
    /// Codes that are negative (Q8_0's): packed to bytes with signed saturation.
    const SIGNED: bool;
    /// Whether [`run`] finds a block's scale a block ahead (not where there is no chain to
    /// overlap, as for FP8, whose scale is the tensor's).
    const AHEAD: bool = true;
    /// What a block's quantization takes from its scale search.
    type Scale: Copy;
    /// The block's scale; `None` where it cannot be quantized. `x` is the block in memory,
    /// `v` the same values loaded.
    unsafe fn scale(&self, x: &[f32; LEN], v: &Vals) -> Option<Self::Scale>;
    /// The block's codes and dequantized values under its scale `s`.
    unsafe fn apply(&self, v: &Vals, s: Self::Scale) -> (Codes, Vals);
    /// The lanes of `codes` that count as saturated, as a mask of bits.
    unsafe fn saturated(&self, _codes: &Codes) -> u32 {
        0
    }
}

/// [`Fused::part`] with the format's kernel inlined.
#[target_feature(enable = "avx2,f16c")]
unsafe fn run<K: Kernel>(
    k: &K,
    xs: &[f32],
    given: Option<&[f64]>,
    a: usize,
    b: usize,
    mut codes: Option<&mut [u8]>,
) -> Option<Sums> {
    let n = xs.len();
    let mut sq = [0f64; PIECE + BLOCK + LEN];
    // `sq[i]` is the squared error of value `base + i`; values up to `filled` are in it.
    let mut base = a / LEN * LEN;
    let mut filled = base;
    let mut max_e = _mm256_setzero_pd();
    let mut max_y = _mm256_setzero_ps();
    let mut saturated = 0usize;
    let mut failed = false;
    let (mut pad, mut gpad) = ([0f32; LEN], [0f64; LEN]);
    // A block's values and scale found ahead of its turn, with its index.
    let mut next: Option<(usize, Vals, K::Scale)> = None;
    let sum = pairwise_tree_indexed(
        b - a,
        &mut |start, len| {
            let (la, lb) = (a + start, a + start + len);
            if failed {
                return 0.0;
            }
            if lb > filled {
                // What is before this leaf has been summed: keep the rest, then fill on.
                if la < filled {
                    sq.copy_within(la - base..filled - base, 0);
                    base = la;
                } else {
                    base = filled;
                }
                let (mut me, mut my) = (max_e, max_y);
                while filled < lb || (filled < b && filled + LEN <= base + PIECE) {
                    let len = LEN.min(n - filled);
                    let found = match next.take() {
                        Some((at, v, s)) if at == filled => Some((v, s)),
                        _ => {
                            let x = block_at(xs, filled, &mut pad);
                            let v = load(x);
                            k.scale(x, &v).map(|s| (v, s))
                        }
                    };
                    // The next block's scale, where it is whole and holds values of a..b.
                    let ahead = filled + 2 * LEN;
                    if K::AHEAD && ahead <= n && filled + LEN < b {
                        let x = block_at(xs, filled + LEN, &mut pad);
                        let v = load(x);
                        next = k.scale(x, &v).map(|s| (filled + LEN, v, s));
                        if next.is_none() {
                            failed = true;
                        }
                    }
                    let Some((v, s)) = found.filter(|_| !failed) else {
                        failed = true;
                        return 0.0;
                    };
                    let (c, y) = k.apply(&v, s);
                    let g = given.map(|g| block_at(g, filled, &mut gpad));
                    // The lanes of this block within a..b: the largest |error| and
                    // |value| are those of a..b alone (zero lanes change neither).
                    let lo = a.saturating_sub(filled).min(LEN);
                    let hi = (b - filled).min(LEN).max(lo);
                    let out = sq.as_mut_ptr().add(filled - base);
                    let keep = ((lo, hi) != (0, LEN)).then(|| lanes(lo, hi));
                    measure(&v, g, &y, keep, out, &mut me, &mut my);
                    let inside = (u64::MAX << lo) as u32 & ((1u64 << hi) - 1) as u32;
                    saturated += (k.saturated(&c) & inside).count_ones() as usize;
                    if let Some(out) = codes.as_deref_mut() {
                        let bytes = pack::<K>(&c);
                        let at = filled + lo - a;
                        if (lo, hi) == (0, LEN) {
                            // SAFETY: at + 32 <= b - a = out.len().
                            _mm256_storeu_si256(out.as_mut_ptr().add(at) as *mut __m256i, bytes);
                        } else {
                            let mut tmp = [0u8; LEN];
                            _mm256_storeu_si256(tmp.as_mut_ptr() as *mut __m256i, bytes);
                            out[at..at + hi - lo].copy_from_slice(&tmp[lo..hi]);
                        }
                    }
                    filled += len;
                }
                (max_e, max_y) = (me, my);
            }
            leaf(&sq[la - base..lb - base])
        },
        &|x, y| x + y,
    );
    if failed {
        return None;
    }
    let mut e = [0f64; 4];
    _mm256_storeu_pd(e.as_mut_ptr(), max_e);
    let mut m = [0f32; 8];
    _mm256_storeu_ps(m.as_mut_ptr(), max_y);
    let larger = |a: f64, b: f64| if b > a { b } else { a };
    let max_e = e.into_iter().fold(0.0, larger);
    let max_y = m.into_iter().map(f64::from).fold(0.0, larger);
    Some(((sum, max_e, max_y), saturated))
}

/// One block's squared errors into `out` (32 float64) and its largest |error| and |value|
/// into `me` and `my`: against `g` (the values as given) or, without it, the values `v`
/// widened; with `keep`, only its lanes count towards the largest.
#[inline]
#[target_feature(enable = "avx2,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn measure(
    v: &Vals,
    g: Option<&[f64; LEN]>,
    y: &Vals,
    keep: Option<[__m256; 4]>,
    out: *mut f64,
    me: &mut __m256d,
    my: &mut __m256,
) {
    for j in 0..4 {
        let yj = match keep {
            Some(m) => _mm256_and_ps(y[j], m[j]),
            None => y[j],
        };
        *my = _mm256_max_ps(_mm256_and_ps(yj, abs_ps()), *my);
        let (x0, x1) = match g {
            Some(g) => (
                _mm256_loadu_pd(g.as_ptr().add(8 * j)),
                _mm256_loadu_pd(g.as_ptr().add(8 * j + 4)),
            ),
            None => widen(v[j]),
        };
        let (y0, y1) = widen(yj);
        let (e0, e1) = (_mm256_sub_pd(x0, y0), _mm256_sub_pd(x1, y1));
        _mm256_storeu_pd(out.add(8 * j), _mm256_mul_pd(e0, e0));
        _mm256_storeu_pd(out.add(8 * j + 4), _mm256_mul_pd(e1, e1));
        let (mut a0, mut a1) = (_mm256_and_pd(e0, abs_pd()), _mm256_and_pd(e1, abs_pd()));
        if let Some(m) = keep {
            let (k0, k1) = widen_mask(m[j]);
            (a0, a1) = (_mm256_and_pd(a0, k0), _mm256_and_pd(a1, k1));
        }
        // One at a time: `max_pd(a, m)` keeps `m` where `a` is NaN (an error against a NaN
        // given value), as the portable comparison does.
        *me = _mm256_max_pd(a0, *me);
        *me = _mm256_max_pd(a1, *me);
    }
}

/// numpy's sum of one leaf (at most 128 values): eight accumulators as two vectors of four,
/// combined `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, then the rest one by one
/// (fewer than 8 values: left to right).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn leaf(s: &[f64]) -> f64 {
    let n = s.len();
    if n < 8 {
        return s.iter().fold(0.0, |r, &v| r + v);
    }
    let p = s.as_ptr();
    let (mut r0, mut r1) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
    let whole = n - n % 8;
    let mut i = 8;
    while i < whole {
        r0 = _mm256_add_pd(r0, _mm256_loadu_pd(p.add(i)));
        r1 = _mm256_add_pd(r1, _mm256_loadu_pd(p.add(i + 4)));
        i += 8;
    }
    let mut r = [0f64; 8];
    _mm256_storeu_pd(r.as_mut_ptr(), r0);
    _mm256_storeu_pd(r.as_mut_ptr().add(4), r1);
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    s[whole..].iter().fold(res, |r, &v| r + v)
}

/// The block of `LEN` values from `at`: where it is, or, for a last block shorter than that,
/// copied into `pad` after zeros.
#[inline(always)]
fn block_at<'a, T: Copy + Default>(xs: &'a [T], at: usize, pad: &'a mut [T; LEN]) -> &'a [T; LEN] {
    let rest = &xs[at.min(xs.len())..];
    match rest.first_chunk() {
        Some(x) => x,
        None => {
            pad.fill(T::default());
            pad[..rest.len()].copy_from_slice(rest);
            pad
        }
    }
}

/// A block's values in four vectors.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn load(x: &[f32; LEN]) -> Vals {
    [
        _mm256_loadu_ps(x.as_ptr()),
        _mm256_loadu_ps(x.as_ptr().add(8)),
        _mm256_loadu_ps(x.as_ptr().add(16)),
        _mm256_loadu_ps(x.as_ptr().add(24)),
    ]
}

/// Masks of the lanes `lo..hi` of a block, one vector per eight values.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn lanes(lo: usize, hi: usize) -> [__m256; 4] {
    let (lo, hi) = (
        _mm256_set1_epi32(lo as i32 - 1),
        _mm256_set1_epi32(hi as i32),
    );
    [0, 8, 16, 24].map(|j| {
        let i = _mm256_add_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(j),
        );
        let inside = _mm256_and_si256(_mm256_cmpgt_epi32(i, lo), _mm256_cmpgt_epi32(hi, i));
        _mm256_castsi256_ps(inside)
    })
}

/// A mask of eight 32-bit lanes as two of four 64-bit lanes.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn widen_mask(m: __m256) -> (__m256d, __m256d) {
    let m = _mm256_castps_si256(m);
    (
        _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m))),
        _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(m))),
    )
}

/// The eight lanes of `v` widened to float64 (exact), low four first.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn widen(v: __m256) -> (__m256d, __m256d) {
    (
        _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
        _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
    )
}

#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn abs_ps() -> __m256 {
    _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
}

#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn abs_pd() -> __m256d {
    _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX))
}

/// The 32 codes as bytes in order (each code fits its byte: 0 to 255, or -128 to 127 signed).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn pack<K: Kernel>(c: &Codes) -> __m256i {
    let bytes = if K::SIGNED {
        let (p, q) = (
            _mm256_packs_epi32(c[0], c[1]),
            _mm256_packs_epi32(c[2], c[3]),
        );
        _mm256_packs_epi16(p, q)
    } else {
        let (p, q) = (
            _mm256_packus_epi32(c[0], c[1]),
            _mm256_packus_epi32(c[2], c[3]),
        );
        _mm256_packus_epi16(p, q)
    };
    // The packs interleave the two 128-bit lanes: bytes in groups of four from c0, c1, c2, c3
    // (low halves), then the same from the high halves.
    _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// The magnitudes of the block's values, where every one is finite (at most float32's
/// largest).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn finite_magnitudes(v: &Vals) -> Option<Vals> {
    let a = v.map(|x| _mm256_and_ps(x, abs_ps()));
    let top = _mm256_set1_ps(f32::MAX);
    let ok = a
        .iter()
        .map(|&m| _mm256_cmp_ps::<_CMP_LE_OQ>(m, top))
        .fold(_mm256_castsi256_ps(_mm256_set1_epi32(-1)), |m, c| {
            _mm256_and_ps(m, c)
        });
    (_mm256_movemask_ps(ok) == 0xFF).then_some(a)
}

/// The largest lane of `v` (no NaN).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn hmax(v: __m256) -> f32 {
    let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_max_ss(m, _mm_shuffle_ps::<1>(m, m));
    _mm_cvtss_f32(m)
}

/// The smallest lane of `v` (no NaN).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn hmin(v: __m256) -> f32 {
    let m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_min_ss(m, _mm_shuffle_ps::<1>(m, m));
    _mm_cvtss_f32(m)
}

/// The largest of the four vectors' lanes.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn block_max(v: &Vals) -> f32 {
    hmax(_mm256_max_ps(
        _mm256_max_ps(v[0], v[1]),
        _mm256_max_ps(v[2], v[3]),
    ))
}

/// `x` rounded to fp16 and read back (F16C: round to nearest even, subnormals kept), as
/// `half::f16::from_f32(x).to_f32()` gives it.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn fp16(x: f32) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(
        _mm_set_ss(x),
    )))
}

struct Q40;

impl Kernel for Q40 {
    const SIGNED: bool = false;

    /// `ggml::q4_0_block`: `d = m / -8` with `m` the first value of largest magnitude; the
    /// reciprocal and the fp16 `d`.
    type Scale = (f32, f32);

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn scale(&self, x: &[f32; LEN], v: &Vals) -> Option<(f32, f32)> {
        let a = finite_magnitudes(v)?;
        let amax = block_max(&a);
        let m = if amax > 0.0 {
            let t = _mm256_set1_ps(amax);
            let mask = a.iter().enumerate().fold(0u32, |mask, (j, &aj)| {
                let eq = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(aj, t)) as u32;
                mask | eq << (8 * j)
            });
            x[mask.trailing_zeros() as usize % LEN]
        } else {
            0.0
        };
        // m / -8, exactly (a power of two: the same rounding, subnormals too).
        let d = m * -0.125;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let d16 = fp16(d);
        (!d16.is_infinite()).then_some((id, d16))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn apply(&self, v: &Vals, (id, d16): (f32, f32)) -> (Codes, Vals) {
        if !id.is_finite() {
            return ([_mm256_setzero_si256(); 4], [_mm256_set1_ps(-8.0 * d16); 4]);
        }
        let (idv, dv) = (_mm256_set1_ps(id), _mm256_set1_ps(d16));
        let (half, top, eight) = (
            _mm256_set1_ps(8.5),
            _mm256_set1_epi32(15),
            _mm256_set1_epi32(8),
        );
        let c = v.map(|x| {
            let t = _mm256_add_ps(_mm256_mul_ps(x, idv), half);
            _mm256_min_epi32(_mm256_cvttps_epi32(t), top)
        });
        let y = c.map(|q| _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, eight)), dv));
        (c, y)
    }
}

struct Q41;

impl Kernel for Q41 {
    const SIGNED: bool = false;

    /// `ggml::q4_1_block`: `d = (max - min)/15`, the minimum stored beside it; the minimum,
    /// the reciprocal and the fp16 `d` and minimum.
    type Scale = (f32, f32, f32, f32);

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn scale(&self, _: &[f32; LEN], v: &Vals) -> Option<Self::Scale> {
        finite_magnitudes(v)?;
        let min = hmin(_mm256_min_ps(
            _mm256_min_ps(v[0], v[1]),
            _mm256_min_ps(v[2], v[3]),
        ));
        let max = block_max(v);
        // Where the minimum or maximum is zero, the portable block takes the sign of the first
        // zero (the stored fp16 minimum keeps it), and the vectors' minimum may have the other:
        // no code and no error differs, only the sign of a dequantized zero, which neither
        // the squared error nor |x̂| sees.
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let (d16, m16) = (fp16(d), fp16(min));
        (!(d16.is_infinite() || m16.is_infinite())).then_some((min, id, d16, m16))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn apply(&self, v: &Vals, (min, id, d16, m16): Self::Scale) -> (Codes, Vals) {
        if !id.is_finite() {
            return (
                [_mm256_setzero_si256(); 4],
                [_mm256_set1_ps(0.0 * d16 + m16); 4],
            );
        }
        let (minv, idv) = (_mm256_set1_ps(min), _mm256_set1_ps(id));
        let (dv, mv) = (_mm256_set1_ps(d16), _mm256_set1_ps(m16));
        let (half, top) = (_mm256_set1_ps(0.5), _mm256_set1_epi32(15));
        let c = v.map(|x| {
            let t = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(x, minv), idv), half);
            _mm256_min_epi32(_mm256_cvttps_epi32(t), top)
        });
        let y = c.map(|q| _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), dv), mv));
        (c, y)
    }
}

struct Q80;

impl Kernel for Q80 {
    const SIGNED: bool = true;

    /// `ggml::q8_0_block`: `d = max|v|/127`, `q = roundf(v/d)`; the reciprocal and the fp16
    /// `d`.
    type Scale = (f32, f32);

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn scale(&self, _: &[f32; LEN], v: &Vals) -> Option<(f32, f32)> {
        let a = finite_magnitudes(v)?;
        let d = block_max(&a) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let d16 = fp16(d);
        (!d16.is_infinite()).then_some((id, d16))
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn apply(&self, v: &Vals, (id, d16): (f32, f32)) -> (Codes, Vals) {
        if !id.is_finite() {
            return ([_mm256_setzero_si256(); 4], [_mm256_setzero_ps(); 4]);
        }
        let (idv, dv) = (_mm256_set1_ps(id), _mm256_set1_ps(d16));
        let (half, one, zero) = (
            _mm256_set1_ps(0.5),
            _mm256_set1_ps(1.0),
            _mm256_setzero_ps(),
        );
        let c = v.map(|x| {
            // C's roundf: the floor of |t|, plus one where the rest is at least a half, with
            // t's sign (the portable `round_half_away`).
            let t = _mm256_mul_ps(x, idv);
            let a = _mm256_and_ps(t, abs_ps());
            let f = _mm256_round_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(a);
            let up = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_sub_ps(a, f), half);
            let r = _mm256_add_ps(f, _mm256_and_ps(up, one));
            let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(t, zero);
            let r = _mm256_blendv_ps(r, _mm256_sub_ps(zero, r), neg);
            _mm256_cvtps_epi32(r)
        });
        let y = c.map(|q| _mm256_mul_ps(_mm256_cvtepi32_ps(q), dv));
        (c, y)
    }
}

/// FP8 with the tensor's scale: `fp8::Enc::cast` of the clamped `v·scale`, eight at a time.
struct Fp8Kernel {
    k: fp8::Constants,
    scale: f32,
}

impl Fp8Kernel {
    fn new(k: fp8::Constants, scale: f32) -> Fp8Kernel {
        Fp8Kernel { k, scale }
    }
}

impl Kernel for Fp8Kernel {
    const SIGNED: bool = false;

    /// The tensor's scale is all there is: a block only needs its values finite.
    type Scale = ();
    const AHEAD: bool = false;

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn scale(&self, _: &[f32; LEN], v: &Vals) -> Option<()> {
        finite_magnitudes(v).map(|_| ())
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn apply(&self, v: &Vals, (): ()) -> (Codes, Vals) {
        let k = &self.k;
        let shift = _mm_cvtsi32_si128(k.shift as i32);
        let scale = _mm256_set1_ps(self.scale);
        let (fmax, nfmax) = (_mm256_set1_ps(k.fmax), _mm256_set1_ps(-k.fmax));
        let low = _mm256_set1_epi32(k.low as i32);
        let half_low = _mm256_set1_epi32((k.low >> 1) as i32);
        let one = _mm256_set1_epi32(1);
        let rebias = _mm256_set1_epi32(k.rebias as i32);
        let magic = _mm256_set1_ps(k.magic);
        let min_normal = _mm256_set1_ps(k.min_normal);
        let sign_bit = _mm256_set1_epi32(i32::MIN);
        let mut c = [_mm256_setzero_si256(); 4];
        let mut y = [_mm256_setzero_ps(); 4];
        for j in 0..4 {
            // torch's clamp: max_ps(t, -fmax) is `if t < -fmax { -fmax } else { t }` but for
            // t = -fmax, where both are the same value; min_ps likewise.
            let t = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v[j], scale), nfmax), fmax);
            let bits = _mm256_castps_si256(t);
            let sign = _mm256_and_si256(bits, sign_bit);
            let a_bits = _mm256_andnot_si256(sign_bit, bits);
            let a = _mm256_castsi256_ps(a_bits);
            let odd = _mm256_and_si256(_mm256_srl_epi32(a_bits, shift), one);
            let rounded = _mm256_add_epi32(_mm256_add_epi32(a_bits, half_low), odd);
            let normal_code = _mm256_sub_epi32(_mm256_srl_epi32(rounded, shift), rebias);
            let normal_val = _mm256_andnot_si256(low, rounded);
            let s = _mm256_add_ps(a, magic);
            let sub_code = _mm256_sub_epi32(_mm256_castps_si256(s), _mm256_castps_si256(magic));
            let sub_val = _mm256_castps_si256(_mm256_sub_ps(s, magic));
            let sub = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(a, min_normal));
            let code = _mm256_blendv_epi8(normal_code, sub_code, sub);
            let val = _mm256_blendv_epi8(normal_val, sub_val, sub);
            c[j] = _mm256_or_si256(_mm256_srli_epi32::<24>(sign), code);
            y[j] = _mm256_div_ps(_mm256_castsi256_ps(_mm256_or_si256(val, sign)), scale);
        }
        (c, y)
    }

    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn saturated(&self, c: &Codes) -> u32 {
        let (seven, max) = (
            _mm256_set1_epi32(0x7F),
            _mm256_set1_epi32(self.k.max as i32),
        );
        c.iter().enumerate().fold(0u32, |mask, (j, &cj)| {
            let top = _mm256_cmpeq_epi32(_mm256_and_si256(cj, seven), max);
            mask | (_mm256_movemask_ps(_mm256_castsi256_ps(top)) as u32) << (8 * j)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::formats::error_sums;
    use crate::quant::formats::{lcg, quantize};
    use proptest::prelude::*;

    const FORMATS: [Format; 5] = [
        Format::Q4_0,
        Format::Q4_1,
        Format::Q8_0,
        Format::Fp8E4m3,
        Format::Fp8E5m2,
    ];

    /// A block of 32 of kind `kind`: the cases the kernels treat apart (zeros of either sign,
    /// a zero minimum or maximum, the largest magnitude negative or tied, Q8_0's halves,
    /// scales whose reciprocal overflows, that are subnormal with a finite reciprocal, that
    /// fp16 flushes, near or past fp16's limit, a Q4_1 minimum past it) and plain values.
    fn block(kind: u8, s: &mut u64) -> [f32; 32] {
        let mut u = || (lcg(s) >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        std::array::from_fn(|i| match kind % KINDS {
            0 => 0.0,
            1 => [0.0, -0.0][i % 2],
            2 => u().abs() * (i % 3) as f32,
            3 => -u().abs() * (i % 4) as f32,
            4 => [127.0, 63.5, -0.5, 1.5, -2.5][i % 5],
            5 => u() * 1e-39,
            6 => u() * 1e-30,
            7 => [-3.0, 3.0, 1.0][i % 3],
            8 => u() * 3e4,
            // The first of the largest magnitude positive, in the second vector.
            9 => [0.1 * u(), 3.0, -3.0][usize::from(i == 13) + 2 * usize::from(i == 20)],
            // Q4_0's d subnormal with 1/d finite; the same for Q8_0.
            10 => u() * 1.5e-37,
            11 => u() * 2e-36,
            // Q4_0's d and Q8_0's just within fp16; Q4_1's past it.
            12 => [524_000.0, -3e4 * u()][usize::from(i > 0)],
            13 => -70_000.0,
            _ => u() * 3.7,
        })
    }

    /// How many kinds [`block`] makes.
    const KINDS: u8 = 15;

    /// What the general path gives values `a..b`: the run of the blocks that hold them (the
    /// whole tensor for FP8, whose scale is the tensor's), then the error.
    fn expected(
        format: Format,
        xs: &[f32],
        given: &[f64],
        a: usize,
        b: usize,
    ) -> Option<(Sums, Vec<u8>)> {
        let fp8 = matches!(format, Format::Fp8E4m3 | Format::Fp8E5m2);
        let (lo, hi) = if fp8 {
            (0, xs.len())
        } else {
            (a / LEN * LEN, (b.div_ceil(LEN) * LEN).min(xs.len()))
        };
        let q = quantize(format, format.block(None).ok()?, &xs[lo..hi]).ok()?;
        let (i, j) = (a - lo, b - lo);
        let sums = error_sums(&given[a..b], &q.dequantized[i..j]);
        let saturated = super::super::saturated_codes(format, &q.codes[i..j]);
        let codes = q.codes[i..j].iter().map(|&c| c as u8).collect();
        Some(((sums, saturated), codes))
    }

    fn bits(s: Sums) -> ((u64, u64, u64), usize) {
        let (t, n) = s;
        ((t.0.to_bits(), t.1.to_bits(), t.2.to_bits()), n)
    }

    /// The fused pass over `a..b`, with and without codes, against the general path; as
    /// given both the float32 values widened and float64 values near them.
    fn check(xs: &[f32], a: usize, b: usize) {
        let widened: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        let nearby: Vec<f64> = widened.iter().map(|&x| x * (1.0 + 1e-12)).collect();
        for format in FORMATS {
            let Some(fused) = Fused::of(format, xs) else {
                return;
            };
            for (given, g) in [(None, &widened), (Some(&nearby[..]), &nearby)] {
                let want = expected(format, xs, g, a, b);
                let mut codes = vec![0u8; b - a];
                let got = fused.part(xs, given, a, b, Some(&mut codes));
                let alone = fused.part(xs, given, a, b, None);
                assert_eq!(
                    got.map(bits),
                    want.as_ref().map(|w| bits(w.0)),
                    "{format} {a}..{b}"
                );
                assert_eq!(alone.map(bits), got.map(bits), "{format} {a}..{b}");
                if let Some((_, c)) = want {
                    assert!(codes == c, "{format} {a}..{b}");
                }
            }
        }
    }

    #[test]
    fn every_kind_of_block_as_the_general_path_gives_it() {
        let mut s = 7;
        let xs: Vec<f32> = (0..400)
            .flat_map(|k| block((k % 256) as u8, &mut s))
            .collect();
        let n = xs.len();
        // The whole, and parts that start and end inside blocks (the way threads cut it).
        for (a, b) in [
            (0, n),
            (8, n),
            (0, n - 8),
            (1000, 1000 + 4104),
            (24, 40),
            (n - 8, n),
        ] {
            check(&xs, a, b);
        }
    }

    #[test]
    fn fp8_takes_any_count() {
        let mut s = 3;
        let xs: Vec<f32> = (0..9).flat_map(|k| block(k as u8 + 5, &mut s)).collect();
        for n in [1, 7, 33, 200, 287] {
            check(&xs[..n], 0, n);
            check(&xs[..n], n / 16 * 8, n);
        }
    }

    #[test]
    fn a_nan_given_value_counts_as_the_general_path_counts_it() {
        // A NaN in the values as given makes the sum NaN; the largest |error| is the others'.
        let xs = vec![1.0f32; 64];
        let mut given: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        given[0] = 100.0;
        given[4] = f64::NAN;
        for format in FORMATS {
            let Some(fused) = Fused::of(format, &xs) else {
                return;
            };
            let want = expected(format, &xs, &given, 0, 64).map(|w| w.0);
            let got = fused.part(&xs, Some(&given), 0, 64, None);
            assert_eq!(got.map(|g| g.0 .1), want.map(|w| w.0 .1), "{format}");
            assert!(got.is_some_and(|g| g.0 .0.is_nan()), "{format}");
        }
    }

    #[test]
    fn fp8_of_zeros_and_of_the_largest_float() {
        let mut xs = vec![0.0f32; 64];
        check(&xs, 0, 64);
        xs[5] = f32::MAX;
        xs[9] = -1.0;
        check(&xs, 0, 64);
    }

    #[test]
    fn what_cannot_be_quantized_is_left_to_the_general_path() {
        let mut xs: Vec<f32> = vec![1.0; 256];
        for bad in [f32::NAN, f32::INFINITY, 1e30] {
            xs[100] = bad;
            for format in FORMATS {
                let Some(fused) = Fused::of(format, &xs) else {
                    return;
                };
                // 1e30 overflows only the ggml formats' fp16 scales; FP8 scales it down.
                let fp8 = matches!(format, Format::Fp8E4m3 | Format::Fp8E5m2);
                let refused = fused.part(&xs, None, 0, 256, None).is_none();
                assert_eq!(refused, !(fp8 && bad == 1e30), "{format} {bad}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_blocks_any_part(
            kinds in proptest::collection::vec(0u8..KINDS, 1..40),
            seed in any::<u64>(),
            cut in (0usize..1000, 0usize..1000),
        ) {
            let mut s = seed;
            let xs: Vec<f32> = kinds.iter().flat_map(|&k| block(k, &mut s)).collect();
            let n = xs.len();
            // Parts start at a multiple of 8, as the threads' parts do.
            let a = cut.0 % n / 8 * 8;
            let b = a + cut.1 % (n - a) + 1;
            let b = if b < n { b.div_ceil(8) * 8 } else { n }.min(n);
            check(&xs, a, b);
        }
    }
}
