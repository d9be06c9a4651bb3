//! The values to quantize: generated with a seed ([`generate`]), one of the notebook's own
//! experiments ([`presets`]), or loaded from a file ([`load`]).

pub mod generate;
pub mod load;
pub mod presets;

pub use generate::Dataset;
