//! Reading the network and its test set from safetensors bytes, every name, dtype and shape
//! checked before it is used, with an error that says what was found and what was expected.

use super::{Layer, TestSet, WeightMatrix};
use crate::data::load::shown;
use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};

/// Most layers a network may have (`fc1` ... `fc16`).
pub const MAX_LAYERS: usize = 16;

#[inline(never)]
fn bad(source: &str, message: String) -> Error {
    Error::Load {
        source: source.to_string(),
        message,
    }
}

fn parse<'a>(bytes: &'a [u8], source: &str, what: &str) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        bad(
            source,
            format!("not a safetensors file ({e}); expected {what} in the safetensors format"),
        )
    })
}

/// A tensor's shape as the messages print it: `[128, 64]`.
fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// The float32 values of tensor `name`, which must have `rank` dimensions; its shape too.
fn f32_tensor(
    st: &SafeTensors<'_>,
    source: &str,
    name: &str,
    rank: usize,
    expected: &str,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let t = st.tensor(name).map_err(|_| {
        bad(
            source,
            format!("it has no tensor '{name}': expected {expected}"),
        )
    })?;
    if t.dtype() != Dtype::F32 {
        return Err(bad(
            source,
            format!(
                "tensor '{name}' is {:?}: expected float32 (F32), {expected}",
                t.dtype()
            ),
        ));
    }
    let shape = t.shape().to_vec();
    if shape.len() != rank || shape.contains(&0) {
        return Err(bad(
            source,
            format!(
                "tensor '{name}' has shape {}: expected {expected}",
                shape_text(&shape)
            ),
        ));
    }
    let values: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(
            source,
            format!(
                "tensor '{name}' holds a value that is not finite ({} at index {i}): every value must be a finite number",
                values[i]
            ),
        ));
    }
    Ok((shape, values))
}

/// The layers of a network file: `fc1.weight` `[out, in]`, `fc1.bias` `[out]`, `fc2.weight`,
/// ... numbered from 1 without a gap, each layer's `in` the previous one's `out`, float32,
/// finite, and nothing else in the file.
pub fn read_layers(bytes: &[u8], source: &str) -> Result<Vec<Layer>> {
    let st = parse(bytes, source, "the network's fc1.weight, fc1.bias, ...")?;
    let mut layers: Vec<Layer> = Vec::new();
    while layers.len() < MAX_LAYERS {
        let k = layers.len() + 1;
        let (wname, bname) = (format!("fc{k}.weight"), format!("fc{k}.bias"));
        let has_weight = st.tensor(&wname).is_ok();
        if !has_weight && k > 1 {
            if st.tensor(&bname).is_ok() {
                return Err(bad(
                    source,
                    format!("it has {bname} but no {wname}: each layer needs both"),
                ));
            }
            break;
        }
        let (wshape, weight) = f32_tensor(
            &st,
            source,
            &wname,
            2,
            "a 2-D weight [out, in] with no zero dimension",
        )?;
        let (rows, cols) = (wshape[0], wshape[1]);
        if let Some(prev) = layers.last() {
            if cols != prev.weight.rows {
                return Err(bad(
                    source,
                    format!(
                        "{wname} has shape {}: its inputs ({cols}) must be fc{}'s outputs ({}), shape [{rows}, {}]",
                        shape_text(&wshape),
                        k - 1,
                        prev.weight.rows,
                        prev.weight.rows
                    ),
                ));
            }
        }
        let (bshape, bias) = f32_tensor(
            &st,
            source,
            &bname,
            1,
            &format!("a bias of shape [{rows}], one per row of {wname}"),
        )?;
        if bshape[0] != rows {
            return Err(bad(
                source,
                format!(
                    "{bname} has shape {}: expected [{rows}], one per row of {wname} {}",
                    shape_text(&bshape),
                    shape_text(&wshape)
                ),
            ));
        }
        layers.push(Layer {
            name: format!("fc{k}"),
            weight: WeightMatrix::new(rows, cols, weight),
            bias,
        });
    }
    let expected: usize = layers.len() * 2;
    if st.len() != expected {
        let known: Vec<String> = (1..=layers.len())
            .flat_map(|k| [format!("fc{k}.weight"), format!("fc{k}.bias")])
            .collect();
        let extra = st
            .names()
            .into_iter()
            .filter(|n| !known.iter().any(|k| k == n))
            .min()
            .unwrap_or("");
        return Err(bad(
            source,
            format!(
                "unexpected tensor '{}': a network of {} layers holds only {} (at most {MAX_LAYERS} layers, numbered from fc1 without a gap)",
                shown(extra, 60),
                layers.len(),
                known.join(", ")
            ),
        ));
    }
    Ok(layers)
}

/// The test set: `images` float32 `[n, width]` and `labels` uint8 `[n]`, nothing else.
pub fn read_test_set(bytes: &[u8], source: &str) -> Result<TestSet> {
    let st = parse(bytes, source, "images and labels")?;
    let (shape, images) = f32_tensor(
        &st,
        source,
        "images",
        2,
        "images as float32 [n, pixels] with n > 0",
    )?;
    let (n, width) = (shape[0], shape[1]);
    let labels = st.tensor("labels").map_err(|_| {
        bad(
            source,
            format!("it has no tensor 'labels': expected uint8 [{n}], one per image"),
        )
    })?;
    if labels.dtype() != Dtype::U8 {
        return Err(bad(
            source,
            format!(
                "tensor 'labels' is {:?}: expected uint8 (U8) [{n}], one per image",
                labels.dtype()
            ),
        ));
    }
    if labels.shape() != [n] {
        return Err(bad(
            source,
            format!(
                "tensor 'labels' has shape {}: expected [{n}], one per image",
                shape_text(labels.shape())
            ),
        ));
    }
    if st.len() != 2 {
        let extra = st
            .names()
            .into_iter()
            .filter(|&k| k != "images" && k != "labels")
            .min()
            .unwrap_or("");
        return Err(bad(
            source,
            format!(
                "unexpected tensor '{}': a test set holds only images and labels",
                shown(extra, 60)
            ),
        ));
    }
    Ok(TestSet {
        n,
        width,
        images,
        labels: labels.data().to_vec(),
    })
}
