//! The results in words and numbers: JSON for the CLI and the page ([`json`]), the formulas with
//! the current numbers in them ([`explain`]), numpy's way of printing arrays ([`nprint`]), one
//! way to print a number for people ([`number`]), and the model's accuracy ([`accuracy`]).

pub mod accuracy;
pub mod cards;
pub mod explain;
pub mod json;
pub mod model_section;
pub mod nprint;
pub mod number;
