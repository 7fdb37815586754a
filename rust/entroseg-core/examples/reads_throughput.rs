//! Reads a FASTA/FASTQ file (plain or compressed) in batches and masks every record with
//! SDUST, one thread, printing the time of each stage: the Rust floor under
//! `benches/bench_reads.py` (no Python).
//!
//!     cargo run --release -p entroseg-core --example reads_throughput -- reads.fq.gz

use entroseg_core::genomic::dust::DustOptions;
use entroseg_core::genomic::fasta::{FastxReader, ReaderOptions};
use entroseg_core::genomic::reads::{sdust_batch, BatchLimits, RecordBatch};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: reads_throughput FILE")?;
    for mask in [false, true] {
        let t = Instant::now();
        let mut reader = FastxReader::open(path.as_ref(), ReaderOptions::default())?;
        let mut batch = RecordBatch::default();
        let (mut records, mut bases, mut intervals) = (0, 0, 0);
        while reader.next_batch(&mut batch, BatchLimits::default())? {
            records += batch.len();
            bases += batch.bases();
            if mask {
                let m = sdust_batch(
                    &batch.sequences,
                    &batch.sequence_offsets,
                    DustOptions::default(),
                    1,
                )?;
                intervals += m.values.len();
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{}: {records} records, {bases} bases, {intervals} intervals, {s:.3} s, {:.1} Mbp/s",
            if mask { "read + mask" } else { "read" },
            bases as f64 / s / 1e6
        );
    }
    Ok(())
}
