//! Genomic data: streaming FASTA/FASTQ records ([`fasta`]), DNA encoding, k-mer profiles
//! and tokens ([`dna`]), the SDUST low-complexity masker ([`dust`]), the longdust masker
//! ([`longdust`]), the tantan tandem-repeat masker ([`tantan`]), a multi-member gzip
//! decoder ([`gzip`]), and batches of many short records with the per-record operations
//! over a whole batch ([`reads`]).

pub mod dna;
pub mod dust;
pub mod fasta;
pub mod gzip;
pub mod longdust;
pub mod read_model;
pub mod reads;
pub mod tantan;
