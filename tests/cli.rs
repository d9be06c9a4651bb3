#![cfg(not(target_arch = "wasm32"))]
//! The `quantviz` binary as a user runs it: the notebook's output, JSON, and every bad input.

mod common;

use std::process::Command;

fn quantviz(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quantviz"))
        .args(args)
        .output()
        .expect("the quantviz binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The notebook's first experiment, as the notebook printed it (cells 22-24).
const NOTEBOOK_FIRST: &str = "Original
[146.93 -47.31   0.   -36.45 144.12 116.43 145.93  86.63 -15.27  26.39
  53.16  24.85 -26.28  97.77 -46.31  64.6  123.86  60.37  58.95  10.8 ]

Asymmetric Scale : 0.7617254901960785, Zero : 62.0
[255   0  62  14 251 215 254 176  42  97 132  95  27 190   1 147 225 141
 139  76]

Symmetric Scale : 1.1569291338582677
[127 -41   0 -32 125 101 126  75 -13  23  46  21 -23  85 -40  56 107  52
  51   9]

Original
[146.93 -47.31   0.   -36.45 144.12 116.43 145.93  86.63 -15.27  26.39
  53.16  24.85 -26.28  97.77 -46.31  64.6  123.86  60.37  58.95  10.8 ]

Dequantize Asymmetric :
[147.01 -47.23   0.   -36.56 143.97 116.54 146.25  86.84 -15.23  26.66
  53.32  25.14 -26.66  97.5  -46.47  64.75 124.16  60.18  58.65  10.66]

Dequantize Symmetric :
[146.93 -47.43   0.   -37.02 144.62 116.85 145.77  86.77 -15.04  26.61
  53.22  24.3  -26.61  98.34 -46.28  64.79 123.79  60.16  59.    10.41]

 Asymmetric Error : 0.04
  Symmetric Error : 0.09
";

#[test]
fn notebook_prints_the_notebooks_first_experiment_exactly() {
    let (code, out, err) = quantviz(&["notebook"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(NOTEBOOK_FIRST), "got:\n{out}");
}

#[test]
fn notebook_second_experiment_has_the_notebooks_shape() {
    let (code, out, _) = quantviz(&["notebook", "--seed", "7"]);
    assert_eq!(code, 0);
    assert!(out.contains("Asymmetric (min-max) scale: "));
    assert!(out.contains("Asymmetric (percentile) scale: "));
    // The outlier is printed last; min-max keeps it (code 255), and so does the percentile clip.
    assert!(out.contains("1000.  ]"), "{out}");
    let err_line = |label: &str| -> f64 {
        let line = out.lines().find(|l| l.contains(label)).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let mm = err_line("Error (min-max) excluding outlier:");
    let pct = err_line("Error (percentile) excluding outlier:");
    // The notebook's point: clipping the outlier makes the error of the rest far smaller.
    assert!(mm > 1.0 && pct < 0.1, "min-max {mm}, percentile {pct}");
}

/// A top-level field of a JSON object as text: a string as itself, a number in Rust's
/// shortest form (`62` for 62.0), anything else as JSON.
fn json_field(json: &str, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{}", n.as_f64().unwrap()),
        },
        Some(other) => other.to_string(),
        None => panic!("no {key} in {json}"),
    }
}

#[test]
fn quantize_json_has_every_field() {
    let (code, out, err) = quantviz(&[
        "quantize",
        "--preset",
        "notebook-minmax",
        "--json",
        "--codes",
    ]);
    assert_eq!(code, 0, "{err}");
    for key in [
        "n",
        "bits",
        "scheme",
        "calibration",
        "scale",
        "zero_point",
        "qmin",
        "qmax",
        "clip_min",
        "clip_max",
        "mse",
        "sqnr_db",
        "max_abs_error",
        "clipped",
        "codes",
        "dequantized",
    ] {
        assert!(out.contains(&format!("\"{key}\":")), "{key} missing: {out}");
    }
    assert_eq!(json_field(&out, "scale"), "0.7617254901960785");
    assert_eq!(json_field(&out, "zero_point"), "62");
    assert_eq!(json_field(&out, "n"), "20");
    assert_eq!(
        json_field(&out, "codes"),
        "[255,0,62,14,251,215,254,176,42,97,132,95,27,190,1,147,225,141,139,76]"
    );
}

#[test]
fn quantize_symmetric_notebook_scale() {
    let (code, out, _) = quantviz(&[
        "quantize",
        "--preset",
        "notebook-minmax",
        "--scheme",
        "symmetric",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json_field(&out, "scale"), "1.1569291338582677");
    assert_eq!(json_field(&out, "qmin"), "-128");
}

#[test]
fn quantize_reads_npy_and_text_files() {
    let dir = std::env::temp_dir().join(format!("quantviz-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("w.csv");
    std::fs::write(&csv, "weight\n146.93,-47.31\n0 -36.45\n").unwrap();
    let (code, out, err) = quantviz(&["quantize", "--input", csv.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_field(&out, "n"), "4");
    // A float32 .npy of shape (2, 2).
    let data: Vec<u8> = [1.0f32, -2.0, 0.5, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let npy = common::npy_f32(&[2, 2], &data);
    let path = dir.join("w.npy");
    std::fs::write(&path, npy).unwrap();
    let (code, out, err) = quantviz(&["quantize", "--input", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_field(&out, "n"), "4");
    assert_eq!(json_field(&out, "clip_min"), "-2");
    assert_eq!(json_field(&out, "clip_max"), "4");
}

#[test]
fn compare_lists_every_scheme_and_calibration() {
    let (code, out, err) = quantviz(&[
        "compare",
        "--generate",
        "uniform:-50,150",
        "--n",
        "10000",
        "--outliers",
        "1:1000",
    ]);
    assert_eq!(code, 0, "{err}");
    for label in [
        "min-max",
        "p99.99",
        "mse",
        "asymmetric",
        "symmetric",
        "MSE w/o outl.",
    ] {
        assert!(out.contains(label), "{label}: {out}");
    }
    let (code, out, _) = quantviz(&["compare", "--generate", "normal:0,1", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("\"scheme\":").count(), 6, "{out}");
}

#[test]
fn constant_data_is_exact_not_nan() {
    let dir = std::env::temp_dir().join(format!("quantviz-const-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [("zeros.txt", "0 0 0 0"), ("threes.txt", "3 3 3")] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        for scheme in ["asymmetric", "symmetric"] {
            let (code, out, err) = quantviz(&[
                "quantize",
                "--input",
                path.to_str().unwrap(),
                "--scheme",
                scheme,
                "--json",
            ]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(json_field(&out, "mse"), "0", "{out}");
            assert!(!out.contains("NaN") && !out.contains("nan"), "{out}");
            let scale: f64 = json_field(&out, "scale").parse().unwrap();
            assert!(scale > 0.0 && scale.is_finite());
        }
    }
}

/// Runs a bad command and returns its stderr after checking it failed cleanly.
fn fails(args: &[&str]) -> String {
    let (code, out, err) = quantviz(args);
    assert_ne!(code, 0, "{args:?} should fail: {out}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(err.lines().count() <= 2, "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

#[test]
fn bad_input_gets_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("quantviz-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nan = dir.join("nan.csv");
    std::fs::write(&nan, "1, 2, nan, 4, inf").unwrap();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let junk = dir.join("junk.npy");
    std::fs::write(&junk, [0u8, 159, 146, 150]).unwrap();
    let g = ["quantize", "--generate", "normal:0,1"];
    let with = |extra: &[&'static str]| [&g[..], extra].concat();
    assert!(fails(&with(&["--bits", "1"])).contains("from 2 to 16"));
    assert!(fails(&with(&["--bits", "17"])).contains("got 17"));
    assert!(fails(&with(&["--bits", "eight"])).contains("invalid bits"));
    assert!(fails(&with(&["--calibration", "percentile:50"])).contains("above 50"));
    assert!(fails(&with(&["--calibration", "percentile:101"])).contains("at most 100"));
    assert!(fails(&with(&["--calibration", "entropy"])).contains("minmax, percentile:P"));
    assert!(fails(&with(&["--scheme", "diagonal"])).contains("asymmetric or symmetric"));
    assert!(fails(&with(&["--zero-point", "some"])).contains("raw or include-zero"));
    assert!(fails(&with(&["--n", "0"])).contains("from 1 to 10000000"));
    assert!(fails(&with(&["--n", "99999999999"])).contains("more than quantviz handles"));
    assert!(fails(&with(&["--seed", "x"])).contains("invalid seed"));
    assert!(fails(&with(&["--outliers", "5:big"])).contains("K:VALUE"));
    assert!(fails(&["quantize", "--generate", "normal:0,-1"]).contains("STD > 0"));
    let msg = fails(&["quantize", "--input", nan.to_str().unwrap()]);
    assert!(
        msg.contains("2 values are not a finite number") && msg.contains("index 2"),
        "{msg}"
    );
    assert!(fails(&["quantize", "--input", empty.to_str().unwrap()]).contains("empty"));
    assert!(fails(&["quantize", "--input", junk.to_str().unwrap()]).contains("cannot read"));
    assert!(fails(&["quantize", "--input", "/no/such/file.npy"])
        .contains("cannot read /no/such/file.npy"));
    assert!(fails(&["quantize"]).contains("no data"));
    assert!(fails(&["quantize", "--generate"]).contains("a value is required"));
    assert!(fails(&["quantize", "--frobnicate", "3"]).contains("unexpected argument"));
    assert!(fails(&["transmogrify"]).contains("unrecognized subcommand"));
    let misspelt = fails(&["quantize", "--preset", "notebook-minmax", "--bitz", "3"]);
    assert!(
        misspelt.contains("similar argument exists: '--bits'"),
        "{misspelt}"
    );
    assert!(fails(&[
        "plot",
        "pie",
        "--preset",
        "notebook-minmax",
        "--out",
        "x.svg"
    ])
    .contains("pie"));
    assert!(fails(&[
        "plot",
        "histogram",
        "--preset",
        "notebook-minmax",
        "--out",
        "x.gif"
    ])
    .contains(".svg or .png"));
    assert!(fails(&["bench", "--n", "0"]).contains("from 1 to"));
    // Negative numbers reach their flag's check, which says what would be right.
    let gen = ["quantize", "--generate", "normal:0,1"];
    assert!(fails(&[&gen[..], &["--seed", "-1"]].concat()).contains("expected a whole number"));
    let neg = ["--shape", "4,64", "--outlier-channels", "-1:5"];
    assert!(fails(&[&gen[..], &neg[..]].concat()).contains("expected K:F"));
}

/// Every chart of the page, from the command line: each drawn by the page's own session, the
/// int charts the same figure as before, and a chart that needs a flag says which.
#[test]
fn plot_draws_every_chart_of_the_page() {
    use quantviz::analysis::Analysis;
    use quantviz::charts::ChartKind;
    let dir = std::env::temp_dir().join(format!("quantviz-plots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg_of = |args: &[&str]| {
        let path = dir.join("c.svg");
        let out = ["--out", path.to_str().unwrap()];
        let (code, _, err) = quantviz(&[&["plot"][..], args, &out[..]].concat());
        assert_eq!(code, 0, "{args:?}: {err}");
        std::fs::read_to_string(&path).unwrap()
    };
    let gen = ["--generate", "normal:0,1", "--n", "4096", "--bits", "4"];
    // The int charts: the figure the chart functions draw from the analysis, unchanged.
    let data = quantviz::data::generate::generate(&quantviz::settings::DataSpec {
        dist: "normal:0,1".parse().unwrap(),
        n: 4096,
        ..Default::default()
    })
    .unwrap();
    let a = Analysis::new(data).unwrap();
    let q = quantviz::settings::QuantSettings {
        bits: 4,
        ..Default::default()
    };
    for kind in ChartKind::ALL {
        let want = quantviz::charts::render_svg(kind, &a, &q, 900, 520).unwrap();
        assert_eq!(
            svg_of(&[&[kind.to_string().as_str()][..], &gen[..]].concat()),
            want,
            "{kind}"
        );
    }
    // The others, each with what it shows.
    let cases: [(&[&str], &str); 7] = [
        (&["formats"], "Every format on this data"),
        (&["histogram", "--format", "nf4"], "nf4"),
        (&["blocks", "--format", "q4_K"], "q4_K"),
        (&["heatmap", "--shape", "64,64"], "64 x 64"),
        (
            &["scales", "--shape", "64,64", "--granularity", "channel"],
            "64 rows:",
        ),
        (&["kl", "--calibration", "kl"], "KL calibration"),
        (&["rotation", "--rotate", "hadamard"], "otat"),
    ];
    for (args, says) in cases {
        let svg = svg_of(&[args, &["--generate", "normal:0,1", "--n", "4096"][..]].concat());
        assert!(svg.contains(says), "{args:?} lacks '{says}'");
    }
    let fails = |args: &[&str]| {
        quantviz(
            &[
                &["plot"][..],
                args,
                &["--generate", "normal:0,1", "--out", "x.svg"][..],
            ]
            .concat(),
        )
    };
    let (code, _, err) = fails(&["blocks"]);
    assert!(code == 2 && err.contains("add --format"), "{err}");
    let (code, _, err) = fails(&["rotation"]);
    assert!(code == 2 && err.contains("add --rotate hadamard"), "{err}");
    let (code, _, err) = fails(&["pie"]);
    assert!(
        code == 2 && err.contains("formats, blocks, heatmap"),
        "{err}"
    );
    // A flag a chart's run does not take is refused, not ignored.
    let (code, _, err) = fails(&["mapping", "--format", "q4_K"]);
    assert!(code == 2 && err.contains("drop --format"), "{err}");
    let (code, _, err) = fails(&["histogram", "--shape", "64,64", "--granularity", "channel"]);
    assert!(code == 2 && err.contains("drop --granularity"), "{err}");
    let (code, _, err) = fails(&["histogram", "--heat", "error"]);
    assert!(code == 2 && err.contains("go with the heatmap"), "{err}");
    // The heatmap of a format's error: one embedded image, not a rectangle per pixel.
    let heat = ["heatmap", "--shape", "64,256", "--format", "q4_K"];
    let abs = svg_of(&[&heat[..], &["--generate", "normal:0,1"][..]].concat());
    let error = svg_of(
        &[
            &heat[..],
            &["--generate", "normal:0,1", "--heat", "error"][..],
        ]
        .concat(),
    );
    assert_ne!(abs, error);
    assert!(
        error.contains("href=\"data:image/png;base64,") && error.len() < 200_000,
        "{}",
        error.len()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plot_writes_an_svg_with_the_chart() {
    let dir = std::env::temp_dir().join(format!("quantviz-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.svg");
    let (code, _, err) = quantviz(&[
        "plot",
        "histogram",
        "--preset",
        "notebook-minmax",
        "--bits",
        "3",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("dequantized"),
        "{}",
        &svg[..200.min(svg.len())]
    );
}

/// Paths are OS strings: one that is not UTF-8 is read (or said to be missing), never a panic.
#[test]
fn a_path_that_is_not_utf8_is_still_a_path() {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"\xff-not-there.csv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quantviz"))
        .arg("quantize")
        .arg("--input")
        .arg(name)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: cannot read"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_comes_for_every_command() {
    let (code, out, _) = quantviz(&["--help"]);
    assert_eq!(code, 0);
    for cmd in ["quantize", "compare", "notebook", "plot", "bench"] {
        assert!(out.contains(cmd), "{cmd} in {out}");
        let (code, help, err) = quantviz(&[cmd, "--help"]);
        assert_eq!(code, 0, "{err}");
        assert!(help.contains(&format!("Usage: quantviz {cmd}")), "{help}");
    }
    let (_, help, _) = quantviz(&["quantize", "--help"]);
    for flag in [
        "--input",
        "--generate",
        "--bits",
        "--scheme",
        "--calibration",
        "--zero-point",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

/// `--calibration kl` alone quantizes symmetrically; with `--scheme asymmetric` it is an error
/// that says what to use.
#[test]
fn kl_is_symmetric_only() {
    let (code, out, err) = quantviz(&[
        "quantize",
        "--generate",
        "laplace:0,1",
        "--n",
        "20000",
        "--bits",
        "4",
        "--calibration",
        "kl",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_field(&out, "scheme"), "symmetric", "{out}");
    assert_eq!(json_field(&out, "calibration"), "kl", "{out}");
    let err = fails(&[
        "quantize",
        "--generate",
        "normal:0,1",
        "--scheme",
        "asymmetric",
        "--calibration",
        "kl",
    ]);
    assert!(
        err.contains("symmetric-only") && err.contains("--scheme symmetric"),
        "{err}"
    );
}

// ---- Model files -------------------------------------------------------------------------------

const TINY_ST: &str = "tests/fixtures/models/tiny.safetensors";
const TINY_GGUF: &str = "tests/fixtures/models/tiny.gguf";

#[test]
fn inspect_json_lists_every_tensor_with_its_stats() {
    let (code, out, err) = quantviz(&["inspect", TINY_ST, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "safetensors");
    assert_eq!(v["params"], 1024 + 512 + 256 + 64 + 4);
    let t = &v["tensors"];
    for key in [
        "name",
        "dtype",
        "shape",
        "params",
        "min",
        "max",
        "mean",
        "std",
        "nonfinite",
    ] {
        assert!(t[0].get(key).is_some(), "{key}");
    }
    assert_eq!(t[1]["name"], "layers.0.attn.k.weight");
    assert_eq!(t[1]["dtype"], "F16");
    assert_eq!(t[1]["shape"], serde_json::json!([8, 64]));
    // numpy on the same bytes: x.min(), x.max(), x.mean(), x.std() of the float16 values.
    assert_eq!(t[1]["min"], -0.1322021484375);
    assert_eq!(t[1]["max"], 0.197509765625);
    let mean = t[1]["mean"].as_f64().unwrap();
    let std = t[1]["std"].as_f64().unwrap();
    assert!((mean - 0.002025635330937803).abs() < 1e-15, "{mean}");
    assert!((std - 0.049712850049776644).abs() < 1e-15, "{std}");
    assert_eq!(t[4]["dtype"], "I32");
    assert!(t[4]["min"].is_null());
    assert!(t[4]["refused"].as_str().unwrap().contains("integers"));

    let (code, out, err) = quantviz(&["inspect", TINY_GGUF, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "gguf");
    // GGUF's ne [64, 16] is the row-major shape [16, 64].
    assert_eq!(v["tensors"][0]["shape"], serde_json::json!([16, 64]));
    assert_eq!(v["tensors"][2]["dtype"], "Q8_0");
}

#[test]
fn tensor_flag_picks_one_and_a_missing_name_lists_the_nearest() {
    let (code, out, err) = quantviz(&[
        "quantize",
        "--input",
        TINY_GGUF,
        "--tensor",
        "blk.0.attn_k.weight",
        "--format",
        "q8_0",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("blk.0.attn_k.weight"), "{out}");
    let (code, _, err) = quantviz(&[
        "quantize",
        "--input",
        TINY_GGUF,
        "--tensor",
        "blk.0.attn_v.weight",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no tensor 'blk.0.attn_v.weight': the nearest names are 'blk.0.attn_q.weight', 'blk.0.attn_k.weight'"), "{err}");
    // A part of a name: the names that contain it come first ('position_ids' is nearer to
    // 'norm' by edit distance).
    let (code, _, err) = quantviz(&["quantize", "--input", TINY_ST, "--tensor", "norm"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no tensor 'norm': the nearest names are 'layers.0.norm.weight'"),
        "{err}"
    );
    let (code, _, err) = quantviz(&["compare", "--input", TINY_ST]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds 5 tensors: pick one with --tensor NAME"),
        "{err}"
    );
    let (code, _, err) = quantviz(&[
        "quantize",
        "--input",
        TINY_GGUF,
        "--tensor",
        "blk.0.ffn_up.weight",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is Q8_0: already quantized"), "{err}");
}

#[test]
fn report_measures_each_tensor_as_quantize_does_and_totals_by_parameters() {
    let (code, out, err) = quantviz(&["report", TINY_ST, "--formats", "q8_0,q4_K", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let q = &v["tensors"][0];
    assert_eq!(q["name"], "layers.0.attn.q.weight");
    // The same figures `quantize` gives for that tensor alone, bit for bit.
    let (code, one, err) = quantviz(&[
        "quantize",
        "--input",
        TINY_ST,
        "--tensor",
        "layers.0.attn.q.weight",
        "--format",
        "q8_0",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    let mse = &q["rows"][0]["mse"];
    assert!(
        one.to_string().contains(&format!("\"mse\":{mse}")),
        "{mse} in {one}"
    );
    // 64 values are no whole number of q4_K's 256-value blocks: skipped, with the reason.
    let norm = &v["tensors"][3]["rows"][1];
    assert!(
        norm["skipped"].as_str().unwrap().contains("blocks of 256"),
        "{norm}"
    );
    let totals = &v["totals"];
    assert_eq!(totals[0]["format"], "q8_0");
    assert_eq!(totals[0]["params"], 1856);
    assert_eq!(totals[0]["skipped_params"], 4);
    assert_eq!(totals[1]["params"], 1792);
    // The total MSE is the parameter-weighted mean of the tensors'.
    let rows: Vec<(f64, f64)> = (0..4)
        .map(|i| {
            let t = &v["tensors"][i];
            (
                t["params"].as_f64().unwrap(),
                t["rows"][0]["mse"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = rows.iter().map(|(n, m)| n * m).sum::<f64>() / 1856.0;
    assert!(
        (totals[0]["mse"].as_f64().unwrap() - want).abs() <= 1e-18,
        "{want}"
    );

    let (code, out, _) = quantviz(&[
        "report",
        TINY_GGUF,
        "--formats",
        "q8_0",
        "--tensors",
        "attn_",
        "--csv",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "tensor,format,params,bits_per_weight,mse,sqnr_db,max_abs_error,skipped"
    );
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[3].starts_with("(total),q8_0,1536,8.5,"), "{out}");
}

/// `report --granularity G` adds int4 and int8 symmetric min-max rows at G: each row is what
/// `quantize --bits B --scheme symmetric --granularity G` gives for that tensor, bit for bit,
/// with one float32 scale per unit in its bits per weight (symmetric: no zero point stored).
#[test]
fn report_granularity_adds_int_rows_that_are_quantizes() {
    for (file, g) in [
        (TINY_ST, "channel"),
        (TINY_ST, "group:16"),
        (TINY_GGUF, "group:24"),
        (TINY_GGUF, "channel"),
    ] {
        let (code, out, err) = quantviz(&[
            "report",
            file,
            "--formats",
            "q8_0",
            "--granularity",
            g,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["granularity"], g);
        assert!(
            v["int_rows"]
                .as_str()
                .unwrap()
                .contains("symmetric, min-max"),
            "{v}"
        );
        let mut measured = 0;
        for t in v["tensors"].as_array().unwrap() {
            let rows = t["rows"].as_array().unwrap();
            assert_eq!(rows.len(), 3, "{t}");
            assert_eq!(rows[0]["format"], "q8_0");
            let shape: Vec<usize> = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let name = t["name"].as_str().unwrap();
            for (row, bits) in rows[1..].iter().zip([4u32, 8]) {
                assert_eq!(row["format"], format!("int{bits} {g}"));
                if let Some(why) = row["skipped"].as_str() {
                    // Only what cannot be read, or a 1-D tensor at channel.
                    assert!(
                        why.contains("is not read")
                            || (g == "channel"
                                && shape.len() == 1
                                && why == "1-D tensor: channel needs rows"),
                        "{name} {g}: {why}"
                    );
                    continue;
                }
                let n: usize = shape.iter().product();
                let cols = *shape.last().unwrap();
                let units = match g {
                    "channel" => n / cols,
                    _ => {
                        let size: usize = g[6..].parse().unwrap();
                        (n / cols) * cols.div_ceil(size)
                    }
                };
                assert_eq!(
                    row["bits_per_weight"].as_f64().unwrap(),
                    bits as f64 + 32.0 * units as f64 / n as f64,
                    "{name} {g}"
                );
                let (code, one, err) = quantviz(&[
                    "quantize",
                    "--input",
                    file,
                    "--tensor",
                    name,
                    "--bits",
                    &bits.to_string(),
                    "--scheme",
                    "symmetric",
                    "--granularity",
                    g,
                    "--json",
                ]);
                assert_eq!(code, 0, "{err}");
                let one: serde_json::Value = serde_json::from_str(&one).unwrap();
                for key in ["mse", "sqnr_db", "max_abs_error", "bits_per_weight"] {
                    assert_eq!(
                        row[key].as_f64().unwrap().to_bits(),
                        one[key].as_f64().unwrap().to_bits(),
                        "{name} {g} int{bits} {key}"
                    );
                }
                measured += 1;
            }
        }
        assert!(measured >= 4, "{g}: {out}");
        // The int rows have their totals beside the formats'.
        let totals = v["totals"].as_array().unwrap();
        assert_eq!(totals.len(), 3);
        assert_eq!(totals[1]["format"], format!("int4 {g}"));
        assert!(totals[1]["mse"].as_f64().unwrap() > totals[2]["mse"].as_f64().unwrap());
    }
    // A 1-D tensor at channel is skipped with the reason; at group:G it is one row.
    let (code, out, err) = quantviz(&[
        "report",
        TINY_ST,
        "--formats",
        "q8_0",
        "--granularity",
        "channel",
        "--tensors",
        "norm",
        "--csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("layers.0.norm.weight,int4 channel,64,,,,,1-D tensor: channel needs rows"),
        "{out}"
    );
    assert!(out.contains("(total),int8 channel,0,"), "{out}");
    let (code, out, err) = quantviz(&[
        "report",
        TINY_ST,
        "--formats",
        "q8_0",
        "--granularity",
        "group:32",
        "--tensors",
        "norm",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("granularity group:32"), "{out}");
    assert!(
        out.contains("one float32 scale per group of 32 values"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("layers.0.norm.weight int4 group:32") && l.contains(" 5 ")),
        "{out}"
    );
    // A group longer than a row is the core's refusal, on that row alone.
    let (code, out, err) = quantviz(&[
        "report",
        TINY_ST,
        "--formats",
        "q8_0",
        "--granularity",
        "group:128",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let why = v["tensors"][0]["rows"][1]["skipped"].as_str().unwrap();
    assert!(why.contains("groups lie within a row"), "{why}");
}

#[test]
fn report_refuses_bad_granularities_and_bad_patterns() {
    for g in ["group:1", "group:x", "row:3", "block"] {
        let (code, _, err) = quantviz(&["report", TINY_ST, "--granularity", g]);
        assert_eq!(code, 2, "{g}");
        assert!(
            err.contains(&format!("invalid granularity '{g}'"))
                && err.contains("expected tensor, channel or group:G"),
            "{err}"
        );
    }
    let (code, _, err) = quantviz(&["report", TINY_ST, "--tensors", "("]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--tensors '(' is not a regular expression"),
        "{err}"
    );
    let (code, _, err) = quantviz(&["report", TINY_ST, "--tensors", "^nothing$"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no tensor name matches --tensors '^nothing$'"),
        "{err}"
    );
    let (code, _, _) = quantviz(&["report", TINY_ST, "--json", "--csv"]);
    assert_eq!(code, 2);
}

/// The row the flags choose is the comparison's current one: in the closing line and in JSON,
/// and a kl calibration, which the six rows do not run, gets a row of its own.
#[test]
fn compare_marks_the_choice_the_flags_make() {
    let g = ["compare", "--generate", "normal:0,1", "--n", "4096"];
    let with = |extra: &[&'static str]| [&g[..], extra].concat();
    let (code, out, err) = quantviz(&with(&["--calibration", "kl"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("symmetric   kl"), "{out}");
    assert!(out.contains("The current choice, symmetric kl,"), "{out}");
    let current = |extra: &[&'static str]| -> Vec<(String, String)> {
        let (code, out, err) = quantviz(&with(&[extra, &["--json"]].concat()));
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["current"] == true)
            .map(|r| (r["scheme"].to_string(), r["calibration"].to_string()))
            .collect()
    };
    let one = |s: &str, c: &str| vec![(format!("\"{s}\""), format!("\"{c}\""))];
    assert_eq!(current(&[]), one("asymmetric", "minmax"));
    assert_eq!(current(&["--calibration", "mse"]), one("asymmetric", "mse"));
    assert_eq!(current(&["--calibration", "kl"]), one("symmetric", "kl"));
}

/// A flag's value or a combination of flags that does not fit is a bad argument: exit status
/// 2, as clap's own, with every flag named.
#[test]
fn flags_that_do_not_fit_are_bad_arguments() {
    let g = ["quantize", "--generate", "normal:0,1", "--n", "256"];
    let with = |extra: &[&'static str]| [&g[..], extra].concat();
    for bad in [
        &["--calibration", "kl", "--scheme", "asymmetric"][..],
        &["--granularity", "channel"],
        &["--format", "q4_K", "--block", "64"],
    ] {
        let (code, _, err) = quantviz(&with(bad));
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let (code, _, err) = quantviz(&[
        "quantize",
        "--input",
        "x.txt",
        "--seed",
        "5",
        "--outliers",
        "3:1000",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot be used with") && err.contains("--seed") && err.contains("--outliers"),
        "{err}"
    );
    // Flags a preset or generated data would silently ignore, and a message without a Rust
    // `None` in it.
    let q = "quantize";
    for (args, says) in [
        (
            &[q, "--preset", "notebook-minmax", "--n", "50"][..],
            "drop --n",
        ),
        (
            &[q, "--preset", "notebook-minmax", "--outliers", "1:5000"],
            "20 fixed values",
        ),
        (
            &[q, "--generate", "normal:0,1", "--tensor", "a"],
            "--tensor picks a tensor",
        ),
        (
            &[
                q,
                "--generate",
                "normal:0,1",
                "--shape",
                "10,100",
                "--row-spread",
                "1000",
            ],
            "'1000': expected a spread",
        ),
    ] {
        let msg = fails(args);
        assert!(msg.contains(says) && !msg.contains("None"), "{msg}");
    }
    // Help offers only what a command takes.
    let help = |cmd: &str| quantviz(&[cmd, "--help"]).1;
    for flag in ["--granularity <G>", "--rotate <R>", "--scheme <S>"] {
        assert!(!help("compare").contains(flag), "compare offers {flag}");
        assert!(help("quantize").contains(flag), "quantize lacks {flag}");
    }
    assert!(help("plot").contains("--granularity <G>"));
    let (_, _, err) = quantviz(&["report", TINY_ST, "--tensors", "a["]);
    assert!(
        err.contains("unclosed character class at character 2"),
        "{err}"
    );
}

/// `--formats` names each format once, and `int` asks report for its int rows.
#[test]
fn report_formats_take_int_and_each_format_once() {
    let (code, out, err) = quantviz(&["report", TINY_ST, "--formats", "q8_0,q8_0,int", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<String> = v["tensors"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["format"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows, ["q8_0", "int4 tensor", "int8 tensor"]);
    let (code, out, err) = quantviz(&["report", TINY_ST, "--formats", "int"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("int8 tensor"), "{out}");
}

/// The text says what a format's count counts, and a shorter last group is said.
#[test]
fn format_text_says_saturated_and_groups_say_their_shorter_last() {
    let g = ["quantize", "--generate", "normal:0,1", "--n", "1024"];
    let with = |extra: &[&'static str]| [&g[..], extra].concat();
    let (_, out, _) = quantviz(&with(&["--format", "fp8-e4m3"]));
    assert!(
        out.contains("saturated    1 of 1024") && !out.contains("clipped"),
        "{out}"
    );
    let (_, out, _) = quantviz(&with(&["--format", "q8_0"]));
    assert!(
        !out.contains("saturated") && !out.contains("clipped"),
        "{out}"
    );
    assert!(out.contains("(32 blocks)"), "{out}");
    let (_, out, _) = quantviz(&[
        "quantize",
        "--generate",
        "normal:0,1",
        "--n",
        "32",
        "--format",
        "q8_0",
    ]);
    assert!(out.contains("(1 block)"), "{out}");
    let (_, out, _) = quantviz(&with(&["--bits", "4"]));
    assert!(out.contains("clipped"), "{out}");
    let (_, out, _) = quantviz(&[
        "quantize",
        "--generate",
        "normal:0,1",
        "--shape",
        "16,16",
        "--granularity",
        "group:5",
    ]);
    assert!(
        out.contains("64 units of 5 values (each row's last has 1)"),
        "{out}"
    );
}

/// A tensor of more than 2 dimensions has every axis but the last flattened into rows, one
/// channel scale per row, in `quantize`, in `report` and on the page alike, the same in a
/// safetensors file as in a `.npy` array (`[experts, out, in]`: each expert's output channels).
#[test]
fn channel_scales_of_an_n_d_tensor_are_one_per_row_of_its_last_axis_everywhere() {
    let dir = std::env::temp_dir().join(format!("quantviz-channels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // [4, 8, 8]: each expert a magnitude of its own, each of its rows another.
    let xs: Vec<f32> = (0..256)
        .map(|i| ((i as f32) * 0.37).sin() * 10f32.powi(i / 64) * (1.0 + (i / 8 % 8) as f32))
        .collect();
    let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    let st = dir.join("w.safetensors");
    std::fs::write(
        &st,
        common::safetensors(&[("w", "F32", vec![4, 8, 8], bytes.clone())]),
    )
    .unwrap();
    let npy = common::npy_f32(&[4, 8, 8], &bytes);
    let np = dir.join("w.npy");
    std::fs::write(&np, &npy).unwrap();
    let (st, np) = (st.to_str().unwrap(), np.to_str().unwrap());

    let json_of = |args: &[&str]| {
        let (code, out, err) = quantviz(args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let quantize = |file: &str| {
        let g = ["--granularity", "channel", "--json"];
        json_of(
            &[
                &[
                    "quantize",
                    "--input",
                    file,
                    "--bits",
                    "4",
                    "--scheme",
                    "symmetric",
                ][..],
                &g,
            ]
            .concat(),
        )
    };
    let report = |file: &str| {
        json_of(&[
            "report",
            file,
            "--formats",
            "q8_0",
            "--granularity",
            "channel",
            "--json",
        ])
    };
    let query = "bits=4&scheme=symmetric&granularity=channel";

    // The model file: 32 rows of 8 in quantize, report and the page, with one MSE.
    let q = quantize(st);
    assert_eq!(
        (&q["units"]["rows"], &q["units"]["cols"]),
        (&32.into(), &8.into()),
        "{q}"
    );
    let r = report(st);
    assert!(
        r["int_rows"]
            .as_str()
            .unwrap()
            .contains("row (every axis but the last flattened into rows"),
        "{r}"
    );
    let row = &r["tensors"][0]["rows"][1];
    assert_eq!(row["format"], "int4 channel");
    assert_eq!(
        row["bits_per_weight"].as_f64().unwrap(),
        4.0 + 32.0 * 32.0 / 256.0
    );
    let mse = q["mse"].as_f64().unwrap();
    assert_eq!(row["mse"].as_f64().unwrap().to_bits(), mse.to_bits());
    let file = std::fs::read(st).unwrap();
    let mut s = quantviz::session::Session::new();
    let len = file.len() as u64;
    let need =
        quantviz::session::Session::model_header_needed(&file, len, "w.safetensors").unwrap();
    s.model_open(&file[..need], len, "w.safetensors").unwrap();
    let (a, b) = s.model_range(0).unwrap();
    let page: serde_json::Value = serde_json::from_str(
        &s.model_tensor(0, &file[a as usize..b as usize], query)
            .unwrap(),
    )
    .unwrap();
    // The page's layout and error: `rows` x `cols`, and `mse` bit for bit.
    let page_shows = |page: &serde_json::Value, rows: u64, cols: u64, mse: f64| {
        let g = &page["granular"];
        assert_eq!(
            (&g["units"]["rows"], &g["units"]["cols"]),
            (&rows.into(), &cols.into()),
            "{g}"
        );
        assert_eq!(
            g["metrics"]["mse"].as_f64().unwrap().to_bits(),
            mse.to_bits()
        );
    };
    page_shows(&page, 32, 8, mse);

    // The .npy array of the same values and shape: the same rows and the same MSE.
    let q = quantize(np);
    assert_eq!(
        (&q["units"]["rows"], &q["units"]["cols"]),
        (&32.into(), &8.into()),
        "{q}"
    );
    let npy_mse = q["mse"].as_f64().unwrap();
    assert_eq!(npy_mse.to_bits(), mse.to_bits());
    let row = &report(np)["tensors"][0]["rows"][1];
    assert_eq!(row["mse"].as_f64().unwrap().to_bits(), npy_mse.to_bits());
    let page: serde_json::Value =
        serde_json::from_str(&s.load(&npy, "w.npy", query).unwrap()).unwrap();
    page_shows(&page, 32, 8, npy_mse);
    std::fs::remove_dir_all(&dir).ok();
}

/// A `.npy` array of more than the 10,000,000 values generated data and text may hold is a model
/// tensor: `inspect`, `report` and `quantize --input` take it, as they take a safetensors one.
#[test]
fn npy_arrays_beyond_ten_million_values_are_read_by_every_command() {
    let dir = std::env::temp_dir().join(format!("quantviz-bignpy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 3 x 3333344 = 10000032 values, a whole number of q8_0's blocks.
    let n = 10_000_032usize;
    let data: Vec<u8> = (0..n)
        .flat_map(|i| ((i % 1000) as f32 * 0.001 - 0.5).to_le_bytes())
        .collect();
    let npy = common::npy_f32(&[3, 3333344], &data);
    let path = dir.join("big.npy");
    std::fs::write(&path, &npy).unwrap();
    let path = path.to_str().unwrap();

    let (code, out, err) = quantviz(&["inspect", path, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("\"params\":{n}")), "{out}");
    let (code, out, err) = quantviz(&["report", path, "--formats", "q8_0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"][0]["params"], n);
    assert!(v["totals"][0]["mse"].as_f64().unwrap() > 0.0, "{v}");
    let (code, out, err) = quantviz(&["quantize", "--input", path, "--format", "q8_0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let q: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(q["n"], n, "{q}");
    assert_eq!(
        q["mse"].as_f64().unwrap().to_bits(),
        v["totals"][0]["mse"].as_f64().unwrap().to_bits()
    );
    // Text keeps its limit.
    let text = dir.join("big.txt");
    std::fs::write(&text, "1\n".repeat(10_000_001)).unwrap();
    let e = fails(&["quantize", "--input", text.to_str().unwrap()]);
    assert!(e.contains("more than 10000000 values"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Every run's JSON and text give the cosine similarity, relative error and compression, with a
/// granularity or rotation too: the same numbers as the plain run where the two are one run.
#[test]
fn similarity_and_compression_with_a_granularity_or_rotation() {
    let json_of = |args: &[&str]| {
        let (code, out, err) = quantviz(args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let data = ["quantize", "--generate", "normal:0,1", "--shape", "8,64"];
    let plain = json_of(&[&data[..], &["--json"]].concat());
    let tensor = json_of(&[&data[..], &["--granularity", "tensor", "--json"]].concat());
    for key in [
        "cosine_similarity",
        "relative_error",
        "compression_vs_f32",
        "compression_vs_f16",
        "bits_per_weight",
        "mse",
    ] {
        assert_eq!(tensor[key], plain[key], "{key}");
    }
    assert_eq!(
        (&tensor["block"], &tensor["blocks"]),
        (&serde_json::Value::Null, &1.into())
    );
    let group = json_of(&[&data[..], &["--granularity", "group:16", "--json"]].concat());
    assert_eq!(group["blocks"], 32);
    let cos = group["cosine_similarity"].as_f64().unwrap();
    assert!(
        cos > tensor["cosine_similarity"].as_f64().unwrap() && cos < 1.0,
        "{cos}"
    );
    let bpw = group["bits_per_weight"].as_f64().unwrap();
    assert_eq!(group["compression_vs_f16"].as_f64().unwrap(), 16.0 / bpw);
    let rotated = json_of(
        &[
            &data[..],
            &["--format", "q4_0", "--rotate", "hadamard:32", "--json"],
        ]
        .concat(),
    );
    assert_eq!(
        (&rotated["block"], &rotated["blocks"]),
        (&32.into(), &16.into())
    );
    assert!(rotated["cosine_similarity"].as_f64().unwrap() > 0.9);
    let fp8 = json_of(
        &[
            &data[..],
            &["--format", "fp8-e4m3", "--rotate", "hadamard", "--json"],
        ]
        .concat(),
    );
    assert_eq!(
        (&fp8["block"], &fp8["blocks"]),
        (&serde_json::Value::Null, &1.into())
    );
    // Text: the int run and a granular one end with the same three lines as a format's.
    for extra in [&[][..], &["--granularity", "channel"][..]] {
        let (code, out, err) = quantviz(&[&data[..], extra].concat());
        assert_eq!(code, 0, "{err}");
        for line in ["cosine ", "rel. error ", "compression "] {
            assert!(out.contains(line), "{extra:?}: no {line:?} in\n{out}");
        }
    }
}

/// Errors whose squares pass float64's largest are the same error with a granularity as per
/// tensor, not an MSE of infinity.
#[test]
fn an_overflowing_error_is_an_error_at_every_granularity() {
    let dir = std::env::temp_dir().join(format!("quantviz-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("huge.txt");
    std::fs::write(&file, "1e300\n-1e300\n".repeat(32)).unwrap();
    let file = file.to_str().unwrap();
    for extra in [
        &[][..],
        &["--granularity", "group:32"][..],
        &["--granularity", "channel", "--shape", "2,32"][..],
    ] {
        let (code, out, err) = quantviz(&[&["quantize", "--input", file][..], extra].concat());
        assert_ne!(code, 0, "{extra:?}: {out}");
        assert!(err.contains("overflows float64"), "{extra:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `bench --json` has the plain figure's `n`, `format` and `ms_min` with a shape, granularity
/// or rotation too.
#[test]
fn bench_json_keeps_its_keys_with_a_shape() {
    for args in [
        &["--granularity", "group:16"][..],
        &["--format", "q4_0", "--rotate", "hadamard"][..],
    ] {
        let (code, out, err) = quantviz(
            &[
                &["bench", "--shape", "16,64", "--runs", "1", "--json"][..],
                args,
            ]
            .concat(),
        );
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["n"], 1024, "{out}");
        let format = if args[0] == "--format" { "q4_0" } else { "int" };
        assert_eq!(v["format"], format, "{out}");
        assert!(v["ms_min"].as_f64().unwrap() >= 0.0, "{out}");
    }
}

/// `inspect` gives the mean and std of values whose sums or squares leave float64 (near 1e300
/// or 1e-300), as numpy gives them for the values scaled.
#[test]
fn inspect_stats_of_huge_and_tiny_values() {
    let dir = std::env::temp_dir().join(format!("quantviz-extreme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for unit in [1e300f64, 1e-300] {
        let xs: Vec<f64> = [1.0, -1.0, 3.0, 0.5]
            .repeat(16)
            .iter()
            .map(|v| v * unit)
            .collect();
        let bytes: Vec<u8> = xs.iter().flat_map(|v| v.to_le_bytes()).collect();
        let file = dir.join("w.safetensors");
        std::fs::write(&file, common::safetensors(&[("w", "F64", vec![64], bytes)])).unwrap();
        let (code, out, err) = quantviz(&["inspect", file.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let t = &v["tensors"][0];
        // numpy: mean 0.875, std 1.4306903927824497 of the values divided by the unit.
        let (mean, std) = (t["mean"].as_f64().unwrap(), t["std"].as_f64().unwrap());
        assert!((mean / unit - 0.875).abs() < 1e-12, "{unit}: {out}");
        assert!(
            (std / unit - 1.4306903927824497).abs() < 1e-12,
            "{unit}: {out}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
