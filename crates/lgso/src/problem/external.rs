//! Problems whose simulator is a user's program (any language), run by
//! worker processes that speak the simulator protocol (docs/protocol.md),
//! and the built-in objective families for them.
//!
//! The simulator itself draws both x and y; lgso only sees what comes back.
//! The objective `R(y)` is chosen in the config (`[objective] kind`):
//!
//! | kind | `R(y)` for `y: [m]` | settings |
//! | --- | --- | --- |
//! | `identity` (default) | `y_1` (the simulator returns the per-sample objective itself; needs `m = 1`) | |
//! | `mean` | `(1/m) sum_j y_j` | |
//! | `weighted_sum` | `sum_j w_j y_j` | `weights = [m numbers]` |
//! | `squared_distance` | `sum_j (y_j - t_j)^2` | `target = [m numbers]` |
//! | `window` | `sum_j -(sigmoid(y_j - a) - sigmoid(y_j - b))`, in `(-m, 0)`: lowest when `y` lies well inside `[a, b]` (the three-hump objective is `a = 0, b = 10`, problems.md section 1) | `window = [a, b]` |
//!
//! Every family is written with tensor operations, so the surrogate
//! gradient flows through it (paper, eq. 3).

use std::sync::Arc;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::{Dims, Objective, Problem, ProblemDefaults, Simulator};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::seed::Rng;

/// The objective `R(y)` for an external simulator (`[objective]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveSettings {
    /// `identity` (default: y is the per-sample objective), `mean`,
    /// `weighted_sum`, `squared_distance` or `window`.
    pub kind: String,
    /// Weights of `weighted_sum`, `[m]`.
    pub weights: Option<Vec<f64>>,
    /// Target of `squared_distance`, `[m]`.
    pub target: Option<Vec<f64>>,
    /// `[a, b]` of `window`.
    pub window: Option<[f64; 2]>,
}

impl Default for ObjectiveSettings {
    fn default() -> Self {
        ObjectiveSettings {
            kind: "identity".into(),
            weights: None,
            target: None,
            window: None,
        }
    }
}

impl ObjectiveSettings {
    /// The family this table describes.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown kind or a missing setting.
    pub fn family(&self) -> Result<ObjectiveFamily> {
        use ObjectiveFamily as F;
        let need = |key: &str, what: &str| Error::config(key, what, "nothing");
        Ok(match self.kind.as_str() {
            "identity" => F::Identity,
            "mean" => F::Mean,
            "weighted_sum" => F::WeightedSum(self.weights.clone().ok_or_else(|| {
                need(
                    "objective.weights",
                    "weights = [m numbers] for weighted_sum",
                )
            })?),
            "squared_distance" => F::SquaredDistance(self.target.clone().ok_or_else(|| {
                need(
                    "objective.target",
                    "target = [m numbers] for squared_distance",
                )
            })?),
            "window" => {
                let [a, b] = self
                    .window
                    .ok_or_else(|| need("objective.window", "window = [a, b] for window"))?;
                F::Window(a, b)
            }
            other => {
                return Err(Error::config(
                    "objective.kind",
                    format!("one of {}", OBJECTIVE_KINDS.join(", ")),
                    format!("{other:?}"),
                ))
            }
        })
    }
}

/// What lgso knows of an external simulator (from its handshake).
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalSpec {
    /// Name for messages (the handshake's, or the program's file name).
    pub name: String,
    /// Dimensions of psi, x and y.
    pub dims: Dims,
    /// Names of the psi coordinates, if the simulator gave them.
    pub psi_names: Option<Vec<String>>,
    /// Bounds of psi, if the simulator gave them.
    pub bounds: Option<Vec<(f64, f64)>>,
}

/// The in-process face of an external simulator: its dimensions only.
/// Requests are evaluated by worker processes (an [`crate::evaluate::Evaluator`]),
/// never through [`Simulator::simulate`].
#[derive(Debug, Clone)]
pub struct ExternalSimulator {
    spec: ExternalSpec,
}

impl Simulator for ExternalSimulator {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn dims(&self) -> Dims {
        self.spec.dims
    }

    fn sample_x(&self, count: usize, _rng: &mut Rng) -> Matrix {
        Matrix::zeros(count, self.spec.dims.x)
    }

    fn simulate(&self, psi: &[f64], _x: &Matrix, _rng: &mut Rng) -> Result<Matrix> {
        Err(Error::Simulator {
            problem: self.spec.name.clone(),
            psi: psi.to_vec(),
            reason: "an external simulator runs in worker processes, not in-process".into(),
        })
    }

    fn samples_x(&self) -> bool {
        false
    }
}

/// A built-in objective family for external simulators (see the module
/// docs for the formulas).
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectiveFamily {
    /// `R = y_1`.
    Identity,
    /// `R = mean_j y_j`.
    Mean,
    /// `R = sum_j w_j y_j`.
    WeightedSum(Vec<f64>),
    /// `R = sum_j (y_j - t_j)^2`.
    SquaredDistance(Vec<f64>),
    /// `R = sum_j -(sigmoid(y_j - a) - sigmoid(y_j - b))`.
    Window(f64, f64),
}

