//! The history of a run (design.md, layer 3): every sample ever drawn,
//! append-only, queryable by trust region, and the run database that keeps
//! it on disk as it arrives.
//!
//! - [`History`] (`memory.rs`): the samples in memory, in arrival order,
//!   with the iteration that drew each; what an optimizer's `tell` reads
//!   (L-GSO's reuse of earlier samples in the trust region, paper,
//!   Algorithm 1).
//! - [`RunStore`] (`store.rs`): the SQLite run database `run.sqlite`:
//!   every request committed with its samples as soon as it arrives, every
//!   iteration with its trace row and the optimizer's state; a resumed run
//!   rebuilds its [`History`] from it.

mod memory;
pub mod store;

pub use memory::History;
pub use store::{Checkpoint, RequestKind, RunStatus, RunStore};
