//! Run configuration: every setting of L-GSO (lgso.md) with the paper's
//! values as defaults, read from TOML.
//!
//! The raw file is parsed with unknown keys rejected (the parser's message
//! names the key); [`Config::resolve`] then fills the per-problem defaults
//! and checks every value against its expected form, so the rest of the
//! library only ever sees a validated [`ResolvedConfig`].
//!
//! ```toml
//! problem = "rosenbrock"
//! seed = 1
//!
//! [stop]
//! budget = 700000        # simulator calls charged to the optimizer
//!
//! [lgso]
//! n_points = 15          # N; default per problem
//! eps = 0.2              # trust-region half-width; default per problem
//!
//! [gan]
//! epochs = 15
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{check_vector, Error, Result};
use crate::problem::{self, Problem};

/// The whole configuration of a run, as read from a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Built-in problem name (see [`problem::NAMES`]). Default `three-hump`.
    pub problem: String,
    /// Optimizer: `lgso` (default) or a baseline of baselines.md: `numdiff`,
    /// `ges`, `reinforce`, `cmaes`, `bo`, `lax`, `oracle` (see [`METHODS`]).
    pub method: String,
    /// Run seed; every random draw of the run derives from it. Default 0.
    pub seed: u64,
    /// Start point psi_0, `[n]`; default: the problem's (the paper's).
    pub start: Option<Vec<f64>>,
    /// Stopping rules.
    pub stop: StopConfig,
    /// How the objective at psi is reported in the trace.
    pub monitor: MonitorConfig,
    /// L-GSO settings (Algorithm 1 of the paper).
    pub lgso: LgsoConfig,
    /// Settings of the GAN surrogate.
    pub gan: GanConfig,
    /// Settings of the FFJORD surrogate.
    pub ffjord: FfjordConfig,
    /// Settings of the mixture-density-network surrogate.
    pub mdn: MdnConfig,
    /// Numerical differentiation baseline.
    pub numdiff: NumDiffConfig,
    /// Guided evolutionary strategies baseline.
    pub ges: GesConfig,
    /// REINFORCE ("Learning to Simulate") baseline.
    pub reinforce: ReinforceConfig,
    /// CMA-ES baseline.
    pub cmaes: CmaesConfig,
    /// Bayesian optimization baseline.
    pub bo: BoConfig,
    /// LAX baseline.
    pub lax: LaxConfig,
    /// Exact-gradient oracle (problems with an exact objective only).
    pub oracle: OracleConfig,
    /// Box bounds `[[lo, hi], ...]` of psi (`[n]` pairs); default: the
    /// problem's or the external simulator's handshake, if any. The trust
    /// region is clipped to them and every L-GSO step projected inside.
    /// Each entry must have exactly two numbers.
    #[serde(deserialize_with = "bound_pairs")]
    pub bounds: Option<Vec<[f64; 2]>>,
    /// An external simulator (problem `external`) and how its worker
    /// processes are run.
    pub simulator: SimulatorConfig,
    /// The objective family for an external simulator.
    pub objective: ObjectiveConfig,
    /// Settings of the built-in problem `muon-shield`.
    pub muon_shield: MuonShieldConfig,
}

/// Settings of the built-in problem `muon-shield` (`[muon_shield]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MuonShieldConfig {
    /// Input muons: the hits pool (muon_shield.md §5.3) of the first
    /// `hits_pool` enhanced muons, those that hit `|X| <= 3.3 m, |Y| <=
    /// 5.3 m` at the start psi, instead of the full spectrum. Built once
    /// when the configuration is resolved (~1 s of tracking per 50 000
    /// candidates). Default: none (the full spectrum).
    pub hits_pool: Option<usize>,
    /// The objective: `"hits"` (default; the L-GSO hits loss per muon,
    /// muon_shield.md §7.1) or `"ship_fcn"` (SHiP's mass-penalised FCN,
    /// §7.2: `(1 + exp(10 (W - W*) / W*)) (1 + N E[w])`, hits above
    /// 1 GeV/c only).
    pub objective: Option<String>,
    /// `N` of `ship_fcn`: the muons whose weights one FCN value sums.
    /// Default 50 000 (the paper's muons per call). Only with
    /// `objective = "ship_fcn"`.
    pub ship_muons: Option<usize>,
    /// FairShip's `stepGeo` geometry (muon_shield.md §3.3): each magnet
    /// as slabs of at most 50 cm with constant cross-sections, as the
    /// L-GSO service of 2020 ran, instead of a linear taper. Default false.
    pub step_geo: Option<bool>,
    /// The input muons: `"enhanced"` (default), `"physical"` or the path of
    /// a muon file (CSV or `.npy`, muon_shield.md §5.1); a relative path
    /// is made absolute when the configuration is resolved.
    pub spectrum: Option<String>,
}

impl MuonShieldConfig {
    /// The objective these settings select.
    ///
    /// # Errors
    /// [`Error::Config`] naming `muon_shield.objective` or
    /// `muon_shield.ship_muons`.
    pub fn shield_objective(&self) -> Result<problem::muon_shield::ShieldObjective> {
        use problem::muon_shield::{objective::SHIP_DEFAULT_MUONS, ShieldObjective};
        match (self.objective.as_deref(), self.ship_muons) {
            (None | Some("hits"), None) => Ok(ShieldObjective::Hits),
            (None | Some("hits"), Some(n)) => Err(Error::config(
                "muon_shield.ship_muons",
                "no ship_muons unless objective = \"ship_fcn\" (it is the N of SHiP's FCN)",
                format!("ship_muons = {n} with the hits objective"),
            )),
            (Some("ship_fcn"), Some(0)) => Err(Error::config(
                "muon_shield.ship_muons",
                "a number of muons >= 1 (default 50000)",
                0,
            )),
            (Some("ship_fcn"), n) => Ok(ShieldObjective::ShipFcn {
                muons: n.unwrap_or(SHIP_DEFAULT_MUONS),
            }),
            (Some(other), _) => Err(Error::config(
                "muon_shield.objective",
                "\"hits\" (the L-GSO hits loss) or \"ship_fcn\" (SHiP's mass-penalised FCN)",
                format!("{other:?}"),
            )),
        }
    }
}

/// The muon-shield simulator of `[muon_shield]` (spectrum and geometry).
///
/// # Errors
/// [`Error::Config`] (key `muon_shield.spectrum`) for a spectrum that is
/// neither built in nor a file; the muon file's own errors.
fn shield_simulator(c: &MuonShieldConfig) -> Result<problem::muon_shield::ShieldSimulator> {
    use problem::muon_shield::{GeometryOptions, ShieldSimulator, Spectrum};
    let spectrum = match c.spectrum.as_deref() {
        None => Spectrum::Enhanced,
        Some(s @ ("enhanced" | "physical")) => Spectrum::parse(s)?,
        Some(path) if !std::path::Path::new(path).is_file() => {
            return Err(Error::config(
                "muon_shield.spectrum",
                "\"enhanced\", \"physical\" or the path of a muon file (CSV or .npy: px, py, \
                 pz, x0, y0, z0, pdg)",
                format!("{path:?}, which is not a file"),
            ))
        }
        Some(path) => Spectrum::parse(path)?,
    };
    Ok(ShieldSimulator {
        spectrum,
        geometry: GeometryOptions {
            step_geo: c.step_geo.unwrap_or(false),
            ..Default::default()
        },
        ..ShieldSimulator::default()
    })
}

