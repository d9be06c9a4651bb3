//! Small floats the block formats store: fp16 scales (ggml), the E8M0 exponent of MXFP4, the
//! UE4M3 scale of NVFP4 and the E2M1 elements both 4-bit floats share. Each conversion does what
//! the reference does, quirks included, so that the stored bytes match it.
//!
//! Also what every format's loop shares: float-to-integer steps that vectorize on baseline
//! x86-64 (SSE2), and the output buffers and the parts of whole blocks run on threads.

use super::BlockScale;
use half::f16;
use std::sync::Mutex;

/// ggml's E2M1 elements doubled so that they are integers (`kvalues_mxfp4`: 0, 1, 2, 3, 4, 6,
/// 8, 12, then the same negated, with a second zero at code 8), here the magnitudes of codes 0
/// to 7; code `8 + i` is the negative of code `i`. The order decides ties: the first minimum
/// wins.
pub(super) const E2M1_DOUBLED_MAGNITUDES: [f32; 8] = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0];

/// The largest finite fp16, the limit an fp16 scale must stay within.
pub(super) const FP16_MAX: f64 = 65504.0;

/// `x` rounded to fp16 (IEEE half, round to nearest even, subnormals kept, what ggml's
/// `GGML_FP32_TO_FP16` computes): the stored bits and their value read back as float32.
/// Values from 65520 up round to infinity; values below 2^-25 round to zero (sign kept).
#[inline]
pub(super) fn fp16_round(x: f32) -> (u16, f32) {
    let h = f16::from_f32(x);
    (h.to_bits(), h.to_f32())
}

/// `floor(log2f(amax))` as a C library computes it in float32, for `amax > 0`: the exponent of
/// `amax`, except just below a power of two, where `log2f` rounds up to the next integer (the
/// largest float32 below 8 gives `log2f = 3.0`). There the logarithm is taken in float64 and
/// rounded to float32, which is what a correctly rounded `log2f` returns; glibc's `log2f` and
/// numpy's float32 `log2` agree with it on every float32 within 3000 ulps below a power of two.
/// Only inputs within about 90 ulps below one can round up (|log2| is at most 150, where half
/// an ulp of float32 is 2^-17, and `u` ulps below `2^k` take `u·2^-24/ln 2` off `k`), so farther
/// inputs take the exponent directly. Subnormal inputs go the float64 way too.
#[inline]
pub(super) fn floor_log2f(amax: f32) -> i32 {
    let bits = amax.to_bits();
    let biased = ((bits >> 23) & 0xFF) as i32;
    let mantissa = bits & 0x007F_FFFF;
    // 4096 ulps below the next power of two and closer: the float64 logarithm decides.
    if biased == 0 || mantissa >= 0x007F_FFFF - 4096 {
        (libm::log2(f64::from(amax)) as f32).floor() as i32
    } else {
        biased - 127
    }
}

/// MXFP4's E8M0 exponent byte for a block whose largest magnitude is `amax`, as ggml's
/// `quantize_row_mxfp4_ref` computes it: `(uint8_t)(floorf(log2f(amax)) - 2 + 127)`, 0 for an
/// all-zero block. Below `amax = 2^-125` the float is negative and the cast is undefined in C;
/// x86 builds (and gguf's numpy port) keep its low eight bits, so the byte wraps to 255, 254, ...
/// Such a block's scale is then huge and every value takes the element 0: the block dequantizes
/// to zeros, as the reference's does.
#[inline]
pub(super) fn e8m0_exponent(amax: f32) -> u8 {
    if amax > 0.0 {
        // Truncating to the low byte is the wrap described above.
        (floor_log2f(amax) - 2 + 127) as u8
    } else {
        0
    }
}

