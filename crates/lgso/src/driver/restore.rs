//! Resume: a run continued from its run database restores the optimizer's
//! saved state (every optimizer saves one after each iteration), the
//! history, the trace and the call tally, then re-asks the interrupted
//! iteration (whose stored requests the runner takes from the database
//! instead of simulating them again).

use super::{Runner, Tally};
use crate::data::Outcome;
use crate::error::{Error, Result};
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
    let state = cp.state.as_ref().ok_or_else(|| {
        Error::Protocol(format!(
            "{} holds no optimizer state for iteration {done} (it was written by an lgso that \
             saved none for method {}); its samples are kept: `lgso export` writes them as CSV",
            store.path().display(),
            optimizer.name()
        ))
    })?;
    optimizer.restore_state(state)?;
    for r in &results {
        history.append(&[Outcome {
            request: r.request.clone(),
            samples: r.samples.clone(),
        }])?;
    }
    tally.count(&results);
    tally.calls = cp.calls;
    Ok(())
}