/// Reads `bounds = [[lo, hi], ...]`, refusing entries with other than two
/// numbers (a fixed-size array would drop extra numbers silently).
fn bound_pairs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<[f64; 2]>>, D::Error> {
    let raw: Option<Vec<Vec<f64>>> = Option::deserialize(d)?;
    raw.map(|v| {
        v.into_iter()
            .map(|pair| match pair.as_slice() {
                &[lo, hi] => Ok([lo, hi]),
                other => Err(serde::de::Error::custom(format!(
                    "each entry of `bounds` must be [lo, hi], found {other:?}"
                ))),
            })
            .collect()
    })
    .transpose()
}

/// The most worker processes `[simulator] workers` may ask for.
pub const MAX_WORKERS: usize = 256;

/// How an external simulator is run (issue #4; protocol in
/// docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// The program and its arguments, e.g. `["python3", "sim.py"]`; never
    /// run through a shell. Empty: no external simulator.
    pub command: Vec<String>,
    /// Worker processes evaluating requests concurrently. Default: the
    /// number of cores.
    pub workers: Option<usize>,
    /// Seconds a worker may take to answer one batch before it is killed
    /// and the batch retried. Default: no limit.
    pub timeout: Option<f64>,
    /// Times a batch is re-sent after its worker crashed, exited, timed out
    /// or printed garbage. Default 2.
    pub retries: u32,
    /// Seconds to wait for each worker's handshake line. Default 30.
    pub handshake_timeout: f64,
    /// A request larger than this is split into chunks of this many
    /// samples (seeded per chunk, so results do not depend on the number
    /// of workers). Default 1000.
    pub chunk_samples: usize,
    /// At most this many samples per protocol message. Default 1000.
    pub batch_samples: usize,
    /// The run stops (everything saved) once more than this share of the
    /// samples it asked for were lost (failed requests, rejected NaN or
    /// infinite samples) and at least 3 requests failed. Default 0.1.
    pub max_failure_rate: f64,
    /// Expected psi dimension; the handshake must agree. Default: any.
    pub psi_dim: Option<usize>,
    /// Expected x dimension; the handshake must agree. Default: any.
    pub x_dim: Option<usize>,
    /// Expected y dimension; the handshake must agree. Default: any.
    pub y_dim: Option<usize>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            command: Vec::new(),
            workers: None,
            timeout: None,
            retries: 2,
            handshake_timeout: 30.0,
            chunk_samples: 1000,
            batch_samples: 1000,
            max_failure_rate: 0.1,
            psi_dim: None,
            x_dim: None,
            y_dim: None,
        }
    }
}

/// The objective `R(y)` for an external simulator
/// ([`crate::problem::external`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveConfig {
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

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            kind: "identity".into(),
            weights: None,
            target: None,
            window: None,
        }
    }
}

impl ObjectiveConfig {
    /// The family this table describes.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown kind or a missing setting.
    pub fn family(&self) -> Result<crate::problem::external::ObjectiveFamily> {
        use crate::problem::external::{ObjectiveFamily as F, OBJECTIVE_KINDS};
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

/// The optimizers `method` may name.
pub const METHODS: [&str; 8] = [
    "lgso",
    "numdiff",
    "ges",
    "reinforce",
    "cmaes",
    "bo",
    "lax",
    "oracle",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            problem: "three-hump".into(),
            method: "lgso".into(),
            seed: 0,
            start: None,
            stop: StopConfig::default(),
            monitor: MonitorConfig::default(),
            lgso: LgsoConfig::default(),
            gan: GanConfig::default(),
            ffjord: FfjordConfig::default(),
            mdn: MdnConfig::default(),
            numdiff: NumDiffConfig::default(),
            ges: GesConfig::default(),
            reinforce: ReinforceConfig::default(),
            cmaes: CmaesConfig::default(),
            bo: BoConfig::default(),
            lax: LaxConfig::default(),
            oracle: OracleConfig::default(),
            bounds: None,
            simulator: SimulatorConfig::default(),
            objective: ObjectiveConfig::default(),
            muon_shield: MuonShieldConfig::default(),
        }
    }
}

/// When a run stops. Whichever rule fires first ends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StopConfig {
    /// Simulator-call budget charged to the optimizer (the draws used to
    /// report the objective are not charged). Default: the problem's
    /// default budget when absent.
    pub budget: Option<u64>,
    /// Maximum number of optimizer iterations. Default: none.
    pub max_iterations: Option<u64>,
    /// Stop once the reported objective estimate is at or below this value.
    /// Default: none.
    pub target: Option<f64>,
}

/// How the objective at the current psi is estimated for the trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Fresh simulator draws at psi after each iteration, averaged to report
    /// `E[R](psi)`. Not charged to the budget. Default 20000 for built-in
    /// problems; for an external simulator (whose draws are real simulator
    /// runs, stored as `monitor` requests) `M`, the samples per point.
    pub samples: Option<usize>,
}

/// L-GSO settings (lgso.md, "Defaults used for the paper's results").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LgsoConfig {
    /// Surrogate family: `gan` (the conditional Cramer GAN, default),
    /// `ffjord` (a conditional continuous normalizing flow) or `mdn` (a
    /// conditional mixture density network); see [`SURROGATES`].
    pub surrogate: String,
    /// `N`, parameter points per iteration drawn by Latin hypercube in the
    /// trust region (the centre is added: N + 1 points). Default: per
    /// problem (three hump 4, Rosenbrock 15, submanifold Rosenbrock 20,
    /// hump 40-D 5, Boston 20).
    pub n_points: Option<usize>,
    /// Trust-region half-width `eps` (`step_data_gen`). Default: per problem
    /// (0.5, 0.2, 0.2, 0.2, 0.1).
    pub eps: Option<f64>,
    /// `M`, samples per parameter point (`n_samples_per_dim`). Default: per
    /// problem (3000, the paper's, except three hump: 1000).
    pub samples_per_point: Option<usize>,
    /// `K`, surrogate samples for the psi gradient (`num_repetitions`).
    /// Default 10000.
    pub gradient_samples: usize,
    /// Adam learning rate on psi. Default: per problem (the paper's 0.1;
    /// three hump 0.3, see [`crate::problem::ProblemDefaults::lr`]).
    pub lr: Option<f64>,
    /// Adam betas on psi. Default (0.9, 0.999) (PyTorch's).
    pub betas: [f64; 2],
    /// Adam epsilon on psi. Default 1e-8.
    pub adam_eps: f64,
    /// Keep Adam's moments across iterations (`reuse_optimizer`). Default true.
    pub reuse_optimizer: bool,
    /// Train on earlier samples inside the trust region too. Default true.
    pub reuse_history: bool,
    /// At most this many samples are trained on; above it a random subset
    /// is drawn (the reference's cap). Default 1000000.
    pub max_train_samples: usize,
    /// Project each step onto the Euclidean ball of radius eps around the
    /// previous psi. Default true.
    pub project: bool,
}

