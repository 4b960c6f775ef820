//! Thread settings.
//!
//! A GAN fit runs the shards of each minibatch on their own threads
//! ([`crate::surrogate::GanSettings::shards`]); candle's CPU kernels would
//! otherwise start their own threads for every matrix product and
//! elementwise operation, and the two kinds of parallelism then fight over
//! the cores (measured: 42 ms per GAN step instead of 18 ms on 2 cores).
//! candle reads its thread count from the `CANDLE_NUM_THREADS` and
//! `RAYON_NUM_THREADS` environment variables, so a program should call
//! [`single_threaded_tensor_ops`] first thing in `main`, before it starts
//! any thread. lgso's own parallel work uses explicit pools
//! ([`simulation_pool`]) and is not affected.

use std::sync::OnceLock;

/// Makes candle's CPU kernels single-threaded (sets `CANDLE_NUM_THREADS=1`
/// and `RAYON_NUM_THREADS=1` unless the user set them). Call it at the start
/// of `main`, before any other thread exists.
pub fn single_threaded_tensor_ops() {
    for key in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, "1");
        }
    }
}

/// Number of cores available to this process.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread pool that evaluates simulator requests: one thread per core,
/// whatever `RAYON_NUM_THREADS` says.
pub fn simulation_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(available_cores())
            .thread_name(|i| format!("lgso-sim-{i}"))
            .build()
            .unwrap_or_else(|_| {
                // fall back to a single thread; building one cannot fail in
                // practice
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .expect("a one-thread pool")
            })
    })
}
