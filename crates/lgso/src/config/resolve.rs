//! Resolution: a [`Config`] checked against its problem, each table by its
//! owner, every default filled in, as a [`ResolvedConfig`].

use super::{Config, MAX_WORKERS};
use crate::check::{at_least, at_most, positive, MAX_CALLS_PER_ITERATION, MAX_SAMPLES};
use crate::error::{check_vector, Error, Result};
use crate::optimizer::{
    BoSettings, CallCost, CmaesSettings, GesSettings, LaxSettings, LgsoConfig, LgsoSettings,
    Method, NumDiffSettings, OracleSettings, Preset, ReinforceSettings,
};
use crate::problem::external::ObjectiveSettings;
use crate::problem::{self, Problem};
use crate::surrogate::{FfjordSettings, GanSettings, MdnSettings};

/// A configuration checked against its problem, every value plain and
/// filled in: what the optimizers, surrogates and the driver are built
/// from.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// The configuration as given, with every default filled in (`start`,
    /// `stop.budget`, `monitor.samples`, the `[lgso]` values taken from the
    /// problem, `ges.pairs`, `cmaes.population`, `oracle.calls_per_step`):
    /// the record written to the run directory as `config.toml`, from which
    /// `lgso resume` resolves the same settings again. The run itself reads
    /// the fields below.
    pub config: Config,
    /// The problem, with the run's start point (`problem.start`) and
    /// bounds.
    pub problem: Problem,
    /// The optimization method.
    pub method: Method,
    /// The run seed.
    pub seed: u64,
    /// Simulator calls charged to the optimizer, at most.
    pub budget: u64,
    /// Iteration limit, if any.
    pub max_iterations: Option<u64>,
    /// The run stops once the objective estimate is at or below this.
    pub target: Option<f64>,
    /// Draws per objective estimate in the trace (not charged).
    pub monitor_samples: usize,
    /// Largest share of lost samples before the run stops
    /// (`simulator.max_failure_rate`).
    pub max_failure_rate: f64,
    /// L-GSO (also used by `lgso diagnose` and the oracle).
    pub lgso: LgsoSettings,
    /// The GAN surrogate.
    pub gan: GanSettings,
    /// The FFJORD surrogate.
    pub ffjord: FfjordSettings,
    /// The MDN surrogate.
    pub mdn: MdnSettings,
    /// Numerical differentiation.
    pub numdiff: NumDiffSettings,
    /// Guided ES.
    pub ges: GesSettings,
    /// REINFORCE.
    pub reinforce: ReinforceSettings,
    /// CMA-ES.
    pub cmaes: CmaesSettings,
    /// Bayesian optimization.
    pub bo: BoSettings,
    /// LAX.
    pub lax: LaxSettings,
    /// The exact-gradient oracle.
    pub oracle: OracleSettings,
}

impl ResolvedConfig {
    /// The start point psi_0, `[n]`.
    pub fn start(&self) -> &[f64] {
        &self.problem.start
    }

    /// psi dimension `n`.
    pub fn dim(&self) -> usize {
        self.problem.dims().psi
    }

    /// Simulator calls of an iteration of the configured method, and how
    /// they are made up (each method's own formula).
    pub fn cost(&self) -> CallCost {
        let n = self.dim();
        match self.method {
            Method::Lgso => self.lgso.cost(),
            Method::NumDiff => self.numdiff.cost(n),
            Method::Ges => self.ges.cost(n),
            Method::Reinforce => self.reinforce.cost(),
            Method::Cmaes => self.cmaes.cost(),
            Method::Bo => self.bo.cost(),
            Method::Lax => self.lax.cost(),
            Method::Oracle => self.oracle.cost(),
        }
    }

    /// Simulator calls of the first iteration of the configured method.
    pub fn calls_per_iteration(&self) -> u64 {
        self.cost().first
    }
}

/// The fewest monitor draws per estimate of an external simulator's
/// objective by default (`monitor.samples`; the default is `max(M, this)`).
pub const EXTERNAL_MONITOR_SAMPLES: usize = 1000;

/// Default call budget of `lgso run PROBLEM` when none is given. With
/// `auto` true (L-GSO with `preset = "auto"`, the default method and
/// preset): a few thousand calls, measured to reach the built-in problems'
/// targets (README, "Results"); otherwise the paper-scale budget, enough
/// for the paper's fixed settings on a laptop CPU in a few minutes.
pub fn default_budget(problem: &str, auto: bool) -> u64 {
    match (problem, auto) {
        ("three-hump", true) => 5_000,
        ("rosenbrock", true) => 4_000,
        ("submanifold-rosenbrock", true) => 10_000,
        ("submanifold-hump", true) => 5_000,
        ("boston-nn", true) => 10_000,
        ("muon-shield", true) => 500_000,
        (_, true) => 20_000,
        ("three-hump", false) => 60_000,
        ("rosenbrock", false) => 700_000,
        ("submanifold-rosenbrock", false) => 1_000_000,
        ("submanifold-hump", false) => 300_000,
        (_, false) => 500_000,
    }
}

impl Config {
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
    /// simulator, [`crate::problem::external::problem`], or a caller's
    /// own).
    ///
    /// # Errors
    /// As [`Config::resolve`]; [`Error::Config`] for bounds that do not fit
    /// the problem or a start point outside them.
    pub fn resolve_with(self, problem: Problem) -> Result<ResolvedConfig> {
        self.resolve_inner(problem, &mut |_| {})
    }