impl Default for LgsoConfig {
    fn default() -> Self {
        LgsoConfig {
            surrogate: "gan".into(),
            n_points: None,
            eps: None,
            samples_per_point: None,
            gradient_samples: 10_000,
            lr: None,
            betas: [0.9, 0.999],
            adam_eps: 1e-8,
            reuse_optimizer: true,
            reuse_history: true,
            max_train_samples: 1_000_000,
            project: true,
        }
    }
}

/// Conditional Cramer GAN settings (lgso.md, "GAN surrogate of the
/// reference").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GanConfig {
    /// Dimension of the generator noise z. Default 150.
    pub noise_dim: usize,
    /// Generator hidden widths; the first two layers use tanh, the last
    /// leaky ReLU. Default [100, 100, 100].
    pub generator_hidden: Vec<usize>,
    /// Critic hidden widths; the first layer uses tanh, the rest leaky ReLU.
    /// Default [100, 100].
    pub critic_hidden: Vec<usize>,
    /// Critic output dimension (Cramer GAN feature space). Default 256.
    pub critic_outputs: usize,
    /// Adam learning rate of both nets. Default 8e-4.
    pub lr: f64,
    /// Adam betas of both nets. Default (0.5, 0.999).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 15.
    pub epochs: usize,
    /// Critic updates per minibatch. Default 1.
    pub critic_steps: usize,
    /// Generator updates per minibatch. Default 1.
    pub generator_steps: usize,
    /// Instance noise: N(0,1) * this * (per-column std of the batch) is added
    /// to real and generated y. Default 0.01.
    pub instance_noise: f64,
    /// Coefficient of the one-sided gradient penalty. Default 10.
    pub gradient_penalty: f64,
    /// Negative slope of the leaky ReLU. Default 0.01 (PyTorch's).
    pub leaky_slope: f64,
    /// Each minibatch is split into this many shards whose loss gradients
    /// are computed independently and averaged (weighted by rows), which is
    /// the gradient of the whole minibatch; only the instance-noise spread of
    /// generated samples and the random streams are per shard. The result
    /// depends on `shards`, never on `threads`. Default 2.
    pub shards: usize,
    /// Threads used by one fit, running the shards in parallel. 0 = all
    /// cores. Default 0.
    pub threads: usize,
}

impl Default for GanConfig {
    fn default() -> Self {
        GanConfig {
            noise_dim: 150,
            generator_hidden: vec![100, 100, 100],
            critic_hidden: vec![100, 100],
            critic_outputs: 256,
            lr: 8e-4,
            betas: [0.5, 0.999],
            batch_size: 512,
            epochs: 15,
            critic_steps: 1,
            generator_steps: 1,
            instance_noise: 0.01,
            gradient_penalty: 10.0,
            leaky_slope: 0.01,
            shards: 2,
            threads: 0,
        }
    }
}

/// The surrogate families `lgso.surrogate` may name.
pub const SURROGATES: [&str; 3] = ["gan", "ffjord", "mdn"];

/// FFJORD surrogate settings (lgso.md, "FFJORD surrogate of the
/// reference"; [`crate::surrogate::ffjord`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FfjordConfig {
    /// Hidden widths of the dynamics network `[y, t, x, psi] -> ... -> y`,
    /// tanh. Default [32, 32] (one block).
    pub hidden: Vec<usize>,
    /// Adam learning rate. Default 1e-3.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999) (PyTorch's).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 25.
    pub epochs: usize,
    /// Instance noise: N(0,1) * this * (per-column std of the batch) is added
    /// to the training y. Default 0.01.
    pub instance_noise: f64,
    /// ODE solver in training and sampling: `rk4` (classical Runge-Kutta,
    /// `ode_steps` fixed steps) or `dopri5` (adaptive Dormand-Prince 5(4)
    /// with `rtol`/`atol`, first step `1 / ode_steps`). Default `rk4`.
    pub solver: String,
    /// RK4 steps over `t in [0, 1]` (the initial step count of `dopri5`).
    /// Default 4.
    pub ode_steps: usize,
    /// Relative tolerance of `dopri5`. Default 1e-5.
    pub rtol: f64,
    /// Absolute tolerance of `dopri5`. Default 1e-5.
    pub atol: f64,
    /// Exact divergence (one vector-Jacobian product per y dimension) for y
    /// dimensions up to this; the Hutchinson estimator above. Default 2.
    pub exact_trace_max_dim: usize,
    /// Decay the learning rate from `lr` to 0 along a cosine over the fit.
    /// Default false (the reference keeps it constant).
    pub cosine_decay: bool,
    /// Shards per minibatch, as [`GanConfig::shards`]. Default 2.
    pub shards: usize,
    /// Threads of one fit (0 = all cores). Default 0.
    pub threads: usize,
}

impl Default for FfjordConfig {
    fn default() -> Self {
        FfjordConfig {
            hidden: vec![32, 32],
            lr: 1e-3,
            betas: [0.9, 0.999],
            batch_size: 512,
            epochs: 25,
            instance_noise: 0.01,
            solver: "rk4".into(),
            ode_steps: 4,
            rtol: 1e-5,
            atol: 1e-5,
            exact_trace_max_dim: 2,
            cosine_decay: false,
            shards: 2,
            threads: 0,
        }
    }
}

/// Mixture-density-network surrogate settings
/// ([`crate::surrogate::mdn`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnConfig {
    /// Gaussian components per y coordinate. Default 5.
    pub components: usize,
    /// Hidden widths of each coordinate's network, tanh. Default [64, 64].
    pub hidden: Vec<usize>,
    /// Adam learning rate at the start of the fit. Default 3e-3.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
    /// Minibatch size. Default 512.
    pub batch_size: usize,
    /// Passes over the training set per fit. Default 30.
    pub epochs: usize,
    /// Instance noise, as [`FfjordConfig::instance_noise`]. Default 0.01.
    pub instance_noise: f64,
    /// Decay the learning rate from `lr` to 0 along a cosine over the fit
    /// (without it the last iterate keeps Adam's minibatch noise). Default
    /// true.
    pub cosine_decay: bool,
    /// Shards per minibatch, as [`GanConfig::shards`]. Default 2.
    pub shards: usize,
    /// Threads of one fit (0 = all cores). Default 0.
    pub threads: usize,
}

impl FfjordConfig {
    /// The configured ODE solver.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown `solver`.
    pub fn solver(&self) -> Result<crate::surrogate::ode::Solver> {
        use crate::surrogate::ode::Solver;
        match self.solver.as_str() {
            "rk4" => Ok(Solver::Rk4 {
                steps: self.ode_steps,
            }),
            "dopri5" => Ok(Solver::Dopri5 {
                rtol: self.rtol,
                atol: self.atol,
                initial_steps: self.ode_steps,
            }),
            other => Err(Error::config(
                "ffjord.solver",
                "\"rk4\" or \"dopri5\"",
                format!("{other:?}"),
            )),
        }
    }
}

