//! State as a value (argmin keeps solver state apart from settings): the
//! [`PsiState`] every optimizer embeds, and the bookkeeping every optimizer
//! shares (`Base`): its outstanding requests, the objective at the points
//! it asked for, the Adam step on psi, saving and restoring.
//!
//! Every random stream of iteration `t` is derived from `(seed, stream, t)`
//! ([`crate::seed::derive_seed`]), so the seed and the iteration are the
//! RNG state: a saved state holds no generator.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::adam::{adam_step, Adam, AdamSettings};
use super::Method;
use crate::data::{request_id, Outcome, Request};
use crate::error::{Error, Result};
use crate::problem::{objective_values, Objective, Problem};
use crate::seed::{derive_seed, stream};

/// What changes between iterations in every optimizer: psi, the iteration,
/// Adam's moments (for the methods that step with Adam) and the seed every
/// random stream derives from. Saved after each iteration with what the
/// method keeps besides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiState {
    /// The method, e.g. `cmaes` (a state is restored only into its own
    /// method).
    pub method: String,
    /// The run seed.
    pub seed: u64,
    /// The current parameters, `[n]` (CMA-ES: the distribution mean; LAX:
    /// the policy mean; BO: the incumbent).
    pub psi: Vec<f64>,
    /// Completed iterations.
    pub iteration: u64,
    /// Adam on psi (LAX: on `(mu, log sigma)`, `[2n]`); `None` for the
    /// methods without it (CMA-ES, BO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adam: Option<Adam>,
    /// The method's settings (its `[method]` table, resolved): a state is
    /// restored only under the settings it was made with. `None` in states
    /// saved before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

/// A saved state as written: the [`PsiState`] fields and, under
/// `method_state`, what the method keeps besides.
#[derive(Serialize)]
struct SavedRef<'a, E> {
    #[serde(flatten)]
    state: &'a PsiState,
    method_state: &'a E,
}

/// A saved state as read back: the method's own part is read once the
/// [`PsiState`] is known to belong to this method (it may be absent: L-GSO
/// states written before it existed read as L-GSO states).
#[derive(Deserialize)]
struct Saved {
    #[serde(flatten)]
    state: PsiState,
    #[serde(default)]
    method_state: serde_json::Value,
}

/// The part every optimizer shares: its [`PsiState`], the problem's
/// objective and bounds, and the requests handed out by the last `ask` and
/// not yet answered (so that `ask` before `tell` repeats them and `tell`
/// checks its outcomes against them).
pub(crate) struct Base {
    /// The state saved after every iteration.
    pub(crate) state: PsiState,
    /// The per-sample objective `R`.
    pub(crate) objective: Arc<dyn Objective>,
    /// Box bounds of psi, `[n]` pairs, if the problem has them.
    pub(crate) bounds: Option<Vec<(f64, f64)>>,
    pending: Option<Vec<Request>>,
}

impl Base {
    /// Starts `method` with its `settings` at the problem's start point
    /// (`problem.start`), iteration 0, with a fresh Adam of `adam`'s
    /// settings if given.
    pub(crate) fn new(
        method: Method,
        settings: &impl Serialize,
        problem: &Problem,
        seed: u64,
        adam: Option<&AdamSettings>,
    ) -> Base {
        let psi = problem.start.clone();
        Base {
            state: PsiState {
                method: method.name().to_string(),
                seed,
                adam: adam.map(|a| a.adam(psi.len())),
                psi,
                iteration: 0,
                settings: serde_json::to_value(settings).ok(),
            },
            objective: problem.objective.clone(),
            bounds: problem.bounds.clone(),
            pending: None,
        }
    }

    /// The outstanding requests, if any.
    pub(crate) fn pending(&self) -> Option<Vec<Request>> {
        self.pending.clone()
    }

    /// Requests `count` draws at each of `points` for the current
    /// iteration and keeps them outstanding. Request `i` has id
    /// [`request_id`]`(iteration, i)` and seed `derive_seed(seed,
    /// [REQUEST, iteration, i])`.
    pub(crate) fn ask(&mut self, points: &[Vec<f64>], count: usize) -> Vec<Request> {
        let each: Vec<(&[f64], usize, Option<u64>)> =
            points.iter().map(|p| (p.as_slice(), count, None)).collect();
        self.ask_each(&each)
    }

    /// As [`Base::ask`] with a count per point and, where given, a seed of
    /// the caller's (two requests with one seed share their random
    /// numbers).
    pub(crate) fn ask_each(&mut self, points: &[(&[f64], usize, Option<u64>)]) -> Vec<Request> {
        let (seed, it) = (self.state.seed, self.state.iteration);
        let requests: Vec<Request> = points
            .iter()
            .enumerate()
            .map(|(i, &(psi, count, own))| Request {
                id: request_id(it, i as u64),
                iteration: it,
                psi: psi.to_vec(),
                count,
                seed: own.unwrap_or_else(|| derive_seed(seed, &[stream::REQUEST, it, i as u64])),
            })
            .collect();
        self.pending = Some(requests.clone());
        requests
    }

