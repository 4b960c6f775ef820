//! Checks of setting values, shared by every owner of settings (the
//! surrogates, the optimizers, the problems, the run configuration): each
//! returns [`Error::Config`] naming the key (e.g. `gan.lr`) and the
//! expected form, so a bad value becomes one clear line.

use crate::error::{Error, Result};

/// Largest network width (noise dimension, hidden layer, critic outputs).
pub const MAX_WIDTH: usize = 65_536;
/// Largest sample count of one kind (M, K, monitor draws, batch).
pub const MAX_SAMPLES: usize = 10_000_000;
/// Largest number of simulator calls in one iteration, `(N + 1) M`.
pub const MAX_CALLS_PER_ITERATION: u64 = 100_000_000;

/// A finite number > 0.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn positive(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(key, "a finite number > 0", v))
    }
}

/// A finite number >= 0.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn non_negative(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(key, "a finite number >= 0", v))
    }
}

/// An integer `<= max`.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn at_most(key: &str, v: usize, max: usize) -> Result<()> {
    if v <= max {
        Ok(())
    } else {
        Err(Error::config(key, format!("an integer <= {max}"), v))
    }
}

/// An integer `>= min`.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn at_least(key: &str, v: usize, min: usize) -> Result<()> {
    if v >= min {
        Ok(())
    } else {
        Err(Error::config(key, format!("an integer >= {min}"), v))
    }
}

/// Adam's two decay rates, each in `[0, 1)`.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn betas(key: &str, b: [f64; 2]) -> Result<()> {
    if b.iter().all(|x| x.is_finite() && (0.0..1.0).contains(x)) {
        Ok(())
    } else {
        Err(Error::config(
            key,
            "two numbers in [0, 1), e.g. [0.9, 0.999]",
            format!("{b:?}"),
        ))
    }
}

/// A non-empty list of hidden-layer widths in `1..=MAX_WIDTH`.
///
/// # Errors
/// [`Error::Config`] naming `key`.
pub fn widths(key: &str, w: &[usize]) -> Result<()> {
    if w.is_empty() || w.iter().any(|&v| v == 0 || v > MAX_WIDTH) {
        return Err(Error::config(
            key,
            format!("a non-empty list of widths from 1 to {MAX_WIDTH}, e.g. [32, 32]"),
            format!("{w:?}"),
        ));
    }
    Ok(())
}
