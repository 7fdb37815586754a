//! Inputs shared by the throughput examples: the sample count from the command line and
//! a reproducible random walk (xorshift64), so every example measures the same data; and
//! the timer they share.

// Each example compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::time::Instant;

/// The best time of `runs` calls of `f`, and the last call's result: wall-clock time,
/// or with `ENTROSEG_CPU_TIME=1` in the environment the calling thread's CPU time (less
/// sensitive to other processes on a shared machine; Linux only).
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let cpu = std::env::var_os("ENTROSEG_CPU_TIME").is_some_and(|v| v == "1");
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let (t, c) = (Instant::now(), thread_cpu_seconds());
        last = Some(f());
        let took = if cpu {
            thread_cpu_seconds() - c
        } else {
            t.elapsed().as_secs_f64()
        };
        best = best.min(took);
    }
    (best, last.expect("at least one run"))
}

/// CPU time of the calling thread in seconds (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`;
/// NaN where that clock is not available).
#[allow(dead_code)]
pub fn thread_cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.sec as f64 + ts.nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

/// The first command-line argument as a sample count (default 10^7).
pub fn samples_arg() -> usize {
    std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000)
}

/// A xorshift64 stream with a fixed seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new() -> Self {
        Self(0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A random walk of `n` steps uniform in [-0.5, 0.5).
pub fn random_walk(rng: &mut XorShift, n: usize) -> Vec<f64> {
    let mut v = 0.0;
    (0..n)
        .map(|_| {
            v += (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v
        })
        .collect()
}

/// The records of a plain (uncompressed) FASTA file: name (up to the first blank) and
/// letters.
pub fn fasta_records(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(header) = line.strip_prefix(b">") {
            let name = String::from_utf8_lossy(header);
            let name = name.split_whitespace().next().unwrap_or("").to_string();
            out.push((name, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.extend_from_slice(line);
        }
    }
    out
}

/// The main of a masker example: `NAME FILE.fa [--bed]`. Masks each record of the file
/// with `mask` on one thread and prints the time, the throughput and a checksum of the
/// intervals (with `--bed`, the intervals as BED on stdout), so that a change to the
/// masker can be checked for identical output and timed in one command.
pub fn masker_main<E: std::fmt::Display>(
    name: &str,
    mut mask: impl FnMut(&[u8]) -> Result<Vec<(u64, u64)>, E>,
) {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: {name} FILE.fa [--bed]");
        std::process::exit(2);
    };
    let bed = args.next().as_deref() == Some("--bed");
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let recs = fasta_records(&text);
    let bases: usize = recs.iter().map(|r| r.1.len()).sum();
    let t = Instant::now();
    let (mut count, mut masked, mut hash) = (0usize, 0u64, 0u64);
    for (name, seq) in &recs {
        let iv = mask(seq).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(1)
        });
        count += iv.len();
        for (s, e) in iv {
            if bed {
                println!("{name}\t{s}\t{e}");
            }
            masked += e - s;
            hash = hash.wrapping_mul(0x100_0000_01b3).wrapping_add(s << 32 ^ e);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{path}: {:.2} Mbp in {} records, {secs:.3} s ({:.2} Mbp/s); {count} intervals, {masked} bases masked, checksum {hash:016x}",
        bases as f64 / 1e6,
        recs.len(),
        bases as f64 / 1e6 / secs,
    );
}