impl Default for MdnConfig {
    fn default() -> Self {
        MdnConfig {
            components: 5,
            hidden: vec![64, 64],
            lr: 3e-3,
            betas: [0.9, 0.999],
            batch_size: 512,
            epochs: 30,
            instance_noise: 0.01,
            cosine_decay: true,
            shards: 2,
            threads: 0,
        }
    }
}

/// Numerical differentiation (baselines.md): central differences per
/// coordinate, each value the mean of `samples` draws, then one Adam step.
/// Cost per step `2 n samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumDiffConfig {
    /// Finite-difference step `h`. Default 0.1.
    pub step: f64,
    /// Draws averaged per function value (`M`). Default 3000.
    pub samples: usize,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for NumDiffConfig {
    fn default() -> Self {
        NumDiffConfig {
            step: 0.1,
            samples: 3000,
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

/// Guided evolutionary strategies (Maheswaranathan et al. 2019;
/// baselines.md). Cost per step `2 P samples` calls, plus `2 n samples`
/// with `guide = "numdiff"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GesConfig {
    /// Perturbation variance scale `sigma^2`. Default 0.01.
    pub sigma2: f64,
    /// Weight of the isotropic part of the covariance, in [0, 1]. Default 0.5.
    pub alpha: f64,
    /// Gradient scale `beta`. Default 2.
    pub beta: f64,
    /// Past gradients spanning the guiding subspace. Default 20.
    pub k: usize,
    /// Antithetic pairs `P` per step. Default: the dimension of psi (the
    /// reference's 2, 10, 100, 91).
    pub pairs: Option<usize>,
    /// Draws averaged per function value (`M`). Default 3000.
    pub samples: usize,
    /// Guiding gradients: `past` (GES's own earlier estimates, no extra
    /// calls) or `numdiff` (a central-difference gradient each step, as the
    /// authors' script did, charged `2 n samples` calls). Default `past`.
    pub guide: String,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for GesConfig {
    fn default() -> Self {
        GesConfig {
            sigma2: 0.01,
            alpha: 0.5,
            beta: 2.0,
            k: 20,
            pairs: None,
            samples: 3000,
            guide: "past".into(),
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

/// REINFORCE with a moving-average baseline ("Learning to Simulate", Ruiz
/// et al. 2019; baselines.md): a Gaussian policy `N(psi, sigma^2 I)` over
/// parameters. Cost per step `policy_samples * samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReinforceConfig {
    /// Policy variance `sigma^2`. Default 0.05.
    pub sigma2: f64,
    /// Policy samples per step. Default 25.
    pub policy_samples: usize,
    /// Draws averaged per policy sample (`M`). Default 3000.
    pub samples: usize,
    /// Weight of the newest mean reward in the baseline's exponentially
    /// weighted moving average. Default 0.05.
    pub baseline_decay: f64,
    /// Adam learning rate. Default 0.1.
    pub lr: f64,
    /// Adam betas. Default (0.9, 0.999).
    pub betas: [f64; 2],
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        ReinforceConfig {
            sigma2: 0.05,
            policy_samples: 25,
            samples: 3000,
            baseline_decay: 0.05,
            lr: 0.1,
            betas: [0.9, 0.999],
        }
    }
}

/// CMA-ES (Hansen's `(mu/mu_w, lambda)` strategy with the default
/// weights); each candidate's value is the mean of `samples` draws. Cost per
/// step `lambda * samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CmaesConfig {
    /// Initial step size `sigma`. Default 0.5.
    pub sigma: f64,
    /// Population size `lambda`. Default `4 + floor(3 ln n)` (Hansen's rule).
    pub population: Option<usize>,
    /// Draws averaged per candidate (`M`). Default 3000.
    pub samples: usize,
}

impl Default for CmaesConfig {
    fn default() -> Self {
        CmaesConfig {
            sigma: 0.5,
            population: None,
            samples: 3000,
        }
    }
}

/// Bayesian optimization (baselines.md): a GP with expected improvement on
/// the box `start +- half_width`, one point per step after an initial
/// design. Cost: `initial_points * samples` calls in the first step, then
/// `samples` per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoConfig {
    /// Half-width of the search box around the start. Default 7.5.
    pub half_width: f64,
    /// Points of the initial design. Default 20.
    pub initial_points: usize,
    /// Draws averaged per point (`M`). Default 3000.
    pub samples: usize,
    /// Random candidates over which expected improvement is maximized each
    /// step. Default 2000.
    pub candidates: usize,
}

impl Default for BoConfig {
    fn default() -> Self {
        BoConfig {
            half_width: 7.5,
            initial_points: 20,
            samples: 3000,
            candidates: 2000,
        }
    }
}

/// LAX, "backprop through the void" (Grathwohl et al. 2018; baselines.md):
/// a Gaussian policy with learned mean and log standard deviation, a
/// score-function gradient with a learned control variate
/// (psi -> 10 tanh -> 1). Cost per step `policy_samples * samples` calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaxConfig {
    /// Initial policy variance `sigma^2` (every coordinate). Default 0.05
    /// (as REINFORCE's).
    pub sigma2: f64,
    /// Policy samples `K` per step. Default 1 (baselines.md).
    pub policy_samples: usize,
    /// Draws averaged per policy sample (`M`). Default 3000.
    pub samples: usize,
    /// Adam learning rate of the policy (mean and log sigma). Default 0.1.
    pub lr: f64,
    /// Adam betas of the policy. Default (0.9, 0.999).
    pub betas: [f64; 2],
    /// Adam learning rate of the control variate. Default 0.01
    /// (baselines.md).
    pub control_variate_lr: f64,
}

impl Default for LaxConfig {
    fn default() -> Self {
        LaxConfig {
            sigma2: 0.05,
            policy_samples: 1,
            samples: 3000,
            lr: 0.1,
            betas: [0.9, 0.999],
            control_variate_lr: 0.01,
        }
    }
}

/// Exact-gradient oracle: L-GSO's step (Adam with `[lgso]`'s `lr`, `betas`,
/// `adam_eps`, the projection onto the eps ball) on the true gradient of
/// `E[R]`, charged L-GSO's per-step cost. The ceiling for any gradient
/// estimator (baselines.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Calls charged per step (drawn at psi, unused). Default: L-GSO's
    /// `(N + 1) M`.
    pub calls_per_step: Option<u64>,
}

/// A configuration checked against its problem, with every default filled.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// The configuration with `start`, `stop.budget`, `lgso.n_points` and
    /// `lgso.eps` filled in; written to the run directory as `config.toml`.
    pub config: Config,
    /// The problem it runs on.
    pub problem: Problem,
}

