#![cfg(not(target_arch = "wasm32"))]
//! KL (entropy) calibration against NVIDIA pytorch-quantization's method, on the data sets
//! `scripts/make_kl_fixtures.py` wrote to `tests/fixtures/kl/` with a numpy port of the
//! reference (numpy's histogram, the reference's loop, scipy's entropy).
//!
//! Every histogram count and every checked edge is exact, every chosen bin and threshold
//! identical. The divergences are scipy's to within 4 ulps of each value (the logarithms are the
//! pure-Rust libm's, so that the page gets the same numbers; scipy uses the C library's, which
//! may differ in the last bit), and inf and NaN exactly where scipy has them.
//! `rel_entr` itself is checked against scipy's values on its three branches.
//!
//! Then the shortcuts of the search (prefix sums, one division for `p`) against a plain port
//! that builds each candidate as the reference does, bit for bit, over random histograms; the
//! histogram against its definition; and the wiring (`kl` with symmetric, the error with
//! asymmetric, the URL and per-tensor clip range).

use proptest::prelude::*;
use quantviz::analysis::Analysis;
use quantviz::data::generate::Dataset;
use quantviz::data::load::load_file;
use quantviz::quant::calibrate::kl::{abs_histogram, entropy_search, rel_entr};
use quantviz::quant::calibrate::{self, kl_calibrate, DataStats, KL_BINS, KL_START_BIN};
use quantviz::quant::pairwise::pairwise_sum;
use quantviz::settings::{Calibration, QuantSettings, Scheme, Settings, ZeroPoint};
use std::path::{Path, PathBuf};

type Json = serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kl")
}

