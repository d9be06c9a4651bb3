//! ggml's block formats Q4_0, Q4_1 and Q8_0 (`quantize_row_*_ref`, `dequantize_row_*`).

use super::Quantized;
use crate::error::Result;

/// Q4_0 of `xs`.
pub fn q4_0(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q4_0"))
}

/// Q4_1 of `xs`.
pub fn q4_1(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q4_1"))
}

/// Q8_0 of `xs`.
pub fn q8_0(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q8_0"))
}
