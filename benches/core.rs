//! Criterion benches of the core's hot paths at 1,000,000 values (the `quantviz bench`
//! workload: uniform(-50, 150), the last value 1000, 8 bits unless said otherwise).
//!
//! `cargo bench --bench core` (about a minute: small samples, short measurement times).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{Criterion, Throughput};
    use quantviz::quant::calibrate::{self, DataStats};
    use quantviz::quant::params::QuantParams;
    use quantviz::settings::{Scheme, ZeroPoint, DEFAULT_PERCENTILE};
    use std::hint::black_box;
    use std::time::Duration;

    const N: usize = 1_000_000;

    pub fn core(c: &mut Criterion) {
        let xs = quantviz::bench::workload(N);
        let xs = xs.as_slice();
        let stats = DataStats::of(xs).unwrap();
        let p = QuantParams::asymmetric(stats.min, stats.max, 8, ZeroPoint::Raw).unwrap();

        let mut g = c.benchmark_group("core_1M");
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(N as u64));
        g.bench_function("error_stats", |b| {
            b.iter(|| black_box(&p).error_stats(black_box(xs)))
        });
        let mut codes = quantviz::par::zeroed_vec::<i32>(N);
        g.bench_function("quantize_into", |b| {
            b.iter(|| black_box(&p).quantize_into(black_box(xs), &mut codes))
        });
        let sym = QuantParams::symmetric(stats.absmax, 8, false).unwrap();
        g.bench_function("sum_sq_many_x3", |b| {
            b.iter(|| QuantParams::sum_sq_many(black_box(&[p, sym, p]), black_box(xs)))
        });
        g.bench_function("stats_and_percentile_pair", |b| {
            b.iter(|| calibrate::stats_and_percentile_pair(black_box(xs), DEFAULT_PERCENTILE))
        });
        g.bench_function("quantize_dequantize", |b| {
            b.iter(|| black_box(&p).quantize_dequantize(black_box(xs)))
        });
        g.bench_function("percentile_pair", |b| {
            b.iter(|| calibrate::percentile_pair(black_box(xs), DEFAULT_PERCENTILE))
        });
        g.bench_function("DataStats::of", |b| {
            b.iter(|| DataStats::of(black_box(xs)).unwrap())
        });
        g.bench_function("mse_range_sym_4bit", |b| {
            b.iter(|| {
                calibrate::mse_range(black_box(xs), &stats, Scheme::Symmetric, 4, ZeroPoint::Raw)
                    .unwrap()
            })
        });
        g.bench_function("pairwise_sum", |b| {
            b.iter(|| quantviz::quant::pairwise::pairwise_sum(black_box(xs)))
        });
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, native::core);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