fn expected() -> Json {
    let text = std::fs::read_to_string(fixtures().join("expected.json"))
        .expect("tests/fixtures/kl/expected.json (run scripts/make_kl_fixtures.py)");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn number(v: &Json) -> f64 {
    match v {
        Json::String(s) if s == "inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Json::String(s) if s == "nan" => f64::NAN,
        _ => v.as_f64().expect("a number"),
    }
}

fn absmax(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Distance in ulps between two finite doubles of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[test]
fn the_references_thresholds_histograms_and_divergences() {
    let want = expected();
    let mut exact = 0usize;
    let mut all = 0usize;
    for case in want["cases"].as_array().unwrap() {
        let name = case["data"].as_str().unwrap();
        let bits = case["bits"].as_u64().unwrap() as u32;
        let unsigned = case["unsigned"].as_bool().unwrap();
        let what = format!("{name} {bits} bits unsigned={unsigned}");
        let xs = load_file(&fixtures().join(format!("{name}.npy"))).unwrap();
        let k = kl_calibrate(&xs, absmax(&xs), bits, unsigned).unwrap();

        let h = &want["histograms"][name];
        let counts: Vec<u64> = h["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert_eq!(k.histogram.counts, counts, "{what}: counts");
        assert_eq!(k.histogram.width, number(&h["width"]), "{what}: width");
        assert_eq!(k.histogram.edges[0], number(&h["first_edge"]), "{what}");
        if let Some(edges) = h["edges"].as_array() {
            for (j, e) in edges.iter().enumerate() {
                assert_eq!(
                    k.histogram.edges[j].to_bits(),
                    number(e).to_bits(),
                    "{what} edge {j}"
                );
            }
        }

        assert_eq!(
            k.best as u64,
            case["best"].as_u64().unwrap(),
            "{what}: chosen bin"
        );
        assert_eq!(
            k.histogram.edges[k.best].to_bits(),
            number(&case["edge"]).to_bits(),
            "{what}: edge"
        );
        assert_eq!(
            k.threshold.to_bits(),
            number(&case["amax"]).to_bits(),
            "{what}: amax"
        );

        let divs = case["divergences"].as_array().unwrap();
        assert_eq!(k.divergences.len(), KL_BINS - KL_START_BIN + 1);
        assert_eq!(k.divergences.len(), divs.len(), "{what}");
        for (j, (got, w)) in k.divergences.iter().zip(divs).enumerate() {
            let w = number(w);
            all += 1;
            if got.to_bits() == w.to_bits() || (got.is_nan() && w.is_nan()) {
                exact += 1;
                continue;
            }
            assert!(
                got.is_finite() && w.is_finite() && ulps(*got, w) <= 4,
                "{what}: candidate {}: {got:e} against scipy's {w:e}",
                KL_START_BIN + j
            );
        }
    }
    // Most are the same bits: a summation order gone wrong would leave few.
    assert!(exact * 10 >= all * 9, "{exact} of {all} divergences exact");
    eprintln!("{exact} of {all} divergences bit for bit");
}

#[test]
fn ranges_numpy_refuses_are_an_error() {
    for m in expected()["refused_maxima"].as_array().unwrap() {
        let m = number(m);
        let e = kl_calibrate(&[m, -m / 3.0], m, 8, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("too small") && e.contains("rescale"),
            "{m:e}: {e}"
        );
    }
    assert!(abs_histogram(&[2.5e-320], 2.5e-320).is_ok());
}

#[test]
fn rel_entr_is_scipys() {
    let want = expected();
    let mut exact = 0;
    let cases = want["rel_entr"].as_array().unwrap();
    for c in cases {
        let (x, y, r) = (number(&c[0]), number(&c[1]), number(&c[2]));
        let got = rel_entr(x, y);
        if got.to_bits() == r.to_bits() {
            exact += 1;
        } else {
            assert!(
                r.is_finite() && ulps(got, r) <= 2,
                "rel_entr({x:e}, {y:e}) = {got:e}, scipy {r:e}"
            );
        }
    }
    assert!(
        exact * 10 >= cases.len() * 9,
        "{exact} of {} exact",
        cases.len()
    );
}

/// The reference's loop for one candidate, plainly: targets by binary search in the float
/// `linspace`, totals added in float64 source by source, shared by the count of non-empty
/// sources, `p` and `q` divided by their sums in full arrays, the terms summed pairwise.
fn plain_divergence(bins: &[u64], i: usize, nq: usize) -> f64 {
    let space: Vec<f64> = (0..=nq)
        .map(|t| {
            if t == nq {
                i as f64
            } else {
                t as f64 * (i as f64 / nq as f64)
            }
        })
        .collect();
    let target: Vec<Option<usize>> = (0..i)
        .map(|j| {
            let d = space.partition_point(|&s| s <= j as f64) - 1;
            (bins[j] != 0).then_some(d)
        })
        .collect();
    let mut counts = vec![0.0f64; nq];
    let mut sources = vec![0usize; nq];
    for (j, t) in target.iter().enumerate() {
        if let Some(t) = *t {
            counts[t] += bins[j] as f64;
            sources[t] += 1;
        }
    }
    for t in 0..nq {
        if sources[t] > 0 {
            counts[t] /= sources[t] as f64;
        }
    }
    let q: Vec<f64> = target
        .iter()
        .map(|t| t.map_or(0.0, |t| counts[t]))
        .collect();
    let mut p: Vec<u64> = bins[..i].to_vec();
    p[i - 1] += bins[i..].iter().sum::<u64>();
    let p_sum = p.iter().sum::<u64>() as f64;
    let q_sum = pairwise_sum(&q);
    let terms: Vec<f64> = p
        .iter()
        .zip(&q)
        .map(|(&p, &q)| rel_entr(p as f64 / p_sum, q / q_sum))
        .collect();
    pairwise_sum(&terms)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The search's shortcuts give the plain loop's bits, for sparse and dense histograms at
    /// any width, signed or unsigned (every 7th candidate, and the first and last).
    #[test]
    fn the_search_is_the_plain_loop(
        seed in any::<u64>(),
        density in 0u32..4,
        bits in 2u32..=16,
        unsigned in any::<bool>(),
    ) {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let counts: Vec<u64> = (0..KL_BINS)
            .map(|_| match density {
                0 => u64::from(next() % 50 == 0) * (next() % 7),
                1 => next() % 3,
                2 => next() % 100_000,
                _ => (next() % 1000) * u64::from(next() % 4 != 0),
            })
            .collect();
        let (divs, best) = entropy_search(&counts, bits, unsigned).unwrap();
        let mut bins = counts.clone();
        bins[0] = bins[1];
        let nq = 1usize << (bits - 1 + u32::from(unsigned));
        for i in (KL_START_BIN..=KL_BINS).filter(|i| i % 7 == 0 || *i == KL_START_BIN || *i == KL_BINS) {
            let want = plain_divergence(&bins, i, nq);
            let got = divs[i - KL_START_BIN];
            prop_assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "candidate {}: {} against {}", i, got, want
            );
        }
        // The last least (a NaN counts as least).
        let k = best - KL_START_BIN;
        if divs.iter().any(|d| d.is_nan()) {
            prop_assert!(divs[k].is_nan() && divs[k + 1..].iter().all(|d| !d.is_nan()));
        } else {
            prop_assert!(divs.iter().all(|d| *d >= divs[k]));
            prop_assert!(divs[k + 1..].iter().all(|d| *d > divs[k]));
        }
    }

    /// Each value is counted once, in the bin whose edges hold it (the last holds its right
    /// edge), for any finite data.
    #[test]
    fn the_histogram_is_its_definition(
        xs in proptest::collection::vec(-1e6f64..1e6, 1..3000),
        scale in prop_oneof![Just(1.0), Just(1e-300), Just(1e300), Just(3.7)],
    ) {
        let xs: Vec<f64> = xs.iter().map(|x| x * scale).collect();
        let m = absmax(&xs);
        let h = abs_histogram(&xs, m).unwrap();
        prop_assert_eq!(h.counts.iter().sum::<u64>(), xs.len() as u64);
        prop_assert_eq!(h.edges[KL_BINS], if m == 0.0 { 0.5 } else { m });
        let mut want = vec![0u64; KL_BINS];
        for x in &xs {
            let v = x.abs();
            let k = (h.edges.partition_point(|&e| e <= v) - 1).min(KL_BINS - 1);
            want[k] += 1;
        }
        prop_assert_eq!(&h.counts, &want);
        let k = kl_calibrate(&xs, m, 8, false).unwrap();
        prop_assert!((KL_START_BIN..=KL_BINS).contains(&k.best));
        prop_assert_eq!(k.threshold, f64::from(h.edges[k.best] as f32));
    }
}

#[test]
fn large_data_counts_on_threads_the_same() {
    let n = 1 << 20;
    let mut s = 7u64;
    let xs: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 8.0
        })
        .collect();
    let m = absmax(&xs);
    let whole = abs_histogram(&xs, m).unwrap();
    let mut parts = vec![0u64; KL_BINS];
    for chunk in xs.chunks(1000) {
        for (a, b) in parts
            .iter_mut()
            .zip(abs_histogram(chunk, m).unwrap().counts)
        {
            *a += b;
        }
    }
    assert_eq!(whole.counts, parts);
}

