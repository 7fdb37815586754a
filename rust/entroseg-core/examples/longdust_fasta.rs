//! longdust kernel time on a FASTA file, record by record, on one thread:
//! `cargo run --release -p entroseg-core --example longdust_fasta -- genome.fa [--bed]`.
//! The file must be plain (uncompressed) FASTA. Prints the time, the throughput and a
//! checksum of the intervals (and, with `--bed`, the intervals as BED on stdout), so that
//! a change to the masker can be checked for identical output and timed in one command.

mod common;

use entroseg_core::genomic::longdust::{Longdust, LongdustOptions};

fn main() {
    let mut masker = Longdust::new(LongdustOptions::default()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    common::masker_main("longdust_fasta", |seq| masker.mask_letters(seq));
}