impl ResolvedConfig {
    /// The start point psi_0.
    pub fn start(&self) -> &[f64] {
        self.config.start.as_deref().unwrap_or(&self.problem.start)
    }
    /// `N`.
    pub fn n_points(&self) -> usize {
        self.config
            .lgso
            .n_points
            .unwrap_or(self.problem.defaults.n_points)
    }
    /// `eps`.
    pub fn eps(&self) -> f64 {
        self.config.lgso.eps.unwrap_or(self.problem.defaults.eps)
    }
    /// Draws per objective estimate in the trace (`monitor.samples`).
    pub fn monitor_samples(&self) -> usize {
        self.config.monitor.samples.unwrap_or(20_000)
    }
    /// Box bounds of psi, if any (config, else the problem's).
    pub fn bounds(&self) -> Option<&[(f64, f64)]> {
        self.problem.bounds.as_deref()
    }
    /// The call budget.
    pub fn budget(&self) -> u64 {
        self.config.stop.budget.unwrap_or(u64::MAX)
    }
    /// `M`.
    pub fn samples_per_point(&self) -> usize {
        self.config
            .lgso
            .samples_per_point
            .unwrap_or(self.problem.defaults.samples_per_point)
    }
    /// Simulator calls of one L-GSO iteration: `(N + 1) * M`.
    pub fn lgso_calls_per_iteration(&self) -> u64 {
        (self.n_points() as u64 + 1) * self.samples_per_point() as u64
    }
    /// Adam learning rate on psi (`lgso.lr` or the problem's default).
    pub fn lr(&self) -> f64 {
        self.config.lgso.lr.unwrap_or(self.problem.defaults.lr)
    }
    /// psi dimension `n`.
    pub fn dim(&self) -> usize {
        self.problem.dims().psi
    }
    /// GES antithetic pairs `P`.
    pub fn ges_pairs(&self) -> usize {
        self.config.ges.pairs.unwrap_or(self.dim())
    }
    /// CMA-ES population `lambda`: the configured one or
    /// `4 + floor(3 ln n)` (Hansen 2016, Table 1).
    pub fn cmaes_population(&self) -> usize {
        self.config
            .cmaes
            .population
            .unwrap_or_else(|| default_population(self.dim()))
    }
    /// Calls the oracle is charged per step.
    pub fn oracle_calls_per_step(&self) -> u64 {
        self.config
            .oracle
            .calls_per_step
            .unwrap_or_else(|| self.lgso_calls_per_iteration())
    }
    /// Simulator calls of one iteration of the configured method, and how
    /// they are made up.
    pub fn calls_per_iteration_detail(&self) -> (u64, String) {
        let c = &self.config;
        let n = self.dim() as u64;
        match c.method.as_str() {
            "numdiff" => (
                2 * n * c.numdiff.samples as u64,
                format!("2 n M = 2 * {n} * {}", c.numdiff.samples),
            ),
            "ges" => {
                let m = c.ges.samples as u64;
                let p = self.ges_pairs() as u64;
                if c.ges.guide == "numdiff" {
                    (
                        2 * (p + n) * m,
                        format!("2 (P + n) M = 2 * ({p} + {n}) * {m}"),
                    )
                } else {
                    (2 * p * m, format!("2 P M = 2 * {p} * {m}"))
                }
            }
            "reinforce" => {
                let (s, m) = (
                    c.reinforce.policy_samples as u64,
                    c.reinforce.samples as u64,
                );
                (s * m, format!("policy_samples * M = {s} * {m}"))
            }
            "cmaes" => {
                let (l, m) = (self.cmaes_population() as u64, c.cmaes.samples as u64);
                (l * m, format!("lambda * M = {l} * {m}"))
            }
            "lax" => {
                let (k, m) = (c.lax.policy_samples as u64, c.lax.samples as u64);
                (k * m, format!("policy_samples * M = {k} * {m}"))
            }
            "bo" => {
                let (p, m) = (c.bo.initial_points as u64, c.bo.samples as u64);
                (
                    p * m,
                    format!("initial_points * M = {p} * {m} in the first step, then M"),
                )
            }
            "oracle" => (
                self.oracle_calls_per_step(),
                "oracle.calls_per_step".to_string(),
            ),
            _ => (
                self.lgso_calls_per_iteration(),
                format!(
                    "(N + 1) * M = ({} + 1) * {}",
                    self.n_points(),
                    self.samples_per_point()
                ),
            ),
        }
    }
    /// Simulator calls of one iteration of the configured method.
    pub fn calls_per_iteration(&self) -> u64 {
        self.calls_per_iteration_detail().0
    }
}

/// Hansen's default CMA-ES population for dimension `n`: `4 + floor(3 ln n)`.
pub fn default_population(n: usize) -> usize {
    4 + (3.0 * (n.max(1) as f64).ln()).floor() as usize
}

/// Default call budget of `lgso run PROBLEM` when none is given: enough for
/// a result in a few minutes on a laptop CPU for the default problem.
pub fn default_budget(problem: &str) -> u64 {
    match problem {
        "three-hump" => 60_000,
        "rosenbrock" => 700_000,
        "submanifold-rosenbrock" => 1_000_000,
        "submanifold-hump" => 300_000,
        _ => 500_000,
    }
}

