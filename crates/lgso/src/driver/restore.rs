//! Resume: a run continued from its run database restores the optimizer's
//! saved state (every optimizer saves one after each iteration; a database
//! written before that is replayed from its stored samples instead), the
//! history, the trace and the call tally, then re-asks the interrupted
//! iteration (whose stored requests the runner takes from the database
//! instead of simulating them again).

use super::{Runner, Tally};
use std::collections::HashMap;

use crate::data::Outcome;
use crate::error::{Error, Result};
use crate::evaluate::RequestResult;
use crate::history::History;
use crate::optimizer::Optimizer;
use crate::report::IterationReport;

/// For a resumed run: restores the optimizer, the history, the trace and
/// the tally from the run database. Does nothing for a fresh run.
pub(super) fn restore(
    runner: &mut Runner,
    optimizer: &mut dyn Optimizer,
    history: &mut History,
    reports: &mut Vec<IterationReport>,
    tally: &mut Tally,
) -> Result<()> {
    if !runner.session.resume {
        return Ok(());
    }
    let store = runner
        .session
        .store
        .as_deref()
        .ok_or_else(|| Error::Protocol("resume needs a run database".into()))?;
    let Some(cp) = store.last_checkpoint()? else {
        // killed before the start point was reported: start over; requests
        // already stored are taken from the database
        return Ok(());
    };
    let done = cp.report.iteration;
    let results = store.results(runner.dims, Some(done))?;
    *reports = store.reports()?;
    match &cp.state {
        Some(state) => {
            optimizer.restore_state(state)?;
            for r in &results {
                history.append(&[Outcome {
                    request: r.request.clone(),
                    samples: r.samples.clone(),
                }])?;
            }
        }
        // a run database written before every optimizer saved its state
        None => replay(optimizer, history, &results, done)?,
    }
    tally.count(&results);
    tally.calls = cp.calls;
    Ok(())
}

/// Rebuilds an optimizer whose state was not saved (run databases written
/// by an lgso before every method saved one) by replaying its iterations:
/// it asks again and is told the stored answers, no simulation.
///
/// # Errors
/// [`Error::Protocol`] when a request it asks is not stored as asked (the
/// run was made with another configuration).
fn replay(
    optimizer: &mut dyn Optimizer,
    history: &mut History,
    results: &[RequestResult],
    done: u64,
) -> Result<()> {
    let mut by_id: HashMap<u64, &RequestResult> =
        results.iter().map(|r| (r.request.id, r)).collect();
    while optimizer.iteration() < done {
        let requests = optimizer.ask()?;
        let mut outcomes = Vec::with_capacity(requests.len());
        for q in &requests {
            let r = by_id
                .remove(&q.id)
                .filter(|r| r.request == *q)
                .ok_or_else(|| {
                    Error::Protocol(format!(
                        "replaying iteration {}: request {} is not stored as asked; the run \
                         cannot be continued with this configuration",
                        optimizer.iteration(),
                        q.id
                    ))
                })?;
            outcomes.push(Outcome {
                request: q.clone(),
                samples: r.samples.clone(),
            });
        }
        history.append(&outcomes)?;
        optimizer.tell(&outcomes, history)?;
    }
    Ok(())
}
