//! Progress display: a bar over the call budget on a terminal, one plain
//! line per iteration on stderr otherwise (CI logs), nothing with
//! `--quiet`.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lgso::driver::Observer;
use lgso::report::{IterationReport, RunInfo, Summary};

use crate::text;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

/// An [`Observer`] that shows progress on stderr.
pub struct Progress {
    mode: Mode,
    label: String,
    budget: u64,
    bar: Option<ProgressBar>,
    /// The start line, printed with the start point's report (so that a run
    /// that fails at its start prints only the error).
    header: Option<String>,
}

impl Progress {
    /// A progress display for a run labelled `label` (the problem name);
    /// `quiet` shows nothing.
    pub fn new(label: &str, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            label: label.to_string(),
            budget: 0,
            bar: None,
            header: None,
        }
    }
}

impl Observer for Progress {
    fn on_start(&mut self, info: &RunInfo) -> lgso::Result<()> {
        self.budget = info.budget;
        match self.mode {
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(Some(info.budget), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{prefix} {bar:20} {human_pos}/{human_len} calls, eta {eta} | {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(self.label.clone());
                bar.set_message("starting");
                self.bar = Some(bar);
            }
            Mode::Lines => {
                self.header = Some(format!(
                    "{}: budget {} calls, {} calls per iteration",
                    self.label,
                    text::calls(info.budget),
                    text::calls(info.calls_per_iteration)
                ));
            }
            Mode::Quiet => {}
        }
        Ok(())
    }

    fn on_iteration(&mut self, r: &IterationReport) -> lgso::Result<()> {
        match (self.mode, &self.bar) {
            (Mode::Bar, Some(bar)) => {
                bar.set_position(r.calls.min(self.budget));
                bar.set_message(format!("iter {}: {}", r.iteration, text::objective(r)));
            }
            (Mode::Lines, _) => {
                if let Some(h) = self.header.take() {
                    let _ = writeln!(std::io::stderr(), "{h}");
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: iteration {}, calls {}/{}, objective {}, {}",
                    self.label,
                    r.iteration,
                    text::calls(r.calls),
                    text::calls(self.budget),
                    text::objective(r),
                    text::seconds(r.seconds_total)
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn on_finish(&mut self, _summary: &Summary) -> lgso::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
