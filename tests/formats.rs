#![cfg(not(target_arch = "wasm32"))]
//! The formats against their references: ggml (Q4_0, Q4_1, Q8_0, MXFP4, NVFP4), bitsandbytes
//! (NF4) and torchao (FP8), on the data sets `scripts/make_format_fixtures.py` wrote to
//! `tests/fixtures/formats/` with the references' own semantics (gguf's numpy port of ggml,
//! ml_dtypes' casts). Every code and every dequantized value is compared bit for bit (by hash,
//! with the first values spelt out for a readable failure), every block's stored scale exactly,
//! and where the reference's fp16 scale overflows, the error names the same block.
//!
//! Then cases checked by hand, and a property: no finite input panics, and what quantizes has
//! finite dequantized values and codes in the format's range.

use proptest::collection::vec;
use proptest::prelude::*;
use quantviz::data::load::load_file;
use quantviz::error::Error;
use quantviz::quant::formats::{quantize, to_f32, BlockScale, Format, Quantized};
use std::path::{Path, PathBuf};

type Json = serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

fn expected() -> Json {
    let text = std::fs::read_to_string(fixtures().join("expected.json"))
        .expect("tests/fixtures/formats/expected.json (run scripts/make_format_fixtures.py)");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// FNV-1a 64, as the fixture script hashes codes (int32) and dequantized values (float32).
fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    format!("{h:016x}")
}

fn codes_hash(q: &Quantized) -> String {
    fnv1a64(q.codes.iter().flat_map(|c| c.to_le_bytes()))
}

fn deq_hash(q: &Quantized) -> String {
    fnv1a64(q.dequantized.iter().flat_map(|y| y.to_le_bytes()))
}

fn u64_of(j: &Json) -> u64 {
    j.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {j}"))
}

fn f32_of(j: &Json) -> f32 {
    // The script writes float32 values widened to float64: narrowing is exact.
    j.as_f64().unwrap_or_else(|| panic!("not a number: {j}")) as f32
}

/// The scale a fixture's JSON entry stands for, in `format`'s encoding.
fn scale_of(format: Format, j: &Json) -> BlockScale {
    let arr = |j: &Json| -> Vec<u64> { j.as_array().expect("array").iter().map(u64_of).collect() };
    match format {
        Format::Q4_0 | Format::Q8_0 => BlockScale::Fp16 {
            d: u64_of(j) as u16,
        },
        Format::Q4_1 => {
            let v = arr(j);
            BlockScale::Fp16Min {
                d: v[0] as u16,
                m: v[1] as u16,
            }
        }
        Format::Mxfp4 => BlockScale::E8m0 { e: u64_of(j) as u8 },
        Format::Nvfp4 => {
            let v = arr(j);
            BlockScale::Ue4m3 {
                s: [v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8],
            }
        }
        Format::Nf4 => BlockScale::AbsMax { absmax: f32_of(j) },
        Format::Fp8E4m3 | Format::Fp8E5m2 => BlockScale::Tensor { scale: f32_of(j) },
        other => panic!("no fixtures for {other}"),
    }
}

/// Bits of a float, for messages that tell -0.0 from 0.0 and show every bit.
fn bits(y: f32) -> String {
    format!("{y:e} ({:#010x})", y.to_bits())
}

