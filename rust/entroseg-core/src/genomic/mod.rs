//! Genomic data: streaming FASTA/FASTQ records ([`fasta`]), DNA encoding, k-mer profiles
//! and tokens ([`dna`]), and the SDUST low-complexity masker ([`dust`]).

pub mod dna;
pub mod dust;
pub mod fasta;
