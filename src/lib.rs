//! quantviz: see what quantizing neural-network weights does.
//!
//! The crate is one way through, and its modules are named in that order:
//!
//! - [`settings`]: plain data, the URL's query string and the CLI's flags;
//! - [`data`]: the values, generated with a seed, one of the notebook's presets, or loaded;
//! - [`quant`]: the quantization itself: parameters, calibration, the vectorized kernels;
//! - [`analysis`]: one data set quantized every way the views need, measured; [`model`]: a
//!   small network's test accuracy with its weights quantized;
//! - [`present`]: the results as JSON, text and teaching text; [`charts`]: as figures.
//!
//! The numerics know nothing of the browser. The page's state and caches are plain Rust in
//! [`session`], tested natively; the wasm boundary is the one module `web`, and the command line
//! is `cli`.

pub mod analysis;
pub mod bench;
pub mod charts;
pub mod data;
pub mod error;
pub mod model;
pub mod par;
pub mod present;
pub mod quant;
pub mod session;
pub mod settings;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
