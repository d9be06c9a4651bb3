//! ggml's K-quants: super-blocks of 256 values (`quantize_row_q{2,3,4,5,6}_K_ref`).

use super::Quantized;
use crate::error::Result;

/// Q2_K of `xs`.
pub fn q2_k(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q2_K"))
}

/// Q3_K of `xs`.
pub fn q3_k(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q3_K"))
}

/// Q4_K of `xs`.
pub fn q4_k(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q4_K"))
}

/// Q5_K of `xs`.
pub fn q5_k(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q5_K"))
}

/// Q6_K of `xs`.
pub fn q6_k(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("q6_K"))
}