    /// Checks the `[simulator]` and `[objective]` tables of a run on an
    /// external simulator, before its workers are started.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn check_external(&self) -> Result<()> {
        self.validate_simulator(true)
    }

    fn resolve_inner(
        mut self,
        mut problem: Problem,
        before_pool: &mut dyn FnMut(usize),
    ) -> Result<ResolvedConfig> {
        self.place(&mut problem)?;
        let external = problem.name == problem::EXTERNAL;
        self.validate_simulator(external)?;
        let n = problem.dims().psi;
        let method = Method::parse(&self.method)?;
        let lgso = self.lgso.resolve(&problem.defaults)?;
        self.gan.validate()?;
        self.ffjord.validate()?;
        self.mdn.validate()?;
        self.numdiff.validate()?;
        let ges = self.ges.resolve(n, self.numdiff.step)?;
        self.reinforce.validate()?;
        let cmaes = self.cmaes.resolve(n)?;
        self.bo.validate()?;
        self.lax.validate()?;
        // the oracle takes the paper's L-GSO steps and is charged what one
        // of them costs, whatever the preset
        let paper = LgsoConfig {
            preset: Some(Preset::Paper.name().into()),
            ..self.lgso.clone()
        }
        .resolve(&problem.defaults)?;
        let oracle = self.oracle.resolve(&paper)?;
        let monitor_samples = self.monitor.samples.unwrap_or(if external {
            // real simulator runs, so few; but enough for an estimate (auto's
            // M = 2 is not)
            lgso.samples_per_point.max(EXTERNAL_MONITOR_SAMPLES)
        } else {
            20_000
        });
        at_least("monitor.samples", monitor_samples, 1)?;
        at_most("monitor.samples", monitor_samples, MAX_SAMPLES)?;
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
        self.muon_shield.validate(problem.name)?;
        if method == Method::Oracle && problem.exact.is_none() {
            return Err(Error::config(
                "method",
                "a problem with an exact objective for `oracle` (every built-in problem but \
                 boston-nn and muon-shield)",
                format!("\"oracle\" on {}", problem.name),
            ));
        }
        // the record: every default written out
        self.monitor.samples = Some(monitor_samples);
        self.lgso.preset = Some(lgso.preset.name().to_string());
        self.lgso.surrogate = Some(lgso.surrogate.name().to_string());
        self.lgso.n_points = Some(lgso.n_points);
        self.lgso.eps = Some(lgso.eps);
        self.lgso.samples_per_point = Some(lgso.samples_per_point);
        self.lgso.gradient_samples = Some(lgso.gradient_samples);
        self.lgso.lr = Some(lgso.adam.lr);
        let auto = method == Method::Lgso && lgso.preset == Preset::Auto;
        self.stop.budget = Some(
            self.stop
                .budget
                .unwrap_or(default_budget(problem.name, auto)),
        );
        self.ges.pairs = Some(ges.pairs);
        self.cmaes.population = Some(cmaes.population);
        self.oracle.calls_per_step = Some(oracle.calls_per_step);
        self.muon_shield = std::mem::take(&mut self.muon_shield).with_absolute_spectrum();
        let resolved = ResolvedConfig {
            method,
            seed: self.seed,
            budget: self.stop.budget.unwrap_or(u64::MAX),
            max_iterations: self.stop.max_iterations,
            target: self.stop.target,
            monitor_samples,
            max_failure_rate: self.simulator.max_failure_rate,
            lgso,
            gan: self.gan.clone(),
            ffjord: self.ffjord.clone(),
            mdn: self.mdn.clone(),
            numdiff: self.numdiff.clone(),
            ges,
            reinforce: self.reinforce.clone(),
            cmaes,
            bo: self.bo.clone(),
            lax: self.lax.clone(),
            oracle,
            config: self,
            problem,
        };
        check_cost(&resolved)?;
        let mut resolved = resolved;
        resolved
            .config
            .muon_shield
            .apply(&mut resolved.problem, before_pool)?;
        Ok(resolved)
    }

    /// Sets the problem's bounds (the config's `bounds`, checked) and start
    /// point (the config's `start`, checked against the dimension, the
    /// bounds and the simulator), and records the start.
    fn place(&mut self, problem: &mut Problem) -> Result<()> {
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
        let start = match &self.start {
            Some(start) => {
                check_vector(
                    &format!("start point `start` of problem {} (psi)", problem.name),
                    start,
                    n,
                )?;
                start.clone()
            }
            None => problem.start.clone(),
        };
        problem.check_within_bounds("start", &start)?;
        problem.simulator.check_psi(&start).map_err(|e| match e {
            Error::Simulator { reason, .. } => {
                Error::config("start", "a psi the simulator accepts", reason)
            }
            other => other,
        })?;
        self.start = Some(start.clone());
        problem.start = start;
        Ok(())
    }

    fn validate_simulator(&self, external: bool) -> Result<()> {
        let rate = self.simulator.max_failure_rate;
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::config(
                "simulator.max_failure_rate",
                "a share between 0 and 1",
                rate,
            ));
        }
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
            if self.objective != ObjectiveSettings::default() {
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
        self.objective.family().map(|_| ())
    }
}

/// Checks the configured method's calls per iteration against their limit
/// and the budget.
///
/// # Errors
/// [`Error::Config`] naming the settings that make up the cost;
/// [`Error::BudgetTooSmall`].
fn check_cost(resolved: &ResolvedConfig) -> Result<()> {
    let cost = resolved.cost();
    let per_iteration = cost.first;
    if per_iteration > MAX_CALLS_PER_ITERATION || per_iteration == 0 {
        return Err(Error::config(
            cost.keys,
            format!(
                "{} between 1 and {MAX_CALLS_PER_ITERATION} simulator calls per iteration",
                cost.formula
            ),
            per_iteration,
        ));
    }
    if resolved.budget < per_iteration {
        return Err(Error::BudgetTooSmall {
            budget: resolved.budget,
            per_iteration,
            detail: cost.formula,
        });
    }
    Ok(())
}
