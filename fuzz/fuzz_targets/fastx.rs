//! The FASTA/FASTQ reader on arbitrary bytes (plain or any compression the magic bytes
//! select): it must return records or a typed error, never panic, and every record it
//! returns must hold only nucleotide letters and, for FASTQ, a quality of equal length.
#![no_main]

use entroseg_core::genomic::dna;
use entroseg_core::genomic::fasta::{EmptyRecords, FastxReader, ReaderOptions, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ReaderOptions {
        empty: EmptyRecords::Keep,
        validate: true,
    };
    let Ok(mut reader) =
        FastxReader::from_reader(std::io::Cursor::new(data.to_vec()), "fuzz", options)
    else {
        return;
    };
    let mut record = Record::default();
    // Bounded: a decompression bomb must not make one input run for ever.
    for _ in 0..10_000 {
        match reader.next_record(&mut record) {
            Ok(true) => {
                assert!(dna::first_invalid(&record.sequence).is_none());
                if let Some(q) = &record.quality {
                    assert_eq!(q.len(), record.sequence.len());
                }
                let codes = dna::encode(&record.sequence).expect("validated");
                assert_eq!(codes.len(), record.sequence.len());
            }
            Ok(false) | Err(_) => break,
        }
    }
});
