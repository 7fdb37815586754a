//! tantan kernel time on a FASTA file, record by record, on one thread:
//! `cargo run --release -p entroseg-core --example tantan_fasta -- genome.fa [--bed]`.
//! The file must be plain (uncompressed) FASTA. Prints the time, the throughput and a
//! checksum of the intervals (and, with `--bed`, the intervals as BED on stdout), so that
//! a change to tantan can be checked for identical output and timed in one command.

use entroseg_core::genomic::tantan::{tantan, TantanOptions};
use std::time::Instant;

fn records(text: &[u8]) -> Vec<(String, Vec<u8>)> {
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

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: tantan_fasta FILE.fa [--bed]");
        std::process::exit(2);
    };
    let bed = args.next().as_deref() == Some("--bed");
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let recs = records(&text);
    let bases: usize = recs.iter().map(|r| r.1.len()).sum();
    let t = Instant::now();
    let (mut count, mut masked, mut hash) = (0usize, 0u64, 0u64);
    for (name, seq) in &recs {
        let iv = tantan(seq, TantanOptions::default()).unwrap_or_else(|e| {
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
