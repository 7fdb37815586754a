//! The one thread pool: scoped threads pulling job indices from a shared counter.
//!
//! Every parallel pass of the crate (series of a batch, chunks of a long series, records
//! of a genome) runs through [`run_parallel`], and [`default_threads`] is the one
//! definition of "all cores". Scoped threads borrow the caller's data, so nothing is
//! copied or reference-counted; dynamic scheduling balances long and short jobs.

use crate::error::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The number of threads to use by default: the machine's available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `job` on each index in `0..jobs` over `threads` threads, results in index order.
pub fn run_parallel<R: Send>(
    jobs: usize,
    threads: usize,
    job: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, jobs.max(1));
    if threads == 1 {
        return (0..jobs).map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = (0..jobs).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                let r = job(i);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every job ran")
        })
        .collect()
}

/// Runs `job` over series `0..n` on `threads` threads, in series order; the first error
/// (by series index) wins and names its series.
pub fn run_series<R: Send>(
    n: usize,
    threads: usize,
    job: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    run_parallel(n, threads, job)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| e.in_series(i)))
        .collect()
}
