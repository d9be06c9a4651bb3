#![cfg(not(target_arch = "wasm32"))]
//! ggml's K-quants (Q2_K ... Q6_K), bit for bit.
//!
//! - Every fixture of tests/fixtures/kquants (written by scripts/make_kquant_fixtures.py from
//!   ggml's own `quantize_row_qN_K_ref` and `dequantize_row_qN_K`): the packed blocks of both
//!   the line-for-line port (`kquants::reference`) and the fast version equal ggml's bytes, and
//!   their dequantized values ggml's; where ggml's arithmetic breaks, both give an error naming
//!   the same super-block, and the blocks before it are ggml's.
//! - The fast version equals the port on random data (proptest): bytes, codes, dequantized
//!   values, scales, errors.
//! - No finite input panics.
//! - `speed_fast_vs_reference` (ignored; run with `--release -- --ignored --nocapture`) times
//!   both on 16,777,216 values.

use proptest::prelude::*;
use quantviz::error::Error;
use quantviz::quant::formats::kquants::{self, reference, KQuant, QK_K};
use quantviz::quant::formats::{quantize, BlockScale, Format, Quantized};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kquants")
}

fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn read_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// The generated case of the fixture script, computed the same way in float32.
fn generated(seed: u64, n: usize) -> Vec<f32> {
    let two24 = 2.0f32.powi(-24);
    (0..n)
        .map(|i| {
            let u = splitmix64(seed.wrapping_add(i as u64));
            if u & 31 == 0 {
                return 0.0;
            }
            let a = (u >> 40) as f32 * two24;
            let b = ((u >> 16) & 0xFFFFFF) as f32 * two24;
            let v = (a - 0.5) + (b - 0.5);
            let blk = splitmix64((seed ^ 0xABCDEF).wrapping_add((i / QK_K) as u64));
            let e = (blk % 40) as i32 - 30;
            v * 2.0f32.powi(e)
        })
        .collect()
}

fn kind_of(name: &str) -> KQuant {
    KQuant::ALL.into_iter().find(|k| k.name() == name).unwrap()
}

/// The super-block an error names.
fn error_block(e: &Error) -> usize {
    match e {
        Error::ScaleOverflow { block, .. } => *block,
        Error::Setting {
            name: "data",
            given,
            ..
        } => {
            let rest = given.strip_prefix("super-block ").unwrap();
            rest.split(' ').next().unwrap().parse().unwrap()
        }
        other => panic!("not a block's error: {other:?}"),
    }
}

struct Case {
    name: String,
    xs: Vec<f32>,
    formats: Vec<(KQuant, Value)>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["hash"], "fnv1a64");
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let xs = match c["input"].as_str() {
                Some(file) => read_f32(file),
                None => {
                    let g = &c["generator"];
                    assert_eq!(g["kind"], "splitmix");
                    generated(
                        g["seed"].as_u64().unwrap(),
                        g["n"].as_u64().unwrap() as usize,
                    )
                }
            };
            assert_eq!(xs.len() as u64, c["n"].as_u64().unwrap());
            let formats = c["formats"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (kind_of(k), v.clone()))
                .collect();
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                xs,
                formats,
            }
        })
        .collect()
}

