//! # lgso: L-GSO, black-box optimization with local generative surrogates
//!
//! (crate documentation is completed in lib.rs once all modules are in.)
#![warn(missing_docs)]

pub mod bench;
pub mod config;
pub mod data;
pub mod design;
pub mod driver;
pub mod error;
pub mod history;
pub mod optimizer;
pub mod problem;
pub mod seed;
pub mod surrogate;
pub mod threads;

pub use error::{Error, Result};
