//! The results in words and numbers: JSON and text reports ([`report`]), the formulas with the
//! current numbers in them ([`explain`]), and numpy's way of printing arrays ([`nprint`]).

pub mod explain;
pub mod nprint;
pub mod report;