/// Checks packed `bytes` and their dequantization against one fixture entry.
fn check_bytes(what: &str, kind: KQuant, want: &Value, bytes: &[u8]) -> usize {
    let name = kind.name();
    if let Some(file) = want["blocks"].as_str() {
        let ggml = std::fs::read(dir().join(file)).unwrap();
        assert_eq!(ggml.len(), bytes.len(), "{what} {name}: length");
        if let Some(i) = (0..ggml.len()).find(|&i| ggml[i] != bytes[i]) {
            panic!(
                "{what} {name}: byte {i} (super-block {}) is {} where ggml has {}",
                i / kind.block_bytes(),
                bytes[i],
                ggml[i]
            );
        }
    }
    assert_eq!(
        fnv1a64(bytes),
        want["blocks_hash"],
        "{what} {name}: blocks hash"
    );
    let head = want["blocks_head"].as_str().unwrap();
    let ours: String = bytes
        .iter()
        .take(head.len() / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(ours, head, "{what} {name}: first bytes");
    // Dequantized from the bytes, as ggml's dequantize_row_qN_K.
    let deq = reference::dequantize_row(kind, bytes);
    assert_eq!(
        fnv1a64(&f32_bytes(&deq)),
        want["deq_hash"],
        "{what} {name}: dequantized hash"
    );
    for (i, v) in want["deq_head"].as_array().unwrap().iter().enumerate() {
        let v: f64 = v.as_str().unwrap().parse().unwrap();
        assert_eq!(
            deq[i].to_bits(),
            (v as f32).to_bits(),
            "{what} {name}: value {i}"
        );
    }
    bytes.len() / kind.block_bytes()
}

#[test]
fn fixtures_match_ggml_bytes_and_values() {
    let mut checked = 0;
    let mut errors = 0;
    for case in cases() {
        for (kind, want) in &case.formats {
            let what = case.name.as_str();
            let err = want["error_block"].as_u64().map(|b| b as usize);
            let ours_ref = reference::quantize_row(*kind, &case.xs);
            let ours_fast = kind.quantize_row(&case.xs);
            match err {
                None => {
                    let r = ours_ref.unwrap_or_else(|e| panic!("{what} {kind:?}: {e}"));
                    let f = ours_fast.unwrap_or_else(|e| panic!("{what} {kind:?}: {e}"));
                    checked += check_bytes(what, *kind, want, &r);
                    check_bytes(what, *kind, want, &f);
                    let p = kind.quantize_portable(&case.xs).unwrap();
                    check_bytes(what, *kind, want, &p.1);
                    // The whole result of the fast version: its dequantized values are ggml's.
                    let q = kind.quantize(&case.xs).unwrap();
                    let deq = reference::dequantize_row(*kind, &f);
                    assert!(
                        q.dequantized
                            .iter()
                            .zip(&deq)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what} {kind:?}: dequantized"
                    );
                }
                Some(b) => {
                    let er = ours_ref.expect_err("the reference port should refuse the block");
                    let ef = ours_fast.expect_err("the fast version should refuse the block");
                    assert_eq!(error_block(&er), b, "{what} {kind:?}: {er}");
                    assert_eq!(er, ef, "{what} {kind:?}");
                    assert_eq!(
                        Err(er.clone()),
                        kind.quantize_portable(&case.xs).map(|_| ())
                    );
                    if want["error_kind"] == "fp16" {
                        assert!(matches!(er, Error::ScaleOverflow { .. }), "{er}");
                    }
                    // The blocks before it are ggml's.
                    let prefix = &case.xs[..b * QK_K];
                    if b > 0 {
                        let r = reference::quantize_row(*kind, prefix).unwrap();
                        let f = kind.quantize_row(prefix).unwrap();
                        checked += check_bytes(what, *kind, want, &r);
                        check_bytes(what, *kind, want, &f);
                    }
                    errors += 1;
                }
            }
        }
    }
    // A guard against a fixture set that silently shrank.
    assert!(checked > 5000, "only {checked} super-blocks compared");
    assert!(errors >= 13, "only {errors} error cases");
}

#[test]
fn entry_point_and_scales() {
    let xs = read_f32("normal.f32");
    for (format, kind) in [
        (Format::Q2_K, KQuant::Q2K),
        (Format::Q3_K, KQuant::Q3K),
        (Format::Q4_K, KQuant::Q4K),
        (Format::Q5_K, KQuant::Q5K),
        (Format::Q6_K, KQuant::Q6K),
    ] {
        let q = quantize(format, 256, &xs).unwrap();
        let r = reference::quantize(kind, &xs).unwrap();
        assert_eq!(q, r, "{format}");
        assert_eq!(q.block, 256);
        assert_eq!(q.saturated, 0);
        assert_eq!(q.scales.len(), xs.len() / 256);
        let (subs, has_min, max_code) = match kind {
            KQuant::Q2K => (16, true, 3),
            KQuant::Q3K => (16, false, 7),
            KQuant::Q4K => (8, true, 15),
            KQuant::Q5K => (8, true, 31),
            KQuant::Q6K => (16, false, 63),
        };
        assert!(q.codes.iter().all(|&c| (0..=max_code).contains(&c)));
        for s in &q.scales {
            let BlockScale::KQuant {
                scales, mins, dmin, ..
            } = s
            else {
                panic!("not a K-quant scale")
            };
            assert_eq!(scales.len(), subs);
            assert_eq!(mins.len(), if has_min { subs } else { 0 });
            if !has_min {
                assert_eq!(*dmin, 0);
            }
        }
        // The codes and scales reproduce the dequantized values through the stored bytes.
        let bytes = kind.quantize_row(&xs).unwrap();
        let mut codes = vec![0; 256];
        for (i, blk) in bytes.chunks_exact(kind.block_bytes()).enumerate() {
            let s = kquants::unpack_block(kind, blk, &mut codes);
            assert_eq!(s, q.scales[i]);
            assert_eq!(codes[..], q.codes[256 * i..256 * (i + 1)]);
        }
    }
    // Counts that are not whole super-blocks are refused before any work.
    assert!(matches!(
        quantize(Format::Q4_K, 256, &xs[..300]),
        Err(Error::BlockCount { .. })
    ));
    assert!(kquants::q4_k(&xs[..300]).is_err());
}