impl Config {
    /// Parses a TOML document. Unknown keys and wrong types are errors that
    /// name the key.
    ///
    /// # Errors
    /// [`Error::ConfigParse`] with the parser's message.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map_or(String::new(), |s| location(text, s.start));
            Error::ConfigParse(format!("{at}{}", e.message().trim().replace('\n', " ")))
        })
    }

    /// The configuration as TOML text, ending with a newline.
    ///
    /// # Errors
    /// [`Error::ConfigParse`] if a value cannot be written as TOML (not
    /// expected for any value [`Config::resolve`] accepts).
    pub fn to_toml_string(&self) -> Result<String> {
        let mut text = toml::to_string(self).map_err(|e| Error::ConfigParse(e.to_string()))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }

    /// Builds the problem, fills per-problem defaults and validates every
    /// setting.
    ///
    /// # Errors
    /// [`Error::UnknownProblem`], [`Error::Config`] naming the key and the
    /// expected form, [`Error::Dimension`]/[`Error::NonFinite`] for the start
    /// point, [`Error::BudgetTooSmall`].
    pub fn resolve(self) -> Result<ResolvedConfig> {
        let problem = problem::by_name(&self.problem)?;
        self.resolve_with(problem)
    }

    /// As [`Config::resolve`], calling `before_pool(K)` once everything is
    /// checked and just before the muon shield's hits pool of `K`
    /// candidates is built (tens of seconds of tracking), so that a caller
    /// can say so.
    ///
    /// # Errors
    /// As [`Config::resolve`].
    pub fn resolve_announcing(self, before_pool: &mut dyn FnMut(usize)) -> Result<ResolvedConfig> {
        let problem = problem::by_name(&self.problem)?;
        self.resolve_inner(problem, before_pool)
    }

    /// As [`Config::resolve`], on a problem built elsewhere (an external
    /// simulator, [`crate::problem::external::problem`]).
    ///
    /// # Errors
    /// As [`Config::resolve`]; [`Error::Config`] for bounds that do not fit
    /// the problem or a start point outside them.
    pub fn resolve_with(self, problem: Problem) -> Result<ResolvedConfig> {
        self.resolve_inner(problem, &mut |_| {})
    }

    fn resolve_inner(
        mut self,
        mut problem: Problem,
        before_pool: &mut dyn FnMut(usize),
    ) -> Result<ResolvedConfig> {
        let n = problem.dims().psi;
        if let Some(b) = &self.bounds {
            if b.len() != n
                || b.iter()
                    .any(|[lo, hi]| !(lo.is_finite() && hi.is_finite() && lo < hi))
            {
                return Err(Error::config(
                    "bounds",
                    format!("{n} pairs [lo, hi] of finite numbers with lo < hi (one per psi coordinate)"),
                    format!("{b:?}"),
                ));
            }
            problem.bounds = Some(b.iter().map(|&[lo, hi]| (lo, hi)).collect());
        }
        if self.monitor.samples.is_none() {
            self.monitor.samples = Some(if problem.name == problem::EXTERNAL {
                self.lgso
                    .samples_per_point
                    .unwrap_or(problem.defaults.samples_per_point)
            } else {
                20_000
            });
        }
        if let Some(start) = &self.start {
            check_vector(
                &format!("start point `start` of problem {} (psi)", problem.name),
                start,
                n,
            )?;
        } else {
            self.start = Some(problem.start.clone());
        }
        if let (Some(b), Some(start)) = (&problem.bounds, &self.start) {
            for (i, (&v, &(lo, hi))) in start.iter().zip(b).enumerate() {
                if !(lo..=hi).contains(&v) {
                    return Err(Error::config(
                        "start",
                        format!("{} within its bounds [{lo}, {hi}]", problem.psi_name(i)),
                        format!("{} = {v}", problem.psi_name(i)),
                    ));
                }
            }
        }
        if let Some(start) = &self.start {
            problem.simulator.check_psi(start).map_err(|e| match e {
                Error::Simulator { reason, .. } => {
                    Error::config("start", "a psi the simulator accepts", reason)
                }
                other => other,
            })?;
        }
        self.validate_external(problem.name == problem::EXTERNAL)?;
        if self.lgso.n_points.is_none() {
            self.lgso.n_points = Some(problem.defaults.n_points);
        }
        if self.lgso.eps.is_none() {
            self.lgso.eps = Some(problem.defaults.eps);
        }
        if self.lgso.samples_per_point.is_none() {
            self.lgso.samples_per_point = Some(problem.defaults.samples_per_point);
        }
        if self.lgso.lr.is_none() {
            self.lgso.lr = Some(problem.defaults.lr);
        }
        if self.stop.budget.is_none() {
            self.stop.budget = Some(default_budget(problem.name));
        }
        if self.ges.pairs.is_none() {
            self.ges.pairs = Some(n);
        }
        if self.cmaes.population.is_none() {
            self.cmaes.population = Some(default_population(n));
        }
        self.validate()?;
        let shield_objective = self.muon_shield.shield_objective()?;
        if problem.name != problem::muon_shield::NAME && self.muon_shield != Default::default() {
            let key = if self.muon_shield.hits_pool.is_some() {
                "muon_shield.hits_pool"
            } else if self.muon_shield.objective.is_some() {
                "muon_shield.objective"
            } else if self.muon_shield.ship_muons.is_some() {
                "muon_shield.ship_muons"
            } else if self.muon_shield.spectrum.is_some() {
                "muon_shield.spectrum"
            } else {
                "muon_shield.step_geo"
            };
            return Err(Error::config(
                key,
                "no [muon_shield] settings: they set the input muons, objective and geometry \
                 of problem muon-shield",
                format!("{key} for problem {}", problem.name),
            ));
        }
        if let Some(k) = self.muon_shield.hits_pool {
            if k == 0 {
                return Err(Error::config(
                    "muon_shield.hits_pool",
                    "a number of candidate muons >= 1 (e.g. 2000000)",
                    k,
                ));
            }
        }
        if self.method == "oracle" && problem.exact.is_none() {
            return Err(Error::config(
                "method",
                "a problem with an exact objective for `oracle` (every built-in problem but \
                 boston-nn and muon-shield)",
                format!("\"oracle\" on {}", problem.name),
            ));
        }
        let mut resolved = ResolvedConfig {
            config: self,
            problem,
        };
        if resolved.config.oracle.calls_per_step.is_none() {
            resolved.config.oracle.calls_per_step = Some(resolved.lgso_calls_per_iteration());
        }
        let (per_iteration, detail) = resolved.calls_per_iteration_detail();
        if per_iteration > MAX_CALLS_PER_ITERATION || per_iteration == 0 {
            let keys = match resolved.config.method.as_str() {
                "numdiff" => "numdiff.samples",
                "ges" => "ges.pairs, ges.samples",
                "reinforce" => "reinforce.policy_samples, reinforce.samples",
                "cmaes" => "cmaes.population, cmaes.samples",
                "bo" => "bo.initial_points, bo.samples",
                "lax" => "lax.policy_samples, lax.samples",
                "oracle" => "oracle.calls_per_step",
                _ => "lgso.n_points, lgso.samples_per_point",
            };
            return Err(Error::config(
                keys,
                format!("{detail} between 1 and {MAX_CALLS_PER_ITERATION} simulator calls per iteration"),
                per_iteration,
            ));
        }
        if resolved.budget() < per_iteration {
            return Err(Error::BudgetTooSmall {
                budget: resolved.budget(),
                per_iteration,
                detail,
            });
        }
        if let Some(path) = resolved.config.muon_shield.spectrum.clone() {
            // a file: absolute, so that `lgso resume` finds it from anywhere
            if std::path::Path::new(&path).is_file() {
                if let Ok(abs) = std::path::absolute(&path) {
                    resolved.config.muon_shield.spectrum = Some(abs.display().to_string());
                }
            }
        }
        if resolved.config.muon_shield != MuonShieldConfig::default() {
            let simulator = shield_simulator(&resolved.config.muon_shield)?;
            if let Some(k) = resolved.config.muon_shield.hits_pool {
                before_pool(k);
            }
            let pool = resolved
                .config
                .muon_shield
                .hits_pool
                .map(|k| (resolved.start(), k));
            let shield = problem::muon_shield::problem_with(shield_objective, pool, simulator)?;
            resolved.problem.simulator = shield.simulator;
            resolved.problem.objective = shield.objective;
            resolved.problem.target = shield.target;
            resolved.problem.description = shield.description;
        }
        Ok(resolved)
    }

    /// Checks the `[simulator]` and `[objective]` tables of a run on an
    /// external simulator, before its workers are started.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn check_external(&self) -> Result<()> {
        self.validate_external(true)
    }

    fn validate_external(&self, external: bool) -> Result<()> {
        if !external {
            let s = &self.simulator;
            let external_only = !s.command.is_empty()
                || s.workers.is_some()
                || s.timeout.is_some()
                || s.psi_dim.is_some()
                || s.x_dim.is_some()
                || s.y_dim.is_some();
            if external_only {
                return Err(Error::config(
                    "simulator",
                    "no [simulator] command, workers (--workers), timeout or dims for a built-in \
                     problem: they run an external simulator; set problem = \"external\" with \
                     [simulator] command, or use `lgso run --simulator 'PROGRAM ARGS'` \
                     (max_failure_rate applies to every problem)",
                    format!("[simulator] settings with problem {}", self.problem),
                ));
            }
            if self.objective != ObjectiveConfig::default() {
                return Err(Error::config(
                    "objective",
                    "no [objective] table: it sets the objective of an external simulator, \
                     a built-in problem has its own",
                    format!("an [objective] table for problem {}", self.problem),
                ));
            }
            return Ok(());
        }
        let s = &self.simulator;
        if let Some(w) = s.workers {
            if !(1..=MAX_WORKERS).contains(&w) {
                return Err(Error::config(
                    "simulator.workers",
                    format!("an integer between 1 and {MAX_WORKERS}"),
                    w,
                ));
            }
        }
        positive("simulator.handshake_timeout", s.handshake_timeout)?;
        if let Some(t) = s.timeout {
            positive("simulator.timeout", t)?;
        }
        at_least("simulator.chunk_samples", s.chunk_samples, 1)?;
        at_least("simulator.batch_samples", s.batch_samples, 1)?;
        if !(0.0..=1.0).contains(&s.max_failure_rate) {
            return Err(Error::config(
                "simulator.max_failure_rate",
                "a share between 0 and 1",
                s.max_failure_rate,
            ));
        }
        self.objective.family().map(|_| ())
    }

    fn validate(&self) -> Result<()> {
        self.validate_sizes()?;
        if !METHODS.contains(&self.method.as_str()) {
            return Err(Error::config(
                "method",
                format!("one of {}", METHODS.join(", ")),
                format!("{:?}", self.method),
            ));
        }
        self.validate_baselines()?;
        let l = &self.lgso;
        if !SURROGATES.contains(&l.surrogate.as_str()) {
            return Err(Error::config(
                "lgso.surrogate",
                format!("one of {}", SURROGATES.join(", ")),
                format!("{:?}", l.surrogate),
            ));
        }
        self.validate_flows()?;
        if let Some(eps) = l.eps {
            positive("lgso.eps", eps)?;
        }
        if l.n_points == Some(0) {
            return Err(Error::config("lgso.n_points", "an integer >= 1", 0));
        }
        if l.samples_per_point == Some(0) {
            return Err(Error::config(
                "lgso.samples_per_point",
                "an integer >= 1",
                0,
            ));
        }
        at_least("lgso.gradient_samples", l.gradient_samples, 1)?;
        at_least("lgso.max_train_samples", l.max_train_samples, 1)?;
        if let Some(lr) = l.lr {
            positive("lgso.lr", lr)?;
        }
        betas("lgso.betas", l.betas)?;
        positive("lgso.adam_eps", l.adam_eps)?;
        if let Some(t) = self.stop.target {
            if !t.is_finite() {
                return Err(Error::config("stop.target", "a finite number", t));
            }
        }
        if self.stop.budget == Some(0) {
            return Err(Error::config(
                "stop.budget",
                "an integer >= 1 (simulator calls)",
                0,
            ));
        }
        if self.stop.max_iterations == Some(0) {
            return Err(Error::config("stop.max_iterations", "an integer >= 1", 0));
        }
        if let Some(m) = self.monitor.samples {
            at_least("monitor.samples", m, 1)?;
        }
        let g = &self.gan;
        at_least("gan.noise_dim", g.noise_dim, 1)?;
        if g.generator_hidden.is_empty() || g.generator_hidden.contains(&0) {
            return Err(Error::config(
                "gan.generator_hidden",
                "a non-empty list of positive widths, e.g. [100, 100, 100]",
                format!("{:?}", g.generator_hidden),
            ));
        }
        if g.critic_hidden.is_empty() || g.critic_hidden.contains(&0) {
            return Err(Error::config(
                "gan.critic_hidden",
                "a non-empty list of positive widths, e.g. [100, 100]",
                format!("{:?}", g.critic_hidden),
            ));
        }
        at_least("gan.critic_outputs", g.critic_outputs, 1)?;
        positive("gan.lr", g.lr)?;
        betas("gan.betas", g.betas)?;
        at_least("gan.batch_size", g.batch_size, 2)?;
        at_least("gan.epochs", g.epochs, 1)?;
        at_least("gan.critic_steps", g.critic_steps, 1)?;
        at_least("gan.generator_steps", g.generator_steps, 1)?;
        non_negative("gan.instance_noise", g.instance_noise)?;
        non_negative("gan.gradient_penalty", g.gradient_penalty)?;
        if !(0.0..1.0).contains(&g.leaky_slope) {
            return Err(Error::config(
                "gan.leaky_slope",
                "a number in [0, 1)",
                g.leaky_slope,
            ));
        }
        at_least("gan.shards", g.shards, 1)?;
        Ok(())
    }
}

