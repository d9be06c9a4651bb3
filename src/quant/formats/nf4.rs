//! QLoRA's NF4 (bitsandbytes' `quantize_4bit`).

use super::Quantized;
use crate::error::Result;

/// NF4 of `xs` in blocks of `block`.
pub fn quantize(xs: &[f32], block: usize) -> Result<Quantized> {
    let _ = (xs, block);
    Err(super::not_built("nf4"))
}