/// Half of the E8M0 scale `2^(e - 127)` (ggml's `GGML_E8M0_TO_FP32_HALF`): ggml stores the E2M1
/// elements doubled, so it multiplies them by half the scale. Exact for every `e`: 2^-128 and
/// 2^-127 are float32 subnormals, and `e = 255` (NaN in the OCP encoding) reads as 2^127.
#[inline]
pub(super) fn e8m0_half(e: u8) -> f32 {
    if e < 2 {
        f32::from_bits(0x0020_0000 << e)
    } else {
        f32::from_bits(u32::from(e - 1) << 23)
    }
}

/// NVFP4's scale byte, unsigned E4M3 (bias 7), as ggml's `ggml_fp32_to_ue4m3` computes it:
/// not positive gives 0; above 448 saturates at 448; the subnormal range (below 2^-6) rounds
/// `x*512 + 0.5` down to an integer in float32 arithmetic and keeps at most 7 (so values from
/// 7.5·2^-9 up to 2^-6 give 7, not the 8 that would be the normal 2^-6); normal values round
/// the mantissa half up (adding bit 19 of the float32), and every exponent from 15 up (values
/// from 256 up) gives 0x7E, which is 448.
#[inline]
pub(super) fn ue4m3_from_f32(x: f32) -> u8 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let x = if x > 448.0 { 448.0 } else { x };
    let bits = x.to_bits();
    let exp = ((bits >> 23) & 0xFF) as i32 - 127 + 7;
    if exp <= 0 {
        // x*512 + 0.5 is below 8.5 here: the cast truncates a small non-negative float.
        let man = ((x * 512.0 + 0.5) as i32).min(7);
        return if man < 1 { 0 } else { man as u8 };
    }
    if exp >= 15 {
        return 0x7E;
    }
    let mut man = ((bits >> 20) & 0x7) as i32 + ((bits >> 19) & 1) as i32;
    let mut exp = exp;
    if man > 7 {
        man = 0;
        exp += 1;
        if exp >= 15 {
            return 0x7E;
        }
    }
    ((exp << 3) | man) as u8
}

/// Half the value of a UE4M3 byte (ggml's `ggml_ue4m3_to_fp32`, which halves it for the doubled
/// elements); 0x00 and 0x7F read as zero. Exact: every value is a small float32.
#[inline]
pub(super) fn ue4m3_half(s: u8) -> f32 {
    if s == 0 || s == 0x7F {
        return 0.0;
    }
    let exp = u32::from((s >> 3) & 0xF);
    let man = u32::from(s & 0x7);
    if exp == 0 {
        // man·2^-9, halved: man·2^-10.
        man as f32 * (1.0 / 1024.0)
    } else {
        // (1 + man/8)·2^(exp-7), halved: biased float32 exponent exp - 7 - 1 + 127.
        f32::from_bits(((exp + 119) << 23) | (man << 20))
    }
}

/// `max |v|` of a block, in lanes of eight so that it vectorizes (the largest magnitude is the
/// same in any order); 0 for an empty slice.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub(super) fn abs_max(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for (m, &v) in lanes.iter_mut().zip(ch) {
            let a = v.abs();
            *m = if a > *m { a } else { *m };
        }
    }
    // A tree of maxima, three steps deep, rather than a chain of seven.
    let max = |a: f32, b: f32| if b > a { b } else { a };
    let four: [f32; 4] = std::array::from_fn(|i| max(lanes[i], lanes[i + 4]));
    let mut m = max(max(four[0], four[2]), max(four[1], four[3]));
    for v in rest {
        m = max(m, v.abs());
    }
    m
}