fn sym_kl(bits: u32) -> QuantSettings {
    QuantSettings {
        bits,
        scheme: Scheme::Symmetric,
        calibration: Calibration::Kl,
        zero_point: ZeroPoint::Raw,
    }
}

#[test]
fn kl_is_the_symmetric_clip_range_everywhere() {
    let xs = load_file(&fixtures().join("laplace.npy")).unwrap();
    let stats = DataStats::of(&xs).unwrap();
    let want = expected();
    let case = want["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["data"] == "laplace" && c["bits"] == 4)
        .unwrap();
    let amax = number(&case["amax"]);
    // The generic per-values function (what each channel or group runs) and the analysis.
    assert_eq!(
        calibrate::clip_range(&xs, &stats, &sym_kl(4)).unwrap(),
        (-amax, amax)
    );
    let a = Analysis::new(Dataset::from_values(xs, "laplace").unwrap()).unwrap();
    assert_eq!(a.clip_range(&sym_kl(4)).unwrap(), (-amax, amax));
    let run = a.run(&sym_kl(4)).unwrap();
    assert_eq!(run.params.range_max, amax);
    assert_eq!(run.params.scale, amax / 7.0);
    // The page's data: the same threshold, the histogram and the curve.
    let k = a.kl(4).unwrap();
    assert_eq!(k.threshold, amax);
    assert_eq!(k.divergences.len(), KL_BINS - KL_START_BIN + 1);
}

#[test]
fn kl_with_asymmetric_is_an_error_that_says_what_to_use() {
    let xs = vec![1.0, -2.0, 3.0];
    let stats = DataStats::of(&xs).unwrap();
    let q = QuantSettings {
        scheme: Scheme::Asymmetric,
        ..sym_kl(8)
    };
    for e in [
        q.validate().unwrap_err(),
        calibrate::clip_range(&xs, &stats, &q).unwrap_err(),
        Settings::from_query("scheme=asymmetric&calibration=kl").unwrap_err(),
    ] {
        let m = e.to_string();
        assert!(
            m.contains("symmetric-only") && m.contains("scheme symmetric"),
            "{m}"
        );
    }
    // Alone, kl asks for the symmetric scheme; the query says so when written back.
    let s = Settings::from_query("calibration=kl&bits=4").unwrap();
    assert_eq!(s.quant, sym_kl(4));
    assert_eq!(Settings::from_query(&s.to_query()).unwrap(), s);
    assert_eq!("kl".parse::<Calibration>().unwrap(), Calibration::Kl);
    assert_eq!(Calibration::Kl.to_string(), "kl");
}

#[test]
fn degenerate_data_calibrates_without_panic() {
    for xs in [
        vec![0.0; 10],
        vec![2.5; 7],
        vec![-1e-310, 1e-310],
        vec![1e308, -1e308, 0.0],
    ] {
        let stats = DataStats::of(&xs).unwrap();
        let r = calibrate::calibrate(&xs, &stats, &sym_kl(8));
        if let Ok(p) = r {
            assert!(p.scale.is_finite(), "{xs:?}");
        }
    }
    assert!(kl_calibrate(&[], 0.0, 8, false).is_err());
    assert!(kl_calibrate(&[1.0], f64::NAN, 8, false).is_err());
    assert!(kl_calibrate(&[1.0], 1.0, 17, false).is_err());
}

/// Values on every edge and one ulp either side, for maxima that are not round numbers: the bin
/// is the one whose edges hold the value. Where the step is subnormal, numpy's own estimate
/// (which quantviz then computes as numpy does) can be off by more than the one bin its
/// correction mends, so there the check is that every value is counted once.
#[test]
fn values_on_and_beside_every_edge_take_the_edges_bin() {
    let up = |x: f64, k: i64| f64::from_bits((x.to_bits() as i64 + k).max(0) as u64);
    for m in [
        1.0,
        3.7,
        0.1 + 0.2,
        1e300,
        7.3e-305,
        1e-310,
        5e-324 * 4097.0,
        2.5e-320,
    ] {
        let mut xs = vec![m];
        let edges = abs_histogram(&[m], m).unwrap().edges;
        for &e in &edges {
            for k in -1..=1 {
                let v = up(e, k);
                if v <= m {
                    xs.push(if k == 0 { -v } else { v });
                }
            }
        }
        let h = abs_histogram(&xs, m).unwrap();
        let mut want = vec![0u64; KL_BINS];
        for x in &xs {
            let v = x.abs();
            let k = (h.edges.partition_point(|&e| e <= v) - 1).min(KL_BINS - 1);
            want[k] += 1;
        }
        if h.width >= f64::MIN_POSITIVE {
            assert_eq!(h.counts, want, "max {m:e}");
        } else {
            assert_eq!(h.counts.iter().sum::<u64>(), xs.len() as u64, "max {m:e}");
        }
    }
}

/// The page's state takes `calibration=kl` (symmetric by itself), runs it beside the six
/// compared, and refuses it with asymmetric, keeping its previous state.
#[test]
fn the_page_session_runs_kl() {
    let mut s = quantviz::session::Session::new();
    let out = s
        .update("?dist=laplace:0,1&n=20000&bits=4&calibration=kl")
        .unwrap();
    let v: Json = serde_json::from_str(&out).unwrap();
    let text = v.to_string();
    assert!(text.contains("\"kl\""), "{text}");
    let e = s
        .update("?n=20000&bits=4&scheme=asymmetric&calibration=kl")
        .unwrap_err();
    assert!(e.to_string().contains("symmetric-only"), "{e}");
    assert!(s
        .update("?dist=laplace:0,1&n=20000&bits=8&calibration=kl")
        .is_ok());
}
