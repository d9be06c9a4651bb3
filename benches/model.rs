//! Criterion benches of the digits network (`quantviz model`): the forward pass over the 360
//! test images, and a whole evaluation (quantize both weight matrices, run the test set,
//! count) as a control change on the page costs, with the weights' calibration caches warm
//! (a setting seen before) and cold (a new model each time).
//!
//! `cargo bench --bench model` (about half a minute).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{BatchSize, Criterion};
    use quantviz::model::Model;
    use quantviz::settings::{Calibration, Format, QuantSettings, Settings};
    use std::hint::black_box;
    use std::time::Duration;

    pub fn model(c: &mut Criterion) {
        let m = Model::embedded().unwrap();
        let mut g = c.benchmark_group("model");
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        g.bench_function("load", |b| b.iter(|| Model::embedded().unwrap()));
        let float: Vec<&[f32]> = m
            .layers()
            .iter()
            .map(|l| l.weight.values.as_slice())
            .collect();
        g.bench_function("forward_360", |b| {
            b.iter(|| m.predict(black_box(&float)).unwrap())
        });
        let int8 = Settings::default();
        let mse4 = Settings {
            quant: QuantSettings {
                bits: 4,
                calibration: Calibration::Mse,
                ..QuantSettings::default()
            },
            ..Settings::default()
        };
        let q4k = Settings {
            format: Some(Format::Q4_K),
            ..Settings::default()
        };
        for (name, s) in [("int8", int8), ("int4_mse", mse4), ("q4_K", q4k)] {
            g.bench_function(format!("evaluate_{name}_warm"), |b| {
                b.iter(|| m.evaluate(black_box(&s)).unwrap())
            });
            g.bench_function(format!("evaluate_{name}_cold"), |b| {
                b.iter_batched(
                    || Model::embedded().unwrap(),
                    |m| m.evaluate(black_box(&s)).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, native::model);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
