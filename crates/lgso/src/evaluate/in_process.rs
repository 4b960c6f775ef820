//! [`InProcess`]: a built-in simulator drawn in threads of this process.

use std::time::Instant;

use rayon::prelude::*;

use super::{Evaluator, Failure, FailureKind, RequestResult};
use crate::data::Request;
use crate::error::Result;
use crate::problem::{self, Simulator};

/// Evaluates requests on a built-in [`Simulator`] in threads (rayon), each
/// request from an RNG seeded with its seed ([`problem::draw`]).
pub struct InProcess {
    simulator: std::sync::Arc<dyn Simulator>,
}

impl InProcess {
    /// An evaluator for `simulator`.
    pub fn new(simulator: std::sync::Arc<dyn Simulator>) -> Self {
        InProcess { simulator }
    }
}

impl Evaluator for InProcess {
    fn describe(&self) -> String {
        format!("in-process {}", self.simulator.name())
    }

    fn reproducible(&self) -> bool {
        true
    }

    fn evaluate(
        &mut self,
        requests: &[Request],
        on_result: &mut dyn FnMut(&RequestResult) -> Result<()>,
    ) -> Result<Vec<RequestResult>> {
        let sim = self.simulator.as_ref();
        let dims = sim.dims();
        let results: Vec<RequestResult> = crate::threads::simulation_pool().install(|| {
            requests
                .par_iter()
                .map(|r| {
                    let t = Instant::now();
                    match problem::draw(sim, &r.psi, r.count, r.seed) {
                        Ok(s) => {
                            RequestResult::from_rows(r, s.x, s.y, 1, t.elapsed().as_secs_f64())
                        }
                        Err(e) => RequestResult::failed(
                            r,
                            (dims.psi, dims.x, dims.y),
                            Failure::of(r, FailureKind::Simulator, &e.to_string(), String::new()),
                            1,
                            t.elapsed().as_secs_f64(),
                        ),
                    }
                })
                .collect()
        });
        for r in &results {
            on_result(r)?;
        }
        Ok(results)
    }
}
