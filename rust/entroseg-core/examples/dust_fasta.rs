//! SDUST kernel time on a FASTA file, record by record, on one thread:
//! `cargo run --release -p entroseg-core --example dust_fasta -- genome.fa [repeats]`.
//! The file must be plain (uncompressed) FASTA. Prints the time (best of `repeats`,
//! default 3), the throughput and a checksum of the intervals, so that a change to the
//! masker can be checked for identical output and timed in one command.

use entroseg_core::genomic::dust::{sdust, DustOptions};
use std::time::Instant;

fn records(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b">") {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.extend_from_slice(line);
        }
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: dust_fasta FILE.fa [repeats]");
        std::process::exit(2);
    };
    let repeats: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let recs = records(&text);
    let bases: usize = recs.iter().map(Vec::len).sum();
    let mut best = f64::INFINITY;
    let mut summary = (0usize, 0u64, 0u64);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut count = 0;
        let mut masked = 0;
        let mut hash = 0u64;
        for r in &recs {
            let iv = sdust(r, DustOptions::default()).unwrap_or_else(|e| {
                eprintln!("{path}: {e}");
                std::process::exit(1)
            });
            count += iv.len();
            for (s, e) in iv {
                masked += e - s;
                hash = hash.wrapping_mul(0x100_0000_01b3).wrapping_add(s << 32 ^ e);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        summary = (count, masked, hash);
    }
    println!(
        "{path}: {:.2} Mbp in {} records, {:.4} s ({:.1} Mbp/s); {} intervals, {} bases masked, checksum {:016x}",
        bases as f64 / 1e6,
        recs.len(),
        best,
        bases as f64 / 1e6 / best,
        summary.0,
        summary.1,
        summary.2
    );
}
