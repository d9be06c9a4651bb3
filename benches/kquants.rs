//! The K-quants against the oracle the tests check them by: a plain single-threaded scalar port
//! of ggml's reference loops (`quantize_row_qN_K_ref`, `dequantize_row_qN_K`).
//!
//! Both sides quantize, dequantize and measure the error of the same 16,777,216 seeded N(0, 1)
//! float32 values. quantviz's side is what `quantviz bench --format qN_K` times (the codes kept,
//! the dequantized values summed straight into the error, on every thread); the port's is its
//! row functions then a plain loop for the squared error. Each figure is the fastest of a few
//! runs: five for quantviz, three for the port, which takes about a second and a half a run.
//! Criterion is not used: its ten samples of the port alone would take minutes.
//!
//! `cargo bench --bench kquants` (about half a minute); `-- q4_K` runs one format.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use quantviz::analysis::formats::streamed_error_sums;
    use quantviz::quant::formats::kquants::{reference, KQuant};
    use quantviz::quant::formats::{to_f32, Format};
    use std::hint::black_box;
    use std::time::Instant;

    const N: usize = 1 << 24;
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let xs = to_f32(&quantviz::bench::normal_f32(N).expect("2^24 values are within the limit"));
    let fastest = |runs: usize, f: &mut dyn FnMut() -> f64| {
        let mut best = f64::INFINITY;
        let mut mse = 0.0;
        for _ in 0..runs {
            let t = Instant::now();
            mse = f();
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        (best, mse)
    };
    println!("{N} values; fastest of 5 (quantviz) and of 3 (the port)");
    println!(
        "{:<6} {:>12} {:>14} {:>9}",
        "format", "quantviz ms", "scalar port ms", "speed-up"
    );
    let kinds = [
        (Format::Q2_K, KQuant::Q2K),
        (Format::Q3_K, KQuant::Q3K),
        (Format::Q4_K, KQuant::Q4K),
        (Format::Q5_K, KQuant::Q5K),
        (Format::Q6_K, KQuant::Q6K),
    ];
    for (format, kind) in kinds {
        let name = format.to_string();
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let mut codes = quantviz::par::zeroed_vec::<u8>(N);
        let (ours, mse_ours) = fastest(5, &mut || {
            let ((sum, _, _), _) =
                streamed_error_sums(format, 256, black_box(&xs), None, Some(&mut codes))
                    .expect("normal values quantize");
            sum / N as f64
        });
        let (port, mse_port) = fastest(3, &mut || {
            let bytes =
                reference::quantize_row(kind, black_box(&xs)).expect("normal values quantize");
            let deq = reference::dequantize_row(kind, &bytes);
            let sum: f64 = xs
                .iter()
                .zip(&deq)
                .map(|(&x, &d)| (f64::from(x) - f64::from(d)).powi(2))
                .sum();
            sum / N as f64
        });
        // The same quantization: the two sums differ only in their order of adding.
        assert!(
            (mse_ours - mse_port).abs() <= 1e-9 * mse_port,
            "{name}: MSE {mse_ours} against the port's {mse_port}"
        );
        println!("{name:<6} {ours:>12.1} {port:>14.1} {:>8.1}x", port / ours);
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
