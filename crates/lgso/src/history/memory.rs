//! The history: every sample `(psi, x, y)` drawn during a run, append-only,
//! queryable by trust region (paper, Algorithm 1: samples of earlier
//! iterations that fall in the current trust region are reused).

use crate::data::{Outcome, Samples};
use crate::error::Result;

/// All samples of a run, in arrival order, with the iteration that drew
/// them.
#[derive(Debug, Clone)]
pub struct History {
    samples: Samples,
    iteration: Vec<u64>,
    calls: u64,
}

impl History {
    /// An empty history for dimensions `psi: n`, `x: d`, `y: m`.
    pub fn new(n: usize, d: usize, m: usize) -> Self {
        History {
            samples: Samples::empty(n, d, m),
            iteration: Vec::new(),
            calls: 0,
        }
    }

    /// Appends the samples of the given outcomes, tagged with their request's
    /// iteration. Every sample counts as one simulator call.
    ///
    /// # Errors
    /// [`crate::Error::Dimension`] when an outcome's shapes differ from the
    /// history's.
    pub fn append(&mut self, outcomes: &[Outcome]) -> Result<()> {
        for o in outcomes {
            self.samples.append(&o.samples)?;
            self.iteration
                .extend(std::iter::repeat_n(o.request.iteration, o.samples.len()));
            self.calls += o.samples.len() as u64;
        }
        Ok(())
    }

    /// Number of samples stored (= simulator calls charged).
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Simulator calls recorded.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// All samples.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// Indices of the samples whose `psi_l` lies in the open L-infinity box
    /// of half-width `eps` around `center`: `max_j |psi_lj - center_j| < eps`
    /// (the reference's experience-replay query).
    pub fn in_box_indices(&self, center: &[f64], eps: f64) -> Vec<usize> {
        let psi = &self.samples.psi;
        (0..psi.rows())
            .filter(|&i| {
                psi.row(i)
                    .iter()
                    .zip(center)
                    .all(|(a, c)| (a - c).abs() < eps)
            })
            .collect()
    }

    /// The samples in the trust region around `center` (see
    /// [`History::in_box_indices`]).
    pub fn in_box(&self, center: &[f64], eps: f64) -> Samples {
        self.samples.select(&self.in_box_indices(center, eps))
    }

    /// The iteration that drew sample `i`.
    pub fn iteration_of(&self, i: usize) -> u64 {
        self.iteration[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Matrix, Request};

    fn outcome(psi: &[f64], it: u64, k: usize) -> Outcome {
        Outcome {
            request: Request {
                id: it,
                iteration: it,
                psi: psi.to_vec(),
                count: k,
                seed: 0,
            },
            samples: Samples {
                psi: Matrix::repeat_row(psi, k),
                x: Matrix::zeros(k, 1),
                y: Matrix::zeros(k, 1),
            },
        }
    }

    #[test]
    fn box_query_is_open_linf_box() {
        let mut h = History::new(2, 1, 1);
        h.append(&[
            outcome(&[0.0, 0.0], 0, 2),    // centre: in
            outcome(&[0.49, -0.49], 0, 1), // corner inside: in
            outcome(&[0.5, 0.0], 1, 1),    // on the boundary: out (strict <)
            outcome(&[0.3, 0.6], 1, 1),    // L-inf 0.6: out, though L2 ~0.67
            outcome(&[-0.45, 0.2], 2, 3),  // in
        ])
        .unwrap();
        assert_eq!(h.calls(), 8);
        assert_eq!(h.in_box_indices(&[0.0, 0.0], 0.5), vec![0, 1, 2, 5, 6, 7]);
        // only the (0.49, -0.49) point is within 0.25 of (0.4, -0.4) on both axes
        assert_eq!(h.in_box_indices(&[0.4, -0.4], 0.25), vec![2]);
        assert_eq!(h.iteration_of(7), 2);
        assert_eq!(h.in_box(&[10.0, 10.0], 0.5).len(), 0);
    }
}