/// The objective names `[objective] kind` accepts.
pub const OBJECTIVE_KINDS: &[&str] = &[
    "identity",
    "mean",
    "weighted_sum",
    "squared_distance",
    "window",
];

impl ObjectiveFamily {
    /// Checks the family against the output dimension `m`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the `objective.*` key when a vector has the
    /// wrong length, a value is not finite, `identity` meets `m != 1`, or
    /// the window is empty.
    pub fn check(&self, m: usize) -> Result<()> {
        let vector = |key: &str, v: &[f64]| -> Result<()> {
            if v.len() != m || v.iter().any(|x| !x.is_finite()) {
                return Err(Error::config(
                    key,
                    format!("{m} finite numbers (one per y component of the simulator)"),
                    format!("{v:?}"),
                ));
            }
            Ok(())
        };
        match self {
            ObjectiveFamily::Identity if m != 1 => Err(Error::config(
                "objective.kind",
                format!(
                    "a family that reduces the simulator's {m} y components to one number \
                     (mean, weighted_sum, squared_distance, window); identity needs y of dimension 1"
                ),
                "\"identity\"",
            )),
            ObjectiveFamily::WeightedSum(w) => vector("objective.weights", w),
            ObjectiveFamily::SquaredDistance(t) => vector("objective.target", t),
            ObjectiveFamily::Window(a, b) if !(a.is_finite() && b.is_finite() && a < b) => Err(Error::config(
                "objective.window",
                "[a, b] with finite a < b",
                format!("[{a}, {b}]"),
            )),
            _ => Ok(()),
        }
    }
}

impl Objective for ObjectiveFamily {
    fn per_sample(&self, y: &Tensor, _x: &Tensor, _psi: &Tensor) -> candle_core::Result<Tensor> {
        let (b, m) = y.dims2()?;
        let row = |v: &[f64]| -> candle_core::Result<Tensor> {
            let t = Tensor::from_vec(v.to_vec(), (1, m), y.device())?;
            t.to_dtype(y.dtype())?.broadcast_as((b, m))
        };
        match self {
            ObjectiveFamily::Identity => y.narrow(1, 0, 1)?.reshape(b),
            ObjectiveFamily::Mean => y.mean(1),
            ObjectiveFamily::WeightedSum(w) => (y * row(w)?)?.sum(1),
            ObjectiveFamily::SquaredDistance(t) => (y - row(t)?)?.sqr()?.sum(1),
            ObjectiveFamily::Window(a, b_) => {
                // -(sigmoid(y - a) - sigmoid(y - b)) = 0.5 (tanh((y - b)/2) - tanh((y - a)/2))
                let low = y.affine(0.5, -0.5 * a)?.tanh()?;
                let high = y.affine(0.5, -0.5 * b_)?.tanh()?;
                (high - low)?.affine(0.5, 0.0)?.sum(1)
            }
        }
    }
}

/// The default L-GSO settings for an external simulator with `n`
/// parameters: `N = clamp(3n/2, 4, 20)` (the paper's 4, 15 and 20 for
/// n = 2, 10 and 100 follow this rule), `eps = 0.2`, `M = 1000` (user
/// simulators are expensive), Adam lr 0.1 (lgso.md).
pub fn defaults(n: usize) -> ProblemDefaults {
    ProblemDefaults {
        n_points: (3 * n / 2).clamp(4, 20),
        eps: 0.2,
        samples_per_point: 1000,
        lr: 0.1,
    }
}

/// Builds the [`Problem`] of an external simulator: its spec, the chosen
/// objective family and a start point.
///
/// # Errors
/// [`Error::Config`] from [`ObjectiveFamily::check`].
pub fn problem(spec: ExternalSpec, objective: ObjectiveFamily, start: Vec<f64>) -> Result<Problem> {
    objective.check(spec.dims.y)?;
    let n = spec.dims.psi;
    Ok(Problem {
        name: super::EXTERNAL,
        description: "a user simulator run through the lgso simulator protocol",
        objective: Arc::new(objective),
        start,
        defaults: defaults(n),
        target: f64::NEG_INFINITY,
        exact: None,
        bounds: spec.bounds.clone(),
        psi_names: spec.psi_names.clone(),
        simulator: Arc::new(ExternalSimulator { spec }),
    })
}

/// `R` of each row of `y` (`[k, m]`) in f64, for tests and reports.
///
/// # Errors
/// Tensor errors.
pub fn evaluate_rows(objective: &ObjectiveFamily, y: &Matrix) -> Result<Vec<f64>> {
    let dev = candle_core::Device::Cpu;
    let t = Tensor::from_slice(y.as_slice(), (y.rows(), y.cols()), &dev)?;
    let none = Tensor::zeros((y.rows(), 1), DType::F64, &dev)?;
    Ok(objective.per_sample(&t, &none, &none)?.to_vec1::<f64>()?)
}