impl Config {
    /// Checks `[ffjord]` and `[mdn]`.
    fn validate_flows(&self) -> Result<()> {
        let f = &self.ffjord;
        widths("ffjord.hidden", &f.hidden)?;
        positive("ffjord.lr", f.lr)?;
        betas("ffjord.betas", f.betas)?;
        at_least("ffjord.batch_size", f.batch_size, 2)?;
        at_most("ffjord.batch_size", f.batch_size, MAX_SAMPLES)?;
        at_least("ffjord.epochs", f.epochs, 1)?;
        non_negative("ffjord.instance_noise", f.instance_noise)?;
        at_least("ffjord.ode_steps", f.ode_steps, 1)?;
        at_most("ffjord.ode_steps", f.ode_steps, 10_000)?;
        f.solver()?;
        positive("ffjord.rtol", f.rtol)?;
        positive("ffjord.atol", f.atol)?;
        at_least("ffjord.shards", f.shards, 1)?;
        at_most("ffjord.shards", f.shards, 1024)?;
        let d = &self.mdn;
        at_least("mdn.components", d.components, 1)?;
        at_most("mdn.components", d.components, MAX_WIDTH)?;
        widths("mdn.hidden", &d.hidden)?;
        positive("mdn.lr", d.lr)?;
        betas("mdn.betas", d.betas)?;
        at_least("mdn.batch_size", d.batch_size, 2)?;
        at_most("mdn.batch_size", d.batch_size, MAX_SAMPLES)?;
        at_least("mdn.epochs", d.epochs, 1)?;
        non_negative("mdn.instance_noise", d.instance_noise)?;
        at_least("mdn.shards", d.shards, 1)?;
        at_most("mdn.shards", d.shards, 1024)?;
        Ok(())
    }