/// One fixture case against quantviz; returns the values compared.
fn check_case(name: &str, xs: &[f32], case: &Json) -> usize {
    let format: Format = case["format"]
        .as_str()
        .expect("format")
        .parse()
        .expect("a format");
    let block = u64_of(&case["block"]) as usize;
    let what = format!("{name}, {format} (block {block})");
    let got = quantize(format, block, xs);
    if let Some(err) = case["error"].as_object() {
        assert_eq!(err["kind"], "scale_overflow", "{what}");
        let want = u64_of(&err["block"]) as usize;
        match got {
            Err(Error::ScaleOverflow {
                format: f,
                block: b,
                limit,
                ..
            }) => {
                assert_eq!((f, b, limit), (format.name(), want, 65504.0), "{what}");
            }
            other => panic!("{what}: the reference overflows fp16 at block {want}, got {other:?}"),
        }
        return 0;
    }
    let q = got.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(q.codes.len(), xs.len(), "{what}");
    assert_eq!(q.dequantized.len(), xs.len(), "{what}");
    assert_eq!(q.block, block, "{what}");
    // The first values, spelt out: the first difference is named before any hash is compared.
    for (i, (c, y)) in case["codes_head"]
        .as_array()
        .expect("codes_head")
        .iter()
        .zip(case["deq_head"].as_array().expect("deq_head"))
        .enumerate()
    {
        let (c, y) = (c.as_i64().expect("code"), f32_of(y));
        assert_eq!(
            (i64::from(q.codes[i]), q.dequantized[i].to_bits()),
            (c, y.to_bits()),
            "{what}: value {i} ({}): code {} and {} where the reference has code {c} and {}",
            xs[i],
            q.codes[i],
            bits(q.dequantized[i]),
            bits(y)
        );
    }
    let scales: Vec<BlockScale> = case["scales"]
        .as_array()
        .expect("scales")
        .iter()
        .map(|j| scale_of(format, j))
        .collect();
    assert_eq!(q.scales.len(), scales.len(), "{what}: number of scales");
    for (b, (got, want)) in q.scales.iter().zip(&scales).enumerate() {
        // AbsMax and Tensor hold floats: equal as floats and in their bits.
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "{what}: block {b}'s scale"
        );
    }
    assert_eq!(
        codes_hash(&q),
        case["codes_hash"],
        "{what}: the codes differ"
    );
    assert_eq!(
        deq_hash(&q),
        case["deq_hash"],
        "{what}: the dequantized values differ"
    );
    assert_eq!(
        q.saturated as u64,
        u64_of(&case["saturated"]),
        "{what}: saturated"
    );
    xs.len()
}

