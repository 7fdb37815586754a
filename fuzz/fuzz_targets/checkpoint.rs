//! Checkpoint bytes of every streaming class (the merge planner included): arbitrary
//! state bodies, framed with a valid checksum so the parsers behind it are reached.
//! Restoring never panics; a restored object checkpoints to bytes that restore to the
//! same bytes, and it takes input and finishes without panicking (errors are fine).
#![no_main]

use entroseg_core::estimate::conditional::{ConditionalEstimator, ConditionalPermutationEstimator};
use entroseg_core::estimate::context_model::ContextModel;
use entroseg_core::estimate::next_value::NextValueModel;
use entroseg_core::estimate::permutation::PermutationEstimator;
use entroseg_core::plan::changepoint::ChangePointDetector;
use entroseg_core::plan::merge::{Features, MergePlanner, Similarity};
use entroseg_core::segment::profile::Profiler;
use entroseg_core::segment::stream::Segmenter;
use entroseg_core::util::frame_checkpoint;
use entroseg_core::Samples;
use libfuzzer_sys::fuzz_target;

const VALUES: [f64; 12] = [
    0.5, -1.0, 3.0, 3.0, 2.5, -7.0, 0.0, 1.0, 8.0, -2.0, 4.0, 4.5,
];
const SYMBOLS: [u8; 12] = [0, 1, 2, 1, 0, 3, 1, 1, 2, 0, 0, 1];
/// Column counts that divide `VALUES`' 12 values into whole rows.
const DIMS: [usize; 6] = [1, 2, 3, 4, 6, 12];
const WEIGHTS: [i64; 12] = [1, 3, 1, 1, 2, 7, 1, 1, 1, 4, 1, 2];
/// Samples per unit summing to 12 (profile units of several samples).
const LENGTHS: [i64; 5] = [2, 1, 4, 3, 2];

/// Pushes the test values as one chunk of `dim` columns (vectors or profile rows, as
/// the planner takes them), with or without weights.
fn push_units(p: &mut MergePlanner, dim: usize, weighted: bool, empty: bool) {
    let values: &[f64] = if empty { &[] } else { &VALUES };
    let vectors: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let n = values.len() / dim;
    let features = match p.similarity() {
        Similarity::Cosine => Features::Cosine {
            vectors: &vectors,
            dim,
        },
        Similarity::Profile => Features::Profile {
            values,
            columns: dim,
            unit_lengths: &[1; 12][..n],
        },
    };
    let _ = p.push(features, weighted.then_some(&WEIGHTS[..n]));
}

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
    match which % 9 {
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
        7 => {
            let bytes = frame_checkpoint("ChangePointDetector", body);
            if let Ok(mut d) = ChangePointDetector::restore(&bytes) {
                round_trip!(ChangePointDetector, d);
                let _ = d.push(&VALUES);
                let _ = d.finish();
                round_trip!(ChangePointDetector, d);
            }
        }
        _ => {
            // The rest of `which` picks the chunks' column counts and weights: a chunk
            // of other columns than the stream's, an empty one, units of several
            // samples (profile).
            let bytes = frame_checkpoint("MergePlanner", body);
            if let Ok(mut p) = MergePlanner::restore(&bytes) {
                round_trip!(MergePlanner, p);
                let k = usize::from(which / 9);
                let (first, second) = (DIMS[k % 6], DIMS[(k / 6) % 6]);
                push_units(&mut p, second, false, true);
                push_units(&mut p, first, k % 2 == 1, false);
                round_trip!(MergePlanner, p);
                push_units(&mut p, second, true, false);
                if p.similarity() == Similarity::Profile {
                    let features = Features::Profile {
                        values: &VALUES,
                        columns: 1,
                        unit_lengths: &LENGTHS,
                    };
                    let _ = p.push(features, None);
                }
                let _ = p.finish();
                round_trip!(MergePlanner, p);
            }
        }
    }
});
