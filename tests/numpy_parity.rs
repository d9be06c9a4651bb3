#![cfg(not(target_arch = "wasm32"))]
//! Parity with numpy: the seed notebook's own functions, run by numpy on fixed data sets
//! (`tests/fixtures/make_fixtures.py` wrote the `.npy` files and `expected.json`), against
//! quantviz on the same files.
//!
//! Everything is compared bit for bit: the clip range (min/max or numpy's linear percentile),
//! scale, zero point, every code (or all codes' hash and the first 50), every dequantized value
//! (by hash), the MSE (numpy's pairwise summation) and the MSE without the last value (the
//! notebook's "excluding the outlier"), and the number of exact ties `x / scale + zero = k + 0.5`
//! (where rounding half to even decides the code).

use quantviz::data::load::load_file;
use quantviz::quant::calibrate::{self, percentile, percentile_pair, DataStats};
use quantviz::settings::{Calibration, QuantSettings, Scheme, ZeroPoint};
use std::path::{Path, PathBuf};

// ---- Reading the fixtures' JSON ----------------------------------------------------------------

/// The fixtures' JSON, read by serde_json with `float_roundtrip` (correctly rounded: Python's
/// repr is the shortest text that reads back to the same float64, so the bits come back exactly).
type Json = serde_json::Value;

/// Typed access that names what is missing or mistyped.
trait Field {
    fn at(&self, key: &str) -> &Json;
    fn f64(&self) -> f64;
    fn i64(&self) -> i64;
    fn str(&self) -> &str;
    fn arr(&self) -> &[Json];
}

impl Field for Json {
    fn at(&self, key: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("JSON: no field '{key}'"))
    }

    fn f64(&self) -> f64 {
        self.as_f64()
            .unwrap_or_else(|| panic!("JSON: not a number: {self}"))
    }

    fn i64(&self) -> i64 {
        self.as_i64()
            .unwrap_or_else(|| panic!("JSON: not an integer: {self}"))
    }

    fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("JSON: not a string: {self}"))
    }

    fn arr(&self) -> &[Json] {
        self.as_array()
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("JSON: not an array: {self}"))
    }
}

// ---- Helpers ----------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Json {
    let text = std::fs::read_to_string(fixtures().join("expected.json"))
        .expect("tests/fixtures/expected.json (run tests/fixtures/make_fixtures.py)");
    serde_json::from_str(&text).expect("tests/fixtures/expected.json is JSON")
}

/// FNV-1a 64, as the fixture script hashes codes and dequantized values.
fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    format!("{h:016x}")
}

/// Records a mismatch when two floats differ in any bit (so -0.0 and 0.0 differ too).
fn same_bits(errors: &mut Vec<String>, what: &str, got: f64, want: f64) {
    if got.to_bits() != want.to_bits() {
        let rel = ((got - want) / want).abs();
        errors.push(format!(
            "{what}: quantviz {got:?} ({:#018x}), numpy {want:?} ({:#018x}), relative {rel:e}",
            got.to_bits(),
            want.to_bits()
        ));
    }
}

fn scheme_of(s: &str) -> Scheme {
    match s {
        "asymmetric" => Scheme::Asymmetric,
        "symmetric" => Scheme::Symmetric,
        other => panic!("unknown scheme {other}"),
    }
}

fn settings_of(case: &Json) -> QuantSettings {
    let calibration = match case.at("calibration").str() {
        "minmax" => Calibration::MinMax,
        "percentile" => Calibration::Percentile(case.at("p").f64()),
        other => panic!("unknown calibration {other}"),
    };
    QuantSettings {
        bits: case.at("bits").i64() as u32,
        scheme: scheme_of(case.at("scheme").str()),
        calibration,
        zero_point: ZeroPoint::Raw,
    }
}

fn load(ds: &Json) -> Vec<f64> {
    let xs = load_file(&fixtures().join(ds.at("file").str())).unwrap();
    assert_eq!(xs.len() as i64, ds.at("n").i64(), "{}", ds.at("name").str());
    xs
}

fn check_all(errors: &[String]) {
    if !errors.is_empty() {
        let shown: Vec<&str> = errors.iter().take(40).map(|s| s.as_str()).collect();
        panic!(
            "{} mismatches with numpy {}:\n{}",
            errors.len(),
            expected().at("numpy").str(),
            shown.join("\n")
        );
    }
}

// ---- Tests ------------------------------------------------------------------------------------

#[test]
fn fixtures_cover_what_they_claim() {
    let doc = expected();
    assert!(doc
        .at("numpy")
        .str()
        .starts_with(|c: char| c.is_ascii_digit()));
    assert_eq!(doc.at("hash").str(), "fnv1a64");
    let sets = doc.at("datasets").arr();
    assert!(sets.len() >= 8);
    let mut cases = 0;
    let mut ties = 0;
    for ds in sets {
        cases += ds.at("cases").arr().len();
        ties += ds
            .at("cases")
            .arr()
            .iter()
            .map(|c| c.at("ties").i64())
            .sum::<i64>();
        // Every data set loads, float32 ones widened.
        load(ds);
    }
    assert!(cases >= 8 * 40, "{cases} cases");
    assert!(
        ties > 1000,
        "the tie data sets must exercise rounding half to even: {ties} ties"
    );
}

