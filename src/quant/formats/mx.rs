//! The 4-bit floats with block scales: MXFP4 (E8M0 per 32) and NVFP4 (UE4M3 per 16).

use super::Quantized;
use crate::error::Result;

/// MXFP4 of `xs`.
pub fn mxfp4(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("mxfp4"))
}

/// NVFP4 of `xs`.
pub fn nvfp4(xs: &[f32]) -> Result<Quantized> {
    let _ = xs;
    Err(super::not_built("nvfp4"))
}
