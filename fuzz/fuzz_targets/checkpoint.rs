//! Checkpoint bytes of every streaming class: arbitrary state bodies, framed with a valid
//! checksum so the parsers behind it are reached. Restoring never panics; a restored
//! object checkpoints to bytes that restore to the same bytes, and it takes input and
//! finishes without panicking (errors are fine).
#![no_main]

use entroseg_core::estimate::conditional::{ConditionalEstimator, ConditionalPermutationEstimator};
use entroseg_core::estimate::context_model::ContextModel;
use entroseg_core::estimate::next_value::NextValueModel;
use entroseg_core::estimate::permutation::PermutationEstimator;
use entroseg_core::plan::changepoint::ChangePointDetector;
use entroseg_core::segment::profile::Profiler;
use entroseg_core::segment::stream::Segmenter;
use entroseg_core::util::frame_checkpoint;
use entroseg_core::Samples;
use libfuzzer_sys::fuzz_target;

const VALUES: [f64; 12] = [
    0.5, -1.0, 3.0, 3.0, 2.5, -7.0, 0.0, 1.0, 8.0, -2.0, 4.0, 4.5,
];
const SYMBOLS: [u8; 12] = [0, 1, 2, 1, 0, 3, 1, 1, 2, 0, 0, 1];

/// `restore(checkpoint(x))` checkpoints to the same bytes.
macro_rules! round_trip {
    ($ty:ty, $obj:expr) => {{
        let bytes = $obj.checkpoint();
        let again = <$ty>::restore(&bytes).expect("a checkpoint restores");
        assert_eq!(again.checkpoint(), bytes);
    }};
}

fuzz_target!(|data: &[u8]| {
    let [which, body @ ..] = data else {
        return;
    };
    let mut out = vec![0.0; VALUES.len()];
    match which % 8 {
        0 => {
            if let Ok(mut s) = Segmenter::restore(&frame_checkpoint("Segmenter", body)) {
                round_trip!(Segmenter, s);
                let _ = s.push(Samples::Values(&VALUES));
                let _ = s.push(Samples::U8(&SYMBOLS));
                let _ = s.finish();
                round_trip!(Segmenter, s);
            }
        }
        1 => {
            if let Ok(mut p) = Profiler::restore(&frame_checkpoint("Profiler", body)) {
                round_trip!(Profiler, p);
                let _ = p.push(Samples::Values(&VALUES));
                let _ = p.push(Samples::U8(&SYMBOLS));
                round_trip!(Profiler, p);
            }
        }
        2 => {
            let bytes = frame_checkpoint("PermutationEstimator", body);
            if let Ok(mut e) = PermutationEstimator::restore(&bytes) {
                round_trip!(PermutationEstimator, e);
                let _ = e.update(&VALUES, &mut out);
                round_trip!(PermutationEstimator, e);
            }
        }
        3 => {
            let bytes = frame_checkpoint("ConditionalEstimator", body);
            if let Ok(mut e) = ConditionalEstimator::restore(&bytes) {
                round_trip!(ConditionalEstimator, e);
                let _ = e.update(&SYMBOLS, &mut out);
                round_trip!(ConditionalEstimator, e);
            }
        }
        4 => {
            let bytes = frame_checkpoint("ConditionalPermutationEstimator", body);
            if let Ok(mut e) = ConditionalPermutationEstimator::restore(&bytes) {
                round_trip!(ConditionalPermutationEstimator, e);
                let _ = e.update(&VALUES, &mut out);
                round_trip!(ConditionalPermutationEstimator, e);
            }
        }
        5 => {
            if let Ok(mut m) = ContextModel::restore(&frame_checkpoint("ContextModel", body)) {
                round_trip!(ContextModel, m);
                let mut surprisal = vec![0.0; SYMBOLS.len()];
                let _ = m.update(&SYMBOLS, &mut out, &mut surprisal);
                round_trip!(ContextModel, m);
            }
        }
        6 => {
            if let Ok(mut m) = NextValueModel::restore(&frame_checkpoint("NextValueModel", body)) {
                round_trip!(NextValueModel, m);
                let mut second = vec![0.0; VALUES.len()];
                let _ = m.update(&VALUES, &mut out, &mut second);
                round_trip!(NextValueModel, m);
            }
        }
        _ => {
            let bytes = frame_checkpoint("ChangePointDetector", body);
            if let Ok(mut d) = ChangePointDetector::restore(&bytes) {
                round_trip!(ChangePointDetector, d);
                let _ = d.push(&VALUES);
                let _ = d.finish();
                round_trip!(ChangePointDetector, d);
            }
        }
    }
});
