//! Plain data passed between the layers: matrices, simulator requests and
//! the samples they produce.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A dense row-major matrix of `f64`, shape `[rows, cols]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A `[rows, cols]` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps row-major `data` of length `rows * cols`.
    ///
    /// # Errors
    /// [`Error::Dimension`] when the length does not match.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::Dimension {
                what: format!("matrix data for shape [{rows}, {cols}]"),
                expected: rows * cols,
                found: data.len(),
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// `rows` copies of the row vector `row`: shape `[rows, row.len()]`.
    pub fn repeat_row(row: &[f64], rows: usize) -> Self {
        let mut data = Vec::with_capacity(rows * row.len());
        for _ in 0..rows {
            data.extend_from_slice(row);
        }
        Matrix {
            rows,
            cols: row.len(),
            data,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major data.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The row-major data, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the matrix and returns its row-major data.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `i` as a slice. Panics if `i >= rows` (internal indexing only).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i` as a mutable slice.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Appends the rows of `other`, which must have the same number of
    /// columns (or `self` must be empty).
    ///
    /// # Errors
    /// [`Error::Dimension`] when the column counts differ.
    pub fn append_rows(&mut self, other: &Matrix) -> Result<()> {
        if self.rows == 0 && self.data.is_empty() {
            self.cols = other.cols;
        }
        if other.cols != self.cols {
            return Err(Error::Dimension {
                what: "rows appended to a matrix".into(),
                expected: self.cols,
                found: other.cols,
            });
        }
        self.data.extend_from_slice(&other.data);
        self.rows += other.rows;
        Ok(())
    }

    /// The rows with the given indices, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }

    /// The data converted to `f32`, row-major (for building tensors).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }
}

/// Requests one iteration may hold below the monitor's (`2^20 - 1`).
pub const REQUESTS_PER_ITERATION: u64 = (1 << 20) - 1;

/// The id of request `index` of iteration `iteration`:
/// `iteration * 2^20 + index`, unique within a run for `index` below
/// [`REQUESTS_PER_ITERATION`]; the monitor's request of an iteration (its
/// objective estimate) takes the last index, `2^20 - 1`
/// ([`monitor_request_id`]). The run database keys requests by this id, so
/// a resumed run finds the requests it asks again.
pub fn request_id(iteration: u64, index: u64) -> u64 {
    (iteration << 20) + index
}

/// The id of the monitor's request of iteration `iteration`, above any
/// optimizer request of that iteration (see [`request_id`]).
pub fn monitor_request_id(iteration: u64) -> u64 {
    request_id(iteration, REQUESTS_PER_ITERATION)
}

/// One request to the simulator: "draw `count` samples at `psi`".
///
/// The evaluator draws `count` inputs `x ~ q(x)` and one `y ~ p(y | x; psi)`
/// for each, all from an RNG seeded with `seed`: `count` simulator calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Unique within a run: [`request_id`]`(iteration, index)`.
    pub id: u64,
    /// Optimizer iteration that asked for it (0-based).
    pub iteration: u64,
    /// Parameters, shape `[n]`.
    pub psi: Vec<f64>,
    /// Number of samples to draw (simulator calls).
    pub count: usize,
    /// Seed of the RNG used for x and y.
    pub seed: u64,
}

/// A batch of samples `(psi_i, x_i, y_i)`, one row each.
///
/// Shapes: `psi: [k, n]`, `x: [k, d]`, `y: [k, m]`; all three have `k` rows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Samples {
    /// Parameters of each sample, `[k, n]`.
    pub psi: Matrix,
    /// Simulator inputs, `[k, d]`.
    pub x: Matrix,
    /// Simulator outputs, `[k, m]`.
    pub y: Matrix,
}

impl Samples {
    /// An empty batch with the given dimensions.
    pub fn empty(n: usize, d: usize, m: usize) -> Self {
        Samples {
            psi: Matrix::zeros(0, n),
            x: Matrix::zeros(0, d),
            y: Matrix::zeros(0, m),
        }
    }

    /// Number of samples `k`.
    pub fn len(&self) -> usize {
        self.y.rows()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends another batch with the same dimensions.
    ///
    /// # Errors
    /// [`Error::Dimension`] when the dimensions differ.
    pub fn append(&mut self, other: &Samples) -> Result<()> {
        self.psi.append_rows(&other.psi)?;
        self.x.append_rows(&other.x)?;
        self.y.append_rows(&other.y)?;
        Ok(())
    }

    /// The samples with the given row indices.
    pub fn select(&self, idx: &[usize]) -> Samples {
        Samples {
            psi: self.psi.select_rows(idx),
            x: self.x.select_rows(idx),
            y: self.y.select_rows(idx),
        }
    }
}

/// The answer to one [`Request`]: the request and the samples drawn for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The request this answers.
    pub request: Request,
    /// `request.count` samples at `request.psi`.
    pub samples: Samples,
}

/// Reads an `f64` written by serde_json, where NaN and infinities are
/// written as `null`: `null` reads back as NaN (trace rows of the run
/// database; an objective that could not be estimated is NaN).
///
/// # Errors
/// When the value is neither a number nor null.
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_select_keep_rows_aligned() {
        let mut a = Samples {
            psi: Matrix::repeat_row(&[1.0, 2.0], 2),
            x: Matrix::from_vec(2, 1, vec![0.1, 0.2]).unwrap(),
            y: Matrix::from_vec(2, 1, vec![10.0, 20.0]).unwrap(),
        };
        let b = Samples {
            psi: Matrix::repeat_row(&[3.0, 4.0], 1),
            x: Matrix::from_vec(1, 1, vec![0.3]).unwrap(),
            y: Matrix::from_vec(1, 1, vec![30.0]).unwrap(),
        };
        a.append(&b).unwrap();
        assert_eq!(a.len(), 3);
        let s = a.select(&[2, 0]);
        assert_eq!(s.psi.row(0), &[3.0, 4.0]);
        assert_eq!(s.y.as_slice(), &[30.0, 10.0]);
        assert!(Matrix::from_vec(2, 2, vec![1.0]).is_err());
    }
}