    fn validate_baselines(&self) -> Result<()> {
        let d = &self.numdiff;
        positive("numdiff.step", d.step)?;
        at_least("numdiff.samples", d.samples, 1)?;
        at_most("numdiff.samples", d.samples, MAX_SAMPLES)?;
        positive("numdiff.lr", d.lr)?;
        betas("numdiff.betas", d.betas)?;
        let g = &self.ges;
        positive("ges.sigma2", g.sigma2)?;
        if !(g.alpha.is_finite() && (0.0..=1.0).contains(&g.alpha)) {
            return Err(Error::config("ges.alpha", "a number in [0, 1]", g.alpha));
        }
        positive("ges.beta", g.beta)?;
        at_most("ges.k", g.k, 10_000)?;
        if let Some(p) = g.pairs {
            at_least("ges.pairs", p, 1)?;
            at_most("ges.pairs", p, 100_000)?;
        }
        at_least("ges.samples", g.samples, 1)?;
        at_most("ges.samples", g.samples, MAX_SAMPLES)?;
        if g.guide != "past" && g.guide != "numdiff" {
            return Err(Error::config(
                "ges.guide",
                "\"past\" or \"numdiff\"",
                format!("{:?}", g.guide),
            ));
        }
        positive("ges.lr", g.lr)?;
        betas("ges.betas", g.betas)?;
        let r = &self.reinforce;
        positive("reinforce.sigma2", r.sigma2)?;
        at_least("reinforce.policy_samples", r.policy_samples, 2)?;
        at_most("reinforce.policy_samples", r.policy_samples, 100_000)?;
        at_least("reinforce.samples", r.samples, 1)?;
        at_most("reinforce.samples", r.samples, MAX_SAMPLES)?;
        if !(r.baseline_decay.is_finite() && r.baseline_decay > 0.0 && r.baseline_decay <= 1.0) {
            return Err(Error::config(
                "reinforce.baseline_decay",
                "a number in (0, 1]",
                r.baseline_decay,
            ));
        }
        positive("reinforce.lr", r.lr)?;
        betas("reinforce.betas", r.betas)?;
        let c = &self.cmaes;
        positive("cmaes.sigma", c.sigma)?;
        if let Some(l) = c.population {
            at_least("cmaes.population", l, 2)?;
            at_most("cmaes.population", l, 100_000)?;
        }
        at_least("cmaes.samples", c.samples, 1)?;
        at_most("cmaes.samples", c.samples, MAX_SAMPLES)?;
        let x = &self.lax;
        positive("lax.sigma2", x.sigma2)?;
        at_least("lax.policy_samples", x.policy_samples, 1)?;
        at_most("lax.policy_samples", x.policy_samples, 100_000)?;
        at_least("lax.samples", x.samples, 1)?;
        at_most("lax.samples", x.samples, MAX_SAMPLES)?;
        positive("lax.lr", x.lr)?;
        betas("lax.betas", x.betas)?;
        positive("lax.control_variate_lr", x.control_variate_lr)?;
        let b = &self.bo;
        positive("bo.half_width", b.half_width)?;
        at_least("bo.initial_points", b.initial_points, 2)?;
        at_most("bo.initial_points", b.initial_points, 10_000)?;
        at_least("bo.samples", b.samples, 2)?;
        at_most("bo.samples", b.samples, MAX_SAMPLES)?;
        at_least("bo.candidates", b.candidates, 1)?;
        at_most("bo.candidates", b.candidates, 10_000_000)?;
        if self.oracle.calls_per_step == Some(0) {
            return Err(Error::config(
                "oracle.calls_per_step",
                "an integer >= 1 (simulator calls)",
                0,
            ));
        }
        Ok(())
    }
}

/// `line L, column C (key `table.key`): ` for a byte offset into a TOML
/// text: the key is read from the line (text before `=`) and the last table
/// header above it.
fn location(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let table = before
        .lines()
        .take(line.saturating_sub(1))
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .last()
        .map(|l| {
            let end = l.find(']').unwrap_or(l.len());
            l[..end].trim_start_matches('[').trim().to_string()
        });
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let named = match (table, key) {
        (Some(t), Some(k)) => format!(" (key `{t}.{k}`)"),
        (None, Some(k)) => format!(" (key `{k}`)"),
        (Some(t), None) => format!(" (in [{t}])"),
        (None, None) => String::new(),
    };
    format!("line {line}, column {column}{named}: ")
}

fn positive(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(key, "a finite number > 0", v))
    }
}

fn non_negative(key: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(key, "a finite number >= 0", v))
    }
}

/// Largest network width (noise dimension, hidden layer, critic outputs).
pub const MAX_WIDTH: usize = 65_536;
/// Largest sample count of one kind (M, K, monitor draws, batch).
pub const MAX_SAMPLES: usize = 10_000_000;
/// Largest number of simulator calls in one iteration, `(N + 1) M`.
pub const MAX_CALLS_PER_ITERATION: u64 = 100_000_000;

impl Config {
    /// Upper bounds that keep a run within memory: a width or sample count
    /// beyond them would allocate tens of gigabytes and be killed by the
    /// system instead of failing with a message.
    fn validate_sizes(&self) -> Result<()> {
        let g = &self.gan;
        at_most("gan.noise_dim", g.noise_dim, MAX_WIDTH)?;
        at_most("gan.critic_outputs", g.critic_outputs, MAX_WIDTH)?;
        for (key, widths) in [
            ("gan.generator_hidden", &g.generator_hidden),
            ("gan.critic_hidden", &g.critic_hidden),
        ] {
            if let Some(&w) = widths.iter().find(|&&w| w > MAX_WIDTH) {
                return Err(Error::config(
                    key,
                    format!("widths of at most {MAX_WIDTH}"),
                    w,
                ));
            }
        }
        at_most("gan.batch_size", g.batch_size, MAX_SAMPLES)?;
        at_most("gan.shards", g.shards, 1024)?;
        at_most(
            "lgso.gradient_samples",
            self.lgso.gradient_samples,
            MAX_SAMPLES,
        )?;
        at_most(
            "monitor.samples",
            self.monitor.samples.unwrap_or(0),
            MAX_SAMPLES,
        )?;
        if let Some(m) = self.lgso.samples_per_point {
            at_most("lgso.samples_per_point", m, MAX_SAMPLES)?;
        }
        if let Some(n) = self.lgso.n_points {
            at_most("lgso.n_points", n, 100_000)?;
        }
        Ok(())
    }
}

/// A non-empty list of hidden widths in `1..=MAX_WIDTH`.
fn widths(key: &str, w: &[usize]) -> Result<()> {
    if w.is_empty() || w.iter().any(|&v| v == 0 || v > MAX_WIDTH) {
        return Err(Error::config(
            key,
            format!("a non-empty list of widths from 1 to {MAX_WIDTH}, e.g. [32, 32]"),
            format!("{w:?}"),
        ));
    }
    Ok(())
}

fn at_most(key: &str, v: usize, max: usize) -> Result<()> {
    if v <= max {
        Ok(())
    } else {
        Err(Error::config(key, format!("an integer <= {max}"), v))
    }
}

fn at_least(key: &str, v: usize, min: usize) -> Result<()> {
    if v >= min {
        Ok(())
    } else {
        Err(Error::config(key, format!("an integer >= {min}"), v))
    }
}

fn betas(key: &str, b: [f64; 2]) -> Result<()> {
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
