//! Observers: whatever watches a run (progress bars, trace files, plots)
//! gets the run's facts at the start, every trace row, and the summary.

use crate::error::Result;
use crate::report::{IterationReport, RunInfo, Summary};

/// Watches a run: progress bars, trace files, plots.
pub trait Observer {
    /// Called once before the first iteration.
    ///
    /// # Errors
    /// I/O errors; they stop the run.
    fn on_start(&mut self, _info: &RunInfo) -> Result<()> {
        Ok(())
    }
    /// Called with the start point (iteration 0) and after every iteration.
    ///
    /// # Errors
    /// I/O errors; they stop the run.
    fn on_iteration(&mut self, _report: &IterationReport) -> Result<()> {
        Ok(())
    }
    /// Called once at the end, also when the run failed.
    ///
    /// # Errors
    /// I/O errors.
    fn on_finish(&mut self, _summary: &Summary) -> Result<()> {
        Ok(())
    }
}