#[test]
fn every_format_matches_its_reference_bit_for_bit() {
    let exp = expected();
    let mut cases = 0;
    let mut values = 0;
    let mut errors = 0;
    for ds in exp["datasets"].as_array().expect("datasets") {
        let name = ds["name"].as_str().expect("name");
        let file = fixtures().join(ds["file"].as_str().expect("file"));
        // The .npy files are float32: read as float64 and back, exactly.
        let xs = to_f32(&load_file(&file).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert_eq!(xs.len() as u64, u64_of(&ds["n"]), "{name}");
        for case in ds["cases"].as_array().expect("cases") {
            let n = check_case(name, &xs, case);
            cases += 1;
            values += n;
            errors += usize::from(n == 0);
        }
    }
    // Every format is in the fixtures, with several block sizes for NF4.
    assert!(cases >= 130, "{cases} cases");
    assert!(errors >= 6, "{errors} overflow cases");
    eprintln!("{cases} cases, {values} values bit for bit, {errors} overflow errors");
}

// ---- By hand ----------------------------------------------------------------------------------

/// A block of `len` values: `first`, then zeros.
fn block(first: &[f32], len: usize) -> Vec<f32> {
    let mut x = first.to_vec();
    x.resize(len, 0.0);
    x
}

fn q(format: Format, xs: &[f32]) -> Quantized {
    let block = format.block(None).expect("default block");
    quantize(format, block, xs).expect("quantizes")
}

#[test]
fn q4_0_block_whose_largest_magnitude_is_negative() {
    // m = -3 (it comes before 3): d = -3/-8 = 0.375 (fp16 0x3600), id = 1/0.375.
    // 0.5·id + 8.5 = 9.83 -> 9; -3·id + 8.5 = 0.5 -> 0; 3·id + 8.5 = 16.5 -> 16 -> 15;
    // 2·id + 8.5 = 13.83 -> 13; 0 -> 8.
    let r = q(Format::Q4_0, &block(&[0.5, -3.0, 3.0, 2.0], 32));
    assert_eq!(r.scales, vec![BlockScale::Fp16 { d: 0x3600 }]);
    assert_eq!(&r.codes[..5], &[9, 0, 15, 13, 8]);
    assert_eq!(&r.dequantized[..5], &[0.375, -3.0, 2.625, 1.875, 0.0]);
    // With the positive one first, m = 3 and d = -0.375: the codes mirror.
    let r = q(Format::Q4_0, &block(&[0.5, 3.0, -3.0], 32));
    assert_eq!(r.scales, vec![BlockScale::Fp16 { d: 0xB600 }]);
    assert_eq!(&r.codes[..3], &[7, 0, 15]);
    assert_eq!(&r.dequantized[..3], &[0.375, 3.0, -2.625]);
}

#[test]
fn q8_0_value_at_exactly_one_half() {
    // max 127: d = 1, id = 1, so 2.5, -2.5 and 0.5 are exact ties: roundf goes away from zero
    // (round half to even would give 2, -2 and 0).
    let r = q(
        Format::Q8_0,
        &block(&[127.0, 2.5, -2.5, 0.5, -0.5, 126.5], 32),
    );
    assert_eq!(r.scales, vec![BlockScale::Fp16 { d: 0x3C00 }]);
    assert_eq!(&r.codes[..6], &[127, 3, -3, 1, -1, 127]);
    assert_eq!(&r.dequantized[..6], &[127.0, 3.0, -3.0, 1.0, -1.0, 127.0]);
}

#[test]
fn nf4_value_exactly_between_two_codes() {
    // 0.20352125 is the exact midpoint of NF4[9] = 0.16093020 and NF4[10] = 0.24611230, and
    // their float32 distances to it are equal: torch's argmin takes the lower index, 9.
    let s = 0.203_521_25_f32;
    let (c9, c10) = (0.160_930_2_f32, 0.246_112_3_f32);
    assert_eq!((s - c9).abs(), (s - c10).abs());
    let r = quantize(Format::Nf4, 64, &block(&[1.0, s, -s], 64)).unwrap();
    assert_eq!(r.scales, vec![BlockScale::AbsMax { absmax: 1.0 }]);
    assert_eq!(&r.codes[..4], &[15, 9, 5, 7]);
    assert_eq!(r.dequantized[1], c9);
    // -s lies between NF4[4] = -0.28444138 and NF4[5] = -0.18477343, nearer the latter.
    assert_eq!(r.dequantized[2], -0.184_773_43);
}

#[test]
fn fp8_e4m3_464_480_and_1e6() {
    // Scale 1 (amax 448): 432 is halfway between 416 and 448 and rounds to even, 448.
    let r = q(Format::Fp8E4m3, &[448.0, 432.0, 431.9, -440.0, 0.0]);
    assert_eq!(r.scales, vec![BlockScale::Tensor { scale: 1.0 }]);
    assert_eq!(r.codes, vec![0x7E, 0x7E, 0x7D, 0xFE, 0]);
    assert_eq!(r.saturated, 3);
    // 464, 480 and 1e6 in one tensor: the scale is 448/1e6 (float64, then float32), so 1e6
    // meets 448 and only it saturates; 464·scale = 0.2079 rounds to 1.625·2^-3 (0x25) and
    // 480·scale = 0.2150 to 1.75·2^-3 (0x26).
    let r = q(Format::Fp8E4m3, &[464.0, 480.0, 1e6, -1e6]);
    let scale = (448.0f64 / 1e6) as f32;
    assert_eq!(r.scales, vec![BlockScale::Tensor { scale }]);
    assert_eq!(r.codes, vec![0x25, 0x26, 0x7E, 0xFE]);
    assert_eq!(r.saturated, 2);
    assert_eq!(r.dequantized[2], 448.0 / scale);
    assert_eq!(r.dequantized[0], 0.203_125 / scale);
    // In E5M2 the same tensor keeps more range, less precision: 57344 is the top.
    let r = q(Format::Fp8E5m2, &[464.0, 1e6]);
    assert_eq!(r.codes[1], 0x7B);
}

#[test]
fn mxfp4_value_at_three_quarters_of_the_scale() {
    // max 6: e = floor(log2 6) - 2 + 127 = 127, X = 1. 0.75 is halfway between the elements
    // 0.5 (code 1) and 1 (code 2): the first minimum, code 1. Scaled by 2^-20 the same holds.
    for k in [0, -20, 30] {
        let x = 2f32.powi(k);
        let r = q(
            Format::Mxfp4,
            &block(&[6.0 * x, 0.75 * x, -0.75 * x, 5.0 * x], 32),
        );
        assert_eq!(r.scales, vec![BlockScale::E8m0 { e: (127 + k) as u8 }]);
        assert_eq!(&r.codes[..4], &[7, 1, 9, 6]);
        assert_eq!(&r.dequantized[..4], &[6.0 * x, 0.5 * x, -0.5 * x, 4.0 * x]);
    }
}

#[test]
fn overflow_names_the_block_and_fp16s_limit() {
    let mut x = vec![0.5f32; 64];
    x[40] = 1e7;
    let e = quantize(Format::Q4_0, 32, &x).unwrap_err();
    assert_eq!(
        e,
        Error::ScaleOverflow {
            format: "q4_0",
            block: 1,
            scale: f64::from(1e7f32 / -8.0),
            limit: 65504.0
        }
    );
    assert!(e.to_string().contains("block 1"), "{e}");
    // The formats that do not store fp16 take the same data.
    for f in [Format::Mxfp4, Format::Nvfp4, Format::Nf4, Format::Fp8E4m3] {
        assert!(quantize(f, f.block(None).unwrap(), &x).is_ok(), "{f}");
    }
}

// ---- Large data, in parts on threads ----------------------------------------------------------

/// Deterministic values of varied magnitudes (a linear congruential generator).
fn varied(n: usize) -> Vec<f32> {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            // A different magnitude every 64 values: 1e-3 to 1e3.
            u * 10f32.powi((i / 64 % 7) as i32 - 3)
        })
        .collect()
}

