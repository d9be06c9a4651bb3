//! Quantization: the parameters of a grid ([`params`]), which clip range it covers
//! ([`calibrate`]), and the loops that run it over the data ([`kernels`], summed in numpy's
//! [`pairwise`] order), with what sorted values tell without a pass ([`sorted`]).

pub mod calibrate;
pub mod formats;
pub mod granularity;
pub mod kernels;
pub mod pairwise;
pub mod params;
pub mod rotate;
pub mod sorted;

pub use params::{ErrorStats, QuantParams};