/// [`abs_max`] in simd128: LLVM leaves its compare-and-select loop scalar on wasm32 where it is
/// inlined into a block's loop. `f32x4_pmax(m, a)` is `if m < a { a } else { m }`, the scalar's
/// select; the largest magnitude is the same in any order.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub(super) fn abs_max(xs: &[f32]) -> f32 {
    use core::arch::wasm32::*;
    let mut lanes = [f32x4_splat(0.0); 2];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for (h, m) in lanes.iter_mut().enumerate() {
            let v = f32x4(ch[4 * h], ch[4 * h + 1], ch[4 * h + 2], ch[4 * h + 3]);
            *m = f32x4_pmax(*m, f32x4_abs(v));
        }
    }
    let w = f32x4_pmax(lanes[0], lanes[1]);
    let max = |a: f32, b: f32| if b > a { b } else { a };
    let mut m = max(
        max(f32x4_extract_lane::<0>(w), f32x4_extract_lane::<2>(w)),
        max(f32x4_extract_lane::<1>(w), f32x4_extract_lane::<3>(w)),
    );
    for v in rest {
        m = max(m, v.abs());
    }
    m
}

/// Defines `fn name(arg) -> R` that calls `inner(arg)`, an `#[inline(always)]` function,
/// compiled for AVX2 where the CPU has it (eight float32 lanes where baseline x86-64 has four)
/// and as it is elsewhere. The loops do the same float32 operations either way, only more at a
/// time (only AVX2 is enabled, not FMA: nothing is fused), so the results are the same. The
/// AVX2 copy is a function of its own that calls `inner` directly: `inner` is inlined into it
/// and compiled with AVX2, which a call through a closure or function pointer would not ensure.
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* fn $name:ident $(<$($g:ident: $b:path),*>)? ($a:ident: $t:ty) -> $r:ty
        => $inner:ident) => {
        $(#[$m])*
        fn $name $(<$($g: $b),*>)? ($a: $t) -> $r {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2 $(<$($g: $b),*>)? ($a: $t) -> $r {
                    $inner $(::<$($g),*>)? ($a)
                }
                if crate::quant::kernels::has_avx2() {
                    // SAFETY: the CPU has AVX2, all that `avx2` requires.
                    return unsafe { avx2 $(::<$($g),*>)? ($a) };
                }
            }
            $inner $(::<$($g),*>)? ($a)
        }
    };
}
pub(super) use avx2_dispatch;

/// Where the nearer of two neighbouring grid points `lo < hi` turns from `lo` to `hi`, as a
/// nearest-point search over float32 errors decides it: the smallest float32 `a` in `[lo, hi]`
/// with `fl(hi - a) < fl(a - lo)` (a tie keeps `lo`, the first minimum), +inf where `hi` never
/// wins (equal points, or `hi` infinite). Both errors are monotone in `a`, so the set where `hi`
/// wins is an interval up to `hi`, found by bisection over the floats in order.
///
/// A value's nearest point on a sorted grid, first minimum kept, is then the number of these
/// thresholds at or below it: a point further than a neighbour is further by at least the grid's
/// spacing, far more than float32's rounding, so only neighbours can tie.
pub(super) fn crossover(lo: f32, hi: f32) -> f32 {
    let wins = |a: f32| hi - a < a - lo;
    if lo >= hi || lo.is_nan() || !wins(hi) {
        return f32::INFINITY;
    }
    // float32 -> u32 in the floats' order (negatives below positives), and back.
    let key = |x: f32| {
        let b = x.to_bits();
        if b >> 31 == 1 {
            !b
        } else {
            b | 0x8000_0000
        }
    };
    let float = |k: u32| f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k });
    // `hi` wins at hi, not at lo (where its error is positive and lo's zero).
    let (mut l, mut h) = (key(lo), key(hi));
    while h - l > 1 {
        let m = l + (h - l) / 2;
        if wins(float(m)) {
            h = m;
        } else {
            l = m;
        }
    }
    float(h)
}

/// `1.5·2^23`: adding it to a float32 of magnitude up to 2^22 lands where the float spacing is
/// exactly 1, so the addition rounds the value to an integer (to nearest, halves to even), and
/// the sum's bits minus this constant's bits are that integer.
const MAGIC: f32 = 12_582_912.0;