#[test]
fn large_data_gives_what_its_pieces_give() {
    // Over 2^19 values, which run in parts on threads where the machine has several cores;
    // pieces of 2^16 values run as one part each. Blocks are independent: the results match.
    let n = (1 << 19) + 4096 + 64 * 3;
    let xs = varied(n);
    let piece = 1 << 16;
    for f in [
        Format::Q4_0,
        Format::Q4_1,
        Format::Q8_0,
        Format::Mxfp4,
        Format::Nvfp4,
        Format::Nf4,
    ] {
        let block = f.block(None).unwrap();
        let whole = quantize(f, block, &xs).unwrap();
        let mut codes = Vec::new();
        let mut deq = Vec::new();
        let mut scales = Vec::new();
        let mut saturated = 0;
        for p in xs.chunks(piece) {
            let q = quantize(f, block, p).unwrap();
            codes.extend(q.codes);
            deq.extend(q.dequantized.iter().map(|y| y.to_bits()));
            scales.extend(q.scales);
            saturated += q.saturated;
        }
        assert!(whole.codes == codes, "{f}: codes");
        let whole_deq: Vec<u32> = whole.dequantized.iter().map(|y| y.to_bits()).collect();
        assert!(whole_deq == deq, "{f}: dequantized");
        assert!(whole.scales == scales, "{f}: scales");
        assert_eq!(whole.saturated, saturated, "{f}: saturated");
    }
    // FP8's one scale comes from the whole tensor: each piece gets the tensor's largest value
    // in front, so that its scale is the same.
    let (i, _) = xs.iter().enumerate().fold((0, 0f32), |(bi, bm), (i, v)| {
        if v.abs() > bm {
            (i, v.abs())
        } else {
            (bi, bm)
        }
    });
    for f in [Format::Fp8E4m3, Format::Fp8E5m2] {
        let whole = quantize(f, n, &xs).unwrap();
        let mut deq = Vec::new();
        let mut codes = Vec::new();
        for p in xs.chunks(piece) {
            let with_max: Vec<f32> = std::iter::once(xs[i]).chain(p.iter().copied()).collect();
            let q = quantize(f, with_max.len(), &with_max).unwrap();
            assert_eq!(q.scales, whole.scales, "{f}");
            codes.extend_from_slice(&q.codes[1..]);
            deq.extend(q.dequantized[1..].iter().map(|y| y.to_bits()));
        }
        assert!(whole.codes == codes, "{f}: codes");
        let whole_deq: Vec<u32> = whole.dequantized.iter().map(|y| y.to_bits()).collect();
        assert!(whole_deq == deq, "{f}: dequantized");
    }
    // The first overflowing block is the error, wherever the parts are cut.
    let mut big = xs.clone();
    big[n - 100] = 1e9;
    big[300_000] = 1e9;
    let e = quantize(Format::Q8_0, 32, &big).unwrap_err();
    assert!(
        matches!(e, Error::ScaleOverflow { block, .. } if block == 300_000 / 32),
        "{e:?}"
    );
}