    /// Checks that `outcomes` answer the outstanding requests, one per
    /// request and in order, and clears them; on a mismatch they stay
    /// outstanding.
    ///
    /// # Errors
    /// [`Error::Protocol`] without an outstanding ask or on a mismatch.
    pub(crate) fn answered(&mut self, outcomes: &[Outcome]) -> Result<Vec<Request>> {
        let asked = self
            .pending
            .take()
            .ok_or_else(|| Error::Protocol("tell called without a pending ask".into()))?;
        if outcomes.len() != asked.len()
            || outcomes
                .iter()
                .zip(&asked)
                .any(|(o, r)| o.request.id != r.id)
        {
            let ids: Vec<u64> = outcomes.iter().map(|o| o.request.id).collect();
            self.pending = Some(asked);
            return Err(Error::Protocol(format!(
                "tell got outcomes for requests {ids:?}, which do not answer the last ask"
            )));
        }
        Ok(asked)
    }

    /// The objective at each requested point: the mean of `R` over the
    /// outcome's draws (baselines.md: "the objective at a point is always
    /// estimated as the mean of R over M draws").
    ///
    /// # Errors
    /// Tensor errors from the objective.
    pub(crate) fn means(&self, outcomes: &[Outcome]) -> Result<Vec<f64>> {
        outcomes
            .iter()
            .map(|o| {
                let r = objective_values(self.objective.as_ref(), &o.samples)?;
                Ok(r.iter().sum::<f64>() / r.len().max(1) as f64)
            })
            .collect()
    }

    /// One Adam step on psi along `-grad` ([`adam_step`]: projected onto
    /// the ball of radius `project` around the previous psi if given, then
    /// clamped into the bounds). Returns the step length.
    ///
    /// # Errors
    /// [`Error::Diverged`] (psi and Adam unchanged) when the gradient or
    /// the new psi is not finite; [`Error::Protocol`] for a method built
    /// without Adam.
    pub(crate) fn step(&mut self, grad: &[f64], project: Option<f64>) -> Result<f64> {
        let s = &mut self.state;
        let adam = s.adam.as_mut().ok_or_else(|| {
            Error::Protocol(format!("method {} has no Adam to step with", s.method))
        })?;
        adam_step(
            &s.method,
            adam,
            &mut s.psi,
            grad,
            project,
            self.bounds.as_deref(),
        )
    }

    /// The state with the method's own part `extra`, as a JSON value.
    ///
    /// # Errors
    /// [`Error::Protocol`] if it cannot be written.
    pub(crate) fn save<E: Serialize>(&self, extra: &E) -> Result<serde_json::Value> {
        serde_json::to_value(SavedRef {
            state: &self.state,
            method_state: extra,
        })
        .map_err(|e| {
            Error::Protocol(format!(
                "the {} state cannot be saved: {e}",
                self.state.method
            ))
        })
    }

    /// Reads a state written by [`Base::save`], checks that it belongs to
    /// this method, dimension and seed and that the method's own part
    /// `fits` dimension `n`, takes it over (dropping any outstanding ask)
    /// and returns the method's own part. On an error nothing changes.
    ///
    /// # Errors
    /// [`Error::Protocol`] when it does not parse or belongs to another
    /// method, dimension or seed.
    pub(crate) fn restore<E: DeserializeOwned>(
        &mut self,
        value: &serde_json::Value,
        fits: impl FnOnce(&E, usize) -> bool,
    ) -> Result<E> {
        let own = &self.state;
        let bad = |e: serde_json::Error| {
            Error::Protocol(format!("saved {} state does not parse: {e}", own.method))
        };
        let saved: Saved = serde_json::from_value(value.clone()).map_err(bad)?;
        let s = saved.state;
        let adam_fits = match (&s.adam, &own.adam) {
            (Some(a), Some(b)) => a.m.len() == b.m.len() && a.v.len() == b.m.len(),
            (None, None) => true,
            _ => false,
        };
        if s.method != own.method
            || s.psi.len() != own.psi.len()
            || s.seed != own.seed
            || !adam_fits
        {
            return Err(Error::Protocol(format!(
                "saved state is of method {} with {} parameters and seed {}, expected {} with {} and seed {}",
                s.method,
                s.psi.len(),
                s.seed,
                own.method,
                own.psi.len(),
                own.seed
            )));
        }
        if let (Some(then), Some(now)) = (&s.settings, &own.settings) {
            if then != now {
                return Err(Error::Protocol(format!(
                    "the saved {} state was made with other settings ({}); a run continues \
                     only with the configuration it was made with",
                    own.method,
                    settings_diff(then, now)
                )));
            }
        }
        let extra: E = serde_json::from_value(saved.method_state).map_err(bad)?;
        if !fits(&extra, own.psi.len()) {
            return Err(Error::Protocol(format!(
                "saved {} state does not fit dimension {}",
                own.method,
                own.psi.len()
            )));
        }
        self.state = s;
        self.pending = None;
        Ok(extra)
    }
}

/// The settings that differ between a saved state's (`then`) and the
/// optimizer's (`now`), e.g. `population: 7 then, 8 now`.
fn settings_diff(then: &serde_json::Value, now: &serde_json::Value) -> String {
    match (then.as_object(), now.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    let show = |v: Option<&serde_json::Value>| {
                        v.map_or_else(|| "absent".to_string(), |v| v.to_string())
                    };
                    format!("{k}: {} then, {} now", show(a.get(k)), show(b.get(k)))
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
        _ => format!("{then} then, {now} now"),
    }
}