#[test]
fn ggml_example_values_by_hand() {
    // One sub-block spanning [0, 15] in steps of 1, the rest 0: Q4_K's search keeps the
    // first guess, scale 1 and min 0; the stored scale is fp16(1/63) times 63, so the values
    // come back within fp16's rounding of themselves.
    let mut xs = vec![0.0f32; 256];
    for (i, x) in xs.iter_mut().take(32).enumerate() {
        *x = (i % 16) as f32;
    }
    let q = kquants::q4_k(&xs).unwrap();
    assert_eq!(&q.codes[..16], &(0..16).collect::<Vec<i32>>()[..]);
    for (a, b) in q.dequantized.iter().zip(&xs) {
        assert!((a - b).abs() <= b * 2f32.powi(-11), "{a} {b}");
    }
    // An all-zero super-block: d = dmin = 0 everywhere, values 0.
    for kind in KQuant::ALL {
        let q = kind.quantize(&[0.0; 512]).unwrap();
        assert!(q.dequantized.iter().all(|&v| v == 0.0), "{kind:?}");
        for s in &q.scales {
            let BlockScale::KQuant { d, dmin, .. } = s else {
                panic!()
            };
            assert_eq!((*d, *dmin), (0, 0));
        }
    }
}

#[test]
fn errors_name_the_first_broken_super_block_across_threads() {
    // Enough super-blocks for several threads; the broken ones sit in different parts.
    let base: Vec<f32> = generated(99, 600 * QK_K)
        .iter()
        .map(|v| v.clamp(-1e3, 1e3))
        .collect();
    for kind in KQuant::ALL {
        let ok = kind.quantize(&base).unwrap();
        assert_eq!(ok, reference::quantize(kind, &base).unwrap(), "{kind:?}");
        for broken in [[590usize, 599], [10, 450], [301, 302]] {
            let mut xs = base.clone();
            for &b in &broken {
                for (i, x) in xs[b * QK_K..(b + 1) * QK_K].iter_mut().enumerate() {
                    *x = (i as f32 - 100.0) * 1e10;
                }
            }
            let e = kind.quantize(&xs).unwrap_err();
            assert_eq!(error_block(&e), broken[0], "{kind:?}: {e}");
            assert!(matches!(e, Error::ScaleOverflow { .. }), "{e}");
            assert_eq!(e, reference::quantize_row(kind, &xs).unwrap_err());
            let msg = e.to_string();
            assert!(msg.contains(&format!("block {}", broken[0])), "{msg}");
        }
    }
    // Magnitudes whose squares pass float32's largest: Q3_K's weighted search can then give
    // every sub-block a scale of 0 (a NaN sum is not above 0) and the super-scale 0, where the
    // values need one beyond fp16.
    for mag in [1e25f32, 1e37] {
        let mut xs = base[..4 * QK_K].to_vec();
        // Normal values (Box-Muller) times `mag`.
        for (i, x) in (0u64..).zip(&mut xs[2 * QK_K..3 * QK_K]) {
            let u1 = ((splitmix64(2 * i) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let u2 = (splitmix64(2 * i + 1) >> 11) as f64 / (1u64 << 53) as f64;
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            *x = z as f32 * mag;
        }
        for kind in KQuant::ALL {
            let e = kind.quantize(&xs).unwrap_err();
            assert!(
                matches!(e, Error::ScaleOverflow { block: 2, .. }),
                "{kind:?} {mag}: {e}"
            );
            assert_eq!(e, reference::quantize_row(kind, &xs).unwrap_err());
        }
    }
    // Float32 subnormals: the searches' inverse scales overflow in Q2_K, Q4_K and Q5_K.
    let mut xs = vec![1e-42f32; 512];
    xs[..256].fill(0.5);
    let e = kquants::q4_k(&xs).unwrap_err();
    assert_eq!(error_block(&e), 1);
    assert!(e.to_string().contains("super-block 1"), "{e}");
    // Q3_K and Q6_K see an all-zero block there.
    assert!(kquants::q6_k(&xs).is_ok());
}

// ---- Fast == reference on random data ---------------------------------------------------------

/// A value of many shapes: normal-ish values at one of many magnitudes, zeros, exact halves.
fn value(mag: i32) -> impl Strategy<Value = f32> {
    let scale = 10f32.powi(mag);
    prop_oneof![
        6 => (-1.0f32..1.0).prop_map(move |m| m * scale),
        1 => Just(0.0f32),
        1 => (-64i32..64).prop_map(|k| k as f32 * 0.5),
        1 => (-1.0f32..1.0).prop_map(move |m| m * scale * 20.0),
    ]
}

/// One super-block: each has its own magnitude (from 1e-44 to 1e25, most around 1).
fn super_block() -> impl Strategy<Value = Vec<f32>> {
    prop_oneof![
        8 => -8i32..4,
        1 => -44i32..-30,
        1 => 4i32..25,
    ]
    .prop_flat_map(|mag| proptest::collection::vec(value(mag), QK_K))
}

fn data() -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(super_block(), 1..6).prop_map(|b| b.concat())
}

fn same(a: &quantviz::Result<Quantized>, b: &quantviz::Result<Quantized>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a.codes == b.codes
                && a.scales == b.scales
                && a.dequantized.len() == b.dequantized.len()
                && a.dequantized
                    .iter()
                    .zip(&b.dequantized)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fast_equals_reference(xs in data()) {
        for kind in KQuant::ALL {
            let fast = kind.quantize(&xs);
            let slow = reference::quantize(kind, &xs);
            prop_assert!(same(&fast, &slow), "{:?}: {:?} vs {:?}", kind,
                fast.as_ref().err(), slow.as_ref().err());
            let bytes = reference::quantize_row(kind, &xs).ok();
            prop_assert_eq!(kind.quantize_row(&xs).ok(), bytes.clone());
            // The portable compilation (wasm32, CPUs without AVX2) gives the same.
            let portable = kind.quantize_portable(&xs);
            prop_assert_eq!(portable.as_ref().ok().map(|p| &p.1), bytes.as_ref());
            prop_assert!(same(&portable.map(|p| p.0), &fast));
        }
    }

    #[test]
    fn any_finite_input_is_a_result_or_a_block_error(
        xs in proptest::collection::vec(
            any::<f32>().prop_filter("finite", |x| x.is_finite()), QK_K..=QK_K)
    ) {
        for kind in KQuant::ALL {
            let fast = kind.quantize(&xs);
            let slow = reference::quantize(kind, &xs);
            prop_assert!(same(&fast, &slow), "{:?}", kind);
            if let Err(e) = fast {
                prop_assert_eq!(error_block(&e), 0);
            }
        }
    }
}

#[test]
fn fast_equals_reference_on_generated_data() {
    // Many super-blocks (the threaded path) of many magnitudes.
    let xs = generated(3, 2048 * QK_K);
    for kind in KQuant::ALL {
        let fast = kind.quantize_with_bytes(&xs).unwrap();
        let bytes = reference::quantize_row(kind, &xs).unwrap();
        assert!(fast.1 == bytes, "{kind:?}: bytes");
        let portable = kind.quantize_portable(&xs).unwrap();
        assert!(portable.1 == bytes, "{kind:?}: portable bytes");
        assert!(
            same(&Ok(portable.0), &Ok(fast.0.clone())),
            "{kind:?}: portable"
        );
        let deq = reference::dequantize_row(kind, &bytes);
        assert!(
            fast.0
                .dequantized
                .iter()
                .zip(&deq)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{kind:?}"
        );
    }
}

// ---- Speed ------------------------------------------------------------------------------------

#[test]
#[ignore = "a measurement: cargo test --release --test kquants -- --ignored --nocapture"]
fn speed_fast_vs_reference() {
    let n = 16_777_216;
    // Unit-scale values (a triangular distribution on (-1, 1)), and the generated data with
    // its per-super-block magnitudes from 2^-30 to 2^9, where the searches' sums of x^4 reach
    // float32's subnormals (slow on x86 for both versions).
    let two24 = 2.0f32.powi(-24);
    let unit: Vec<f32> = (0..n)
        .map(|i| {
            let u = splitmix64(11 + i as u64);
            ((u >> 40) as f32 * two24 - 0.5) + (((u >> 16) & 0xFFFFFF) as f32 * two24 - 0.5)
        })
        .collect();
    let wide = generated(11, n);
    println!("{n} values, {} threads", quantviz::par::threads());
    for (name, xs) in [("unit", &unit), ("wide", &wide)] {
        for kind in KQuant::ALL {
            // The best of three runs each: the machine may be shared.
            let best = |f: &dyn Fn() -> Quantized| {
                (0..3)
                    .map(|_| {
                        let t = std::time::Instant::now();
                        std::hint::black_box(f());
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::MAX, f64::min)
            };
            let t_ref = best(&|| reference::quantize(kind, xs).unwrap());
            let t_fast = best(&|| kind.quantize(xs).unwrap());
            let (fast, slow) = (kind.quantize(xs), reference::quantize(kind, xs));
            assert!(same(&fast, &slow));
            println!(
                "{name} {}: reference {:.0} ms, fast {:.0} ms, {:.1}x",
                kind.name(),
                t_ref * 1e3,
                t_fast * 1e3,
                t_ref / t_fast
            );
        }
    }
}