// ---- Any finite input -------------------------------------------------------------------------

/// A finite float32 of any magnitude: subnormal to the largest, zeros of both signs, halves.
fn finite() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => (-1.0f32..1.0, -45i32..=38).prop_map(|(m, e)| (f64::from(m) * 10f64.powi(e)) as f32),
        2 => any::<f32>().prop_filter("finite", |x| x.is_finite()),
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => (-300i32..300).prop_map(|k| k as f32 * 0.5),
    ]
}

/// 1 to 4 blocks of 64 (a multiple of every block but NF4's larger ones), each of one
/// magnitude or of mixed ones.
fn blocks() -> impl Strategy<Value = Vec<f32>> {
    let one = prop_oneof![
        (vec(-1.0f32..1.0, 64), -45i32..=38).prop_map(|(v, e)| {
            let m = 10f64.powi(e);
            v.into_iter()
                .map(|x| (f64::from(x) * m) as f32)
                .collect::<Vec<_>>()
        }),
        vec(finite(), 64),
        finite().prop_map(|c| vec![c; 64]),
    ];
    vec(one, 1..=4).prop_map(|bs| bs.concat())
}

fn check_any(format: Format, block: usize, xs: &[f32]) -> std::result::Result<(), TestCaseError> {
    match quantize(format, block, xs) {
        Ok(r) => {
            prop_assert_eq!(r.codes.len(), xs.len());
            prop_assert_eq!(r.dequantized.len(), xs.len());
            for (i, (&c, &y)) in r.codes.iter().zip(&r.dequantized).enumerate() {
                prop_assert!(y.is_finite(), "{} value {} ({}): {}", format, i, xs[i], y);
                let ok = match format {
                    Format::Q8_0 => (-127..=127).contains(&c),
                    Format::Fp8E4m3 | Format::Fp8E5m2 => (0..=255).contains(&c),
                    _ => (0..=15).contains(&c),
                };
                prop_assert!(ok, "{} code {} at {}", format, c, i);
            }
            prop_assert!(r.saturated <= xs.len());
        }
        // Only the fp16-scaled formats refuse finite data, for an fp16 overflow.
        Err(Error::ScaleOverflow { format: f, .. }) => {
            prop_assert!(["q4_0", "q4_1", "q8_0"].contains(&f), "{}", f);
        }
        Err(e) => prop_assert!(false, "{}: {}", format, e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_finite_input_quantizes_or_names_an_overflow(xs in blocks()) {
        for f in [Format::Q4_0, Format::Q4_1, Format::Q8_0, Format::Mxfp4, Format::Nvfp4,
                  Format::Nf4, Format::Fp8E4m3, Format::Fp8E5m2] {
            check_any(f, f.block(None).unwrap(), &xs)?;
        }
    }

    #[test]
    fn nf4_any_length_and_block(xs in vec(finite(), 1..300), shift in 5u32..=12) {
        check_any(Format::Nf4, 1 << shift, &xs)?;
        check_any(Format::Fp8E4m3, xs.len(), &xs)?;
    }
}
