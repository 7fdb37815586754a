//! Reads a FASTA/FASTQ file (plain or compressed) in batches and runs every per-record
//! batch operation on one thread, printing the time of each: the Rust floor under
//! `benches/bench_reads.py` (no Python).
//!
//!     cargo run --release -p entroseg-core --example reads_throughput -- reads.fq.gz [STAGE...]
//!
//! Stages: `read`, `mask` (SDUST), `tokens` (next-base surprisal of order 4, target_len
//! 8, max_len 32, as `entroseg dna tokens`), `profile` (k-mer entropy, k = 4, window 50);
//! all of them by default.

use entroseg_core::genomic::dna::{ProfileKind, ProfileOptions};
use entroseg_core::genomic::dust::DustOptions;
use entroseg_core::genomic::fasta::{FastxReader, ReaderOptions};
use entroseg_core::genomic::reads::{
    profile_batch, sdust_batch, tokens_batch, BatchLimits, RecordBatch,
};
use entroseg_core::segment::rules::Rules;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: reads_throughput FILE [STAGE...]")?;
    let mut stages: Vec<String> = args.collect();
    if stages.is_empty() {
        stages = ["read", "mask", "tokens", "profile"]
            .map(String::from)
            .to_vec();
    }
    let tokens = ProfileOptions {
        kind: ProfileKind::NextSurprisal,
        k: 4,
        window: None,
        normalize: true,
    };
    let rules = Rules {
        target_len: Some(8.0),
        max_len: Some(32),
        ..Rules::default()
    };
    let kmer = ProfileOptions {
        kind: ProfileKind::Kmer,
        k: 4,
        window: Some(50),
        normalize: true,
    };
    for stage in &stages {
        let t = Instant::now();
        let mut reader = FastxReader::open(path.as_ref(), ReaderOptions::default())?;
        let mut batch = RecordBatch::default();
        let (mut records, mut bases, mut check) = (0, 0, 0);
        while reader.next_batch(&mut batch, BatchLimits::default())? {
            records += batch.len();
            bases += batch.bases();
            let (seqs, offsets) = (&batch.sequences, &batch.sequence_offsets);
            check += match stage.as_str() {
                "read" => 0,
                "mask" => sdust_batch(seqs, offsets, DustOptions::default(), 1)?
                    .values
                    .len(),
                "tokens" => tokens_batch(seqs, offsets, tokens, &rules, 1)?.values.len(),
                "profile" => profile_batch(seqs, offsets, kmer, 1)?.len(),
                other => return Err(format!("unknown stage {other:?}").into()),
            };
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{stage}: {records} records, {bases} bases, check {check}, {s:.3} s, {:.1} Mbp/s",
            bases as f64 / s / 1e6
        );
    }
    Ok(())
}
