//! quantviz: see what quantizing neural-network weights does.
//!
//! The shape of the crate is one way through: [`settings`] (plain data, the URL's query string)
//! -> data ([`generate`], [`load`], [`notebook`]) -> analysis ([`calibrate`], [`quantize`],
//! [`metrics`], [`analysis`]) -> views ([`charts`], [`report`]). The numerics know nothing of
//! the browser; the wasm boundary is the one module `web`.

pub mod analysis;
pub mod calibrate;
pub mod error;
pub mod explain;
pub mod float;
pub mod generate;
pub mod histogram;
pub mod load;
pub mod metrics;
pub mod notebook;
pub mod nprint;
pub mod pagecore;
pub mod par;
pub mod quantize;
pub mod report;
pub mod settings;
pub mod sum;

pub use error::{Error, Result};
pub mod bench;
#[cfg(target_arch = "wasm32")]
pub mod canvas;
pub mod charts;
#[cfg(target_arch = "wasm32")]
pub mod web;