/// `floor(t)` for `0 <= t < 2^22` (C's truncating cast of such a value): rounded to nearest by
/// [`MAGIC`], minus one where that rounded up. `f32::floor` is a library call without SSE4.1
/// and an `as i32` cast checks for saturation value by value; this vectorizes.
#[inline(always)]
pub(super) fn floor_small(t: f32) -> f32 {
    let r = (t + MAGIC) - MAGIC;
    if r > t {
        r - 1.0
    } else {
        r
    }
}

/// The integer of a float32 `q` that holds one, `|q| <= 2^22`, by the bits of `q + 1.5·2^23`
/// (see [`MAGIC`]); `-0.0` gives 0.
#[inline(always)]
pub(super) fn int_of(q: f32) -> i32 {
    (q + MAGIC).to_bits().wrapping_sub(MAGIC.to_bits()) as i32
}

/// The codes and dequantized values of `n` values, zeroed, in huge pages where large (the
/// writes of a large tensor otherwise fault page by page).
pub(super) fn outputs(n: usize) -> (Vec<i32>, Vec<f32>) {
    (crate::par::zeroed_vec(n), crate::par::zeroed_vec(n))
}

/// Room for `blocks` block scales (in huge pages where large: a scale takes 56 bytes).
pub(super) fn scales_with_capacity(blocks: usize) -> Vec<BlockScale> {
    crate::par::with_capacity(blocks)
}

/// The parts' scales in order: the first part's vector with the others appended, so that data
/// run as one part moves its scales without a copy.
pub(super) fn concat(parts: Vec<Vec<BlockScale>>) -> Vec<BlockScale> {
    let mut parts = parts.into_iter();
    let mut all = parts.next().unwrap_or_default();
    for mut part in parts {
        all.append(&mut part);
    }
    all
}

/// A part of the data: its values, codes and dequantized values.
type Part<'a> = (&'a [f32], &'a mut [i32], &'a mut [f32]);

/// What runs on a part: `f(first block, values, codes, dequantized values)`.
pub(super) type PartFn<'a, T> = dyn Fn(usize, &[f32], &mut [i32], &mut [f32]) -> T + Sync + 'a;

/// The part in `slot`, once (a poisoned lock still holds it).
fn take<'a>(slot: &Mutex<Option<Part<'a>>>) -> Option<Part<'a>> {
    match slot.lock() {
        Ok(mut guard) => guard.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    }
}

/// `f(first, xs, codes, deq)` over consecutive parts of whole blocks of `block` values (the
/// last block may be partial), `first` the index of a part's first block; the parts' results
/// in order. Large data runs one part per thread (at least [`crate::par::MIN_PART`] values
/// each); blocks are independent, so the results are the same whatever the split.
pub(super) fn in_parts<T: Send>(
    xs: &[f32],
    codes: &mut [i32],
    deq: &mut [f32],
    block: usize,
    f: &PartFn<'_, T>,
) -> Vec<T> {
    let n = xs.len().min(codes.len()).min(deq.len());
    let block = block.max(1);
    let parts = crate::par::threads().min(n / crate::par::MIN_PART).max(1);
    if parts == 1 {
        return vec![f(0, &xs[..n], &mut codes[..n], &mut deq[..n])];
    }
    let per = n.div_ceil(block).div_ceil(parts) * block;
    // Each part travels through a slot, so that it is still ours when no thread can be
    // started (the closure is then dropped without running) and runs here instead.
    let pending: Vec<(usize, Mutex<Option<Part>>)> = xs[..n]
        .chunks(per)
        .zip(codes[..n].chunks_mut(per))
        .zip(deq[..n].chunks_mut(per))
        .enumerate()
        .map(|(i, ((x, c), y))| (i * (per / block), Mutex::new(Some((x, c, y)))))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = pending
            .iter()
            .skip(1)
            .map(|(first, slot)| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || take(slot).map(|(x, c, y)| f(*first, x, c, y)))
            })
            .collect();
        let mut out = Vec::with_capacity(parts);
        if let Some((first, slot)) = pending.first() {
            out.extend(take(slot).map(|(x, c, y)| f(*first, x, c, y)));
        }
        for (handle, (first, slot)) in handles.into_iter().zip(pending.iter().skip(1)) {
            let done = match handle.map(|h| h.join()) {
                Ok(Ok(done)) => done,
                // The part panicked on its thread: pass the panic on unchanged.
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                // No thread to be had: the part runs here.
                Err(_) => None,
            };
            out.extend(done.or_else(|| take(slot).map(|(x, c, y)| f(*first, x, c, y))));
        }
        out
    })
}