#[test]
fn percentiles_are_numpys_bit_for_bit() {
    let mut errors = Vec::new();
    for ds in expected().at("datasets").arr() {
        let name = ds.at("name").str();
        let xs = load(ds);
        let abs: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
        for pc in ds.at("percentiles").arr() {
            let p = pc.at("p").f64();
            let (hi, lo, pabs) = (pc.at("hi").f64(), pc.at("lo").f64(), pc.at("abs").f64());
            same_bits(
                &mut errors,
                &format!("{name} percentile({p})"),
                percentile(&xs, p),
                hi,
            );
            same_bits(
                &mut errors,
                &format!("{name} percentile({})", 100.0 - p),
                percentile(&xs, 100.0 - p),
                lo,
            );
            let (plo, phi) = percentile_pair(&xs, p);
            same_bits(&mut errors, &format!("{name} pair({p}).hi"), phi, hi);
            same_bits(&mut errors, &format!("{name} pair({p}).lo"), plo, lo);
            same_bits(
                &mut errors,
                &format!("{name} percentile(|x|, {p})"),
                percentile(&abs, p),
                pabs,
            );
        }
    }
    check_all(&errors);
}

#[test]
fn quantization_is_the_notebooks_bit_for_bit() {
    let mut errors = Vec::new();
    let mut checked = 0;
    let mut naive_differs = 0;
    for ds in expected().at("datasets").arr() {
        let name = ds.at("name").str();
        let xs = load(ds);
        let stats = DataStats::of(&xs).unwrap();
        let mut keep = vec![true; xs.len()];
        *keep.last_mut().unwrap() = false;
        for case in ds.at("cases").arr() {
            let s = settings_of(case);
            let label = format!("{name} {:?} {:?} {} bits", s.scheme, s.calibration, s.bits);
            let errs = &mut errors;

            // The clip range.
            let (lo, hi) = calibrate::clip_range(&xs, &stats, &s).unwrap();
            same_bits(errs, &format!("{label}: alpha"), hi, case.at("alpha").f64());
            match s.scheme {
                Scheme::Asymmetric => {
                    same_bits(errs, &format!("{label}: beta"), lo, case.at("beta").f64())
                }
                Scheme::Symmetric => same_bits(errs, &format!("{label}: -alpha"), lo, -hi),
            }

            // Scale and zero point.
            let p = calibrate::calibrate(&xs, &stats, &s).unwrap();
            same_bits(
                errs,
                &format!("{label}: scale"),
                p.scale,
                case.at("scale").f64(),
            );
            let zero = match s.scheme {
                Scheme::Asymmetric => {
                    let zero = case.at("zero").f64();
                    same_bits(errs, &format!("{label}: zero"), p.zero_point, zero);
                    zero
                }
                Scheme::Symmetric => {
                    if p.zero_point != 0.0 {
                        errs.push(format!("{label}: symmetric zero point {}", p.zero_point));
                    }
                    0.0
                }
            };
            let (qmin, qmax) = s.code_range();
            if (p.qmin, p.qmax) != (qmin, qmax) {
                errs.push(format!("{label}: code range {:?}", (p.qmin, p.qmax)));
            }

            // Ties: the same values sit exactly halfway between two codes.
            let ties = xs
                .iter()
                .filter(|&&x| {
                    let r = x / p.scale + zero;
                    r - r.floor() == 0.5
                })
                .count() as i64;
            if ties != case.at("ties").i64() {
                errs.push(format!(
                    "{label}: {ties} ties, numpy {}",
                    case.at("ties").i64()
                ));
            }

            // Codes.
            let codes = p.quantize(&xs);
            let hash = fnv1a64(codes.iter().flat_map(|c| c.to_le_bytes()));
            if hash != case.at("codes_hash").str() {
                errs.push(format!(
                    "{label}: codes hash {hash}, numpy {}",
                    case.at("codes_hash").str()
                ));
            }
            let want: Vec<i64> = match case.get("codes") {
                Some(all) => all.arr().iter().map(Json::i64).collect(),
                None => case.at("codes_head").arr().iter().map(Json::i64).collect(),
            };
            if case.get("codes").is_some() && want.len() != codes.len() {
                errs.push(format!(
                    "{label}: {} codes, numpy {}",
                    codes.len(),
                    want.len()
                ));
            }
            if let Some(i) = want.iter().zip(&codes).position(|(&w, &c)| w != c as i64) {
                errs.push(format!(
                    "{label}: code {i} of x = {:?} is {}, numpy {}",
                    xs[i], codes[i], want[i]
                ));
            }

            // Dequantized values, every bit.
            let deq = p.dequantize(&codes);
            let hash = fnv1a64(deq.iter().flat_map(|d| d.to_le_bytes()));
            if hash != case.at("deq_hash").str() {
                errs.push(format!(
                    "{label}: dequantized hash {hash}, numpy {}",
                    case.at("deq_hash").str()
                ));
            }

            // The error: fused and masked paths against np.mean.
            let e = p.error_stats(&xs);
            let mse = case.at("mse").f64();
            same_bits(errs, &format!("{label}: mse"), e.mse(), mse);
            // A left-to-right sum would not do: count where it misses numpy's bits.
            let naive = xs
                .iter()
                .zip(&deq)
                .fold(0.0, |acc, (x, d)| acc + (x - d) * (x - d))
                / xs.len() as f64;
            naive_differs += (naive.to_bits() != mse.to_bits()) as usize;
            if let Some(m) = case.get("mse_excl_last") {
                let e = p.error_stats_masked(&xs, &keep);
                same_bits(
                    errs,
                    &format!("{label}: mse excluding the last"),
                    e.mse(),
                    m.f64(),
                );
            }
            checked += 1;
        }
    }
    check_all(&errors);
    assert!(checked >= 320, "{checked} cases");
    // The MSE checks have teeth: numpy's pairwise order is what makes them pass.
    assert!(
        naive_differs > checked / 4,
        "a naive sum misses numpy's MSE in only {naive_differs} of {checked} cases"
    );
}
