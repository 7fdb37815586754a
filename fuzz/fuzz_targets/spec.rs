//! The segmentation spec parser on arbitrary option names and values: setting and
//! building never panic; a spec that builds segments a short series (values and
//! symbols) without panicking, and its segments tile the input.
#![no_main]

use entroseg_core::segment::batch::segment;
use entroseg_core::segment::spec::OptionValue;
use entroseg_core::{Samples, SpecOptions};
use libfuzzer_sys::fuzz_target;

const STRINGS: [&str; 12] = [
    "permutation",
    "conditional",
    "next_symbol",
    "next_value",
    "scores",
    "line",
    "online",
    "batch",
    "entrope",
    "raise",
    "propagate",
    "or",
];

/// One value from 9 bytes: a type tag and 8 bytes of payload.
fn value(tag: u8, raw: [u8; 8]) -> OptionValue {
    let bits = u64::from_le_bytes(raw);
    match tag % 6 {
        0 => OptionValue::None,
        1 => OptionValue::Bool(bits & 1 == 1),
        // Small integers most of the time, any integer sometimes.
        2 => OptionValue::Int((bits % 300) as i64 - 20),
        3 => OptionValue::Int(bits as i64),
        4 => OptionValue::Float(f64::from_bits(bits)),
        _ => OptionValue::Str(STRINGS[(bits % STRINGS.len() as u64) as usize].to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut options = SpecOptions::default();
    for item in data.chunks_exact(10) {
        let name = SpecOptions::NAMES[item[0] as usize % SpecOptions::NAMES.len()];
        let raw: [u8; 8] = item[2..10].try_into().expect("8 bytes");
        let _ = options.set(name, value(item[1], raw));
    }
    let Ok(spec) = options.build() else {
        return;
    };
    // A window or length of millions of samples is valid and allocates O(window) state
    // by design (a failed allocation is an error, not an abort): build those specs, but
    // segment with modest sizes only, so the fuzzer's memory limit is not what it finds.
    let huge = options
        .items()
        .iter()
        .any(|(_, v)| matches!(v, OptionValue::Int(i) if i.unsigned_abs() > 1 << 20));
    if huge {
        return;
    }
    let values: Vec<f64> = (0..200)
        .map(|i| ((i * 37) % 23) as f64 - (i % 7) as f64)
        .collect();
    let symbols: Vec<u8> = (0..200).map(|i| ((i * 13) % 5) as u8).collect();
    for samples in [Samples::Values(&values), Samples::U8(&symbols)] {
        if let Ok(segments) = segment(samples, &spec) {
            let mut next = 0;
            for s in &segments {
                assert_eq!(s.start as usize, next);
                assert!(s.len > 0);
                next += s.len as usize;
            }
            assert_eq!(next, 200);
        }
    }
});
