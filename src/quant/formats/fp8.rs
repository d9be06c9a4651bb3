//! FP8 with a per-tensor scale (torchao's tensorwise recipe).

use super::Quantized;
use crate::error::Result;

/// The two FP8 encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fp8 {
    /// E4M3 (fn): max 448, no infinities.
    E4m3,
    /// E5M2: max 57344.
    E5m2,
}

/// FP8 of `xs` with one scale for the tensor.
pub fn quantize(xs: &[f32], kind: Fp8) -> Result<Quantized> {
    let _ = (xs, kind);
    Err(super::not_built("fp8"))
}