/// The next state of the tests' linear congruential generator (Knuth's MMIX constants).
#[cfg(test)]
pub(crate) fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *s
}

/// Values for comparing two builds of a loop: every 64 a different magnitude (1e-40 to 1e6,
/// zeros, halves), from a fixed linear congruential generator.
#[cfg(test)]
pub(super) fn test_values(n: usize) -> Vec<f32> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            let u = (lcg(&mut s) >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            match i / 64 % 9 {
                0 => 0.0,
                1 => (u * 32.0).round() * 0.5,
                k => u * 10f32.powi(k as i32 * 6 - 40),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_rounds_to_nearest_even_and_overflows_from_65520() {
        assert_eq!(fp16_round(65504.0), (0x7BFF, 65504.0));
        assert_eq!(fp16_round(65519.0).1, 65504.0);
        assert!(fp16_round(65520.0).1.is_infinite());
        // 2^-25 is halfway between 0 and the smallest subnormal 2^-24: ties to even, to zero.
        assert_eq!(fp16_round(2f32.powi(-25)).0, 0);
        assert_eq!(fp16_round(-1e-30).0, 0x8000);
        assert_eq!(fp16_round(1.0 + 2f32.powi(-11)).1, 1.0);
    }

    #[test]
    fn floor_log2_rounds_up_just_below_a_power_of_two() {
        assert_eq!(floor_log2f(1.0), 0);
        assert_eq!(floor_log2f(0.75), -1);
        // The largest float32 below 1 has log2 -8.6e-8, representable: floor -1.
        assert_eq!(floor_log2f(f32::from_bits(1.0f32.to_bits() - 1)), -1);
        // Below 4 the logarithm is 2 - 8.6e-8, and float32 has 1.9999999 there; below 8 and
        // 0.25 (spacing 2.4e-7 at 3 and -2) it rounds to 3.0 and -2.0.
        assert_eq!(floor_log2f(f32::from_bits(4.0f32.to_bits() - 1)), 1);
        assert_eq!(floor_log2f(f32::from_bits(8.0f32.to_bits() - 1)), 3);
        assert_eq!(floor_log2f(f32::from_bits(0.25f32.to_bits() - 1)), -2);
        assert_eq!(floor_log2f(f32::MAX), 128);
        assert_eq!(floor_log2f(f32::from_bits(1)), -149);
        assert_eq!(e8m0_exponent(0.0), 0);
        assert_eq!(e8m0_exponent(1.0), 125);
        // 2e-39: floor(log2) = -129, so -4 wraps to 252 as the x86 cast does.
        assert_eq!(e8m0_exponent(2e-39), 252);
    }

    #[test]
    fn floor_and_integer_by_the_magic_constant() {
        for t in [
            0.0f32, 0.49999997, 0.5, 1.0, 1.5, 2.5, 15.999999, 16.5, 4194303.5,
        ] {
            assert_eq!(floor_small(t), t.floor(), "{t}");
        }
        for q in [
            0.0f32, -0.0, 1.0, -1.0, 127.0, -127.0, 4194304.0, -4194304.0,
        ] {
            assert_eq!(int_of(q), q as i32, "{q}");
        }
    }

    #[test]
    fn parts_cover_whole_blocks_in_order() {
        let n = 5 * crate::par::MIN_PART + 100;
        let xs: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let (mut c, mut y) = outputs(n);
        let parts = in_parts(&xs, &mut c, &mut y, 64, &|first, x, c, y| {
            for ((v, c), y) in x.iter().zip(c.iter_mut()).zip(y.iter_mut()) {
                *c = first as i32;
                *y = *v;
            }
            (first, x.len())
        });
        assert_eq!(y, xs);
        let mut next = 0;
        for (first, len) in parts {
            assert_eq!(first * 64, next);
            next += len;
        }
        assert_eq!(next, n);
        // Each value knows its part's first block.
        assert!(c.iter().enumerate().all(|(i, &b)| (b as usize) * 64 <= i));
    }

    #[test]
    fn crossovers_are_where_the_nearer_point_changes() {
        assert_eq!(crossover(0.0, 1.0), 0.5f32.next_up_compat());
        assert_eq!(crossover(1.0, 2.0), 1.5f32.next_up_compat());
        assert_eq!(crossover(-1.0, -0.5), (-0.75f32).next_up_compat());
        assert_eq!(crossover(1.0, 1.0), f32::INFINITY);
        assert_eq!(crossover(1.0, f32::INFINITY), f32::INFINITY);
    }

    /// The next float32 up (`f32::next_up` needs a newer Rust than the crate's minimum).
    trait NextUp {
        fn next_up_compat(self) -> f32;
    }
    impl NextUp for f32 {
        fn next_up_compat(self) -> f32 {
            if self >= 0.0 {
                f32::from_bits(self.to_bits() + 1)
            } else {
                f32::from_bits(self.to_bits() - 1)
            }
        }
    }

    #[test]
    fn e8m0_half_values() {
        assert_eq!(e8m0_half(0), 2f32.powi(-128));
        assert_eq!(e8m0_half(1), 2f32.powi(-127));
        assert_eq!(e8m0_half(127), 0.5);
        assert_eq!(e8m0_half(254), 2f32.powi(126));
        assert_eq!(e8m0_half(255), 2f32.powi(127));
    }

    #[test]
    fn ue4m3_as_ggml_rounds() {
        assert_eq!(ue4m3_from_f32(0.0), 0);
        assert_eq!(ue4m3_from_f32(-1.0), 0);
        assert_eq!(ue4m3_from_f32(1.0), 0x38);
        assert_eq!(ue4m3_from_f32(448.0), 0x7E);
        assert_eq!(ue4m3_from_f32(1e9), 0x7E);
        // Exponent 15 (256 and up) is 0x7E whatever the mantissa.
        assert_eq!(ue4m3_from_f32(256.0), 0x7E);
        // 1.0625 is halfway between 1 and 1.125: half up.
        assert_eq!(ue4m3_from_f32(1.0625), 0x39);
        assert_eq!(ue4m3_from_f32(1.96875), 0x40);
        // Subnormals: units of 2^-9, x*512 + 0.5 truncated, at most 7.
        assert_eq!(ue4m3_from_f32(2f32.powi(-10)), 1);
        assert_eq!(ue4m3_from_f32(2f32.powi(-11)), 0);
        assert_eq!(ue4m3_from_f32(7.75 * 2f32.powi(-9)), 7);
        assert_eq!(ue4m3_from_f32(2f32.powi(-6)), 0x08);
        // Every byte below exponent 15 reads back to itself.
        for s in 1u8..0x78 {
            let v = 2.0 * ue4m3_half(s);
            assert_eq!(ue4m3_from_f32(v), s, "byte {s:#x} reads {v} and back");
        }
        assert_eq!(ue4m3_half(0x7E), 224.0);
        assert_eq!(ue4m3_half(0x7F), 0.0);
        assert_eq!(ue4m3_half(1), 2f32.powi(-10));
    }
}
