//! tantan kernel time on a FASTA file, record by record, on one thread:
//! `cargo run --release -p entroseg-core --example tantan_fasta -- genome.fa [--bed]`.
//! The file must be plain (uncompressed) FASTA. Prints the time, the throughput and a
//! checksum of the intervals (and, with `--bed`, the intervals as BED on stdout), so that
//! a change to tantan can be checked for identical output and timed in one command.

mod common;

use entroseg_core::genomic::tantan::{tantan, TantanOptions};

fn main() {
    common::masker_main("tantan_fasta", |seq| tantan(seq, TantanOptions::default()));
}
