//! Digests of merge plans over many cases, for checking that a change to the planner
//! keeps every plan bit for bit: run it from two builds and compare the output
//! (`cargo run --release -p entroseg-core --example merge_plan_digest > digests.txt`).
//! Each line names a case and hashes every array of every level of its plan (or the
//! error), the one-shot plan and the same plan streamed through `MergePlanner` (handed
//! back with `recycle` after some pushes).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use entroseg_core::plan::merge::{
    merge_plan, Features, MergeOptions, MergePlan, MergePlanner, Schedule, Similarity,
};

mod common;

fn digest(plan: &MergePlan) -> u64 {
    let mut h = DefaultHasher::new();
    for l in &plan.levels {
        l.group_ids.hash(&mut h);
        l.source.hash(&mut h);
        l.sizes.hash(&mut h);
        l.log_sizes
            .iter()
            .map(|v| v.to_bits())
            .for_each(|v| v.hash(&mut h));
        l.cu_seqlens.hash(&mut h);
        l.series_offsets.hash(&mut h);
        l.requested.hash(&mut h);
        l.achieved.hash(&mut h);
        l.capacity.hash(&mut h);
        l.thresholds
            .iter()
            .map(|v| v.to_bits())
            .for_each(|v| v.hash(&mut h));
        l.block_offsets.hash(&mut h);
    }
    h.finish()
}

fn main() {
    let mut rng = common::XorShift::new();
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let n = 20_000usize;
    let walk: Vec<f64> = {
        let mut v = 0.0;
        (0..n * 3)
            .map(|_| {
                v += uniform() - 0.5;
                (v / 30.0).sin().abs()
            })
            .collect()
    };
    // Quantised: full of ties.
    let tied: Vec<f64> = walk.iter().map(|v| (v * 4.0).round() / 4.0).collect();
    let vectors: Vec<f32> = (0..n * 4).map(|_| (uniform() - 0.5) as f32).collect();
    let tied_vectors: Vec<f32> = vectors.iter().map(|v| (v * 2.0).round()).collect();
    let weights: Vec<i64> = (0..n).map(|_| 1 + (uniform() * 4.0) as i64).collect();
    let lengths: Vec<i64> = (0..n).map(|_| 1 + (uniform() * 3.0) as i64).collect();
    let samples: usize = lengths.iter().sum::<i64>() as usize;
    let offsets_one = vec![0, n as i64];
    let offsets_many: Vec<i64> = {
        let mut o = vec![0i64];
        let mut at = 0i64;
        while at < n as i64 {
            at = (at + 1 + (uniform() * 3000.0) as i64).min(n as i64);
            o.push(at);
        }
        o.insert(3, o[2]); // an empty series
        o
    };
    let schedules = [
        Schedule::Threshold {
            threshold: -0.01,
            levels: 4,
        },
        Schedule::Threshold {
            threshold: -0.2,
            levels: 3,
        },
        Schedule::Ema {
            initial: None,
            momentum: 0.9,
            levels: 4,
        },
        Schedule::Ema {
            initial: Some(-0.05),
            momentum: 0.5,
            levels: 2,
        },
        Schedule::Counts(vec![64; 4]),
        Schedule::Counts(vec![3, 500, 0, 40]),
        Schedule::Counts(vec![200, 150, 100, 50]),
        Schedule::Ratio {
            ratio: 0.25,
            levels: 4,
        },
        Schedule::Ratio {
            ratio: 0.6,
            levels: 3,
        },
    ];
    for (si, schedule) in schedules.iter().enumerate() {
        for block in [Some(64usize), Some(1024), Some(4096), None] {
            for max_size in [None, Some(5i64)] {
                for (fi, feat) in ["walk", "tied", "walk3", "multi", "cos", "cos-tied"]
                    .iter()
                    .enumerate()
                {
                    for offsets in [&offsets_one, &offsets_many] {
                        let options = MergeOptions {
                            window: if fi % 2 == 0 { 16 } else { 8 },
                            max_size,
                            schedule: schedule.clone(),
                            strict: false,
                            block,
                        };
                        let w = max_size.map(|_| &weights[..]);
                        let features = match *feat {
                            "walk" => Features::Profile {
                                values: &walk[..n],
                                columns: 1,
                                unit_lengths: &vec![1; n],
                            },
                            "tied" => Features::Profile {
                                values: &tied[..n],
                                columns: 1,
                                unit_lengths: &vec![1; n],
                            },
                            "walk3" => Features::Profile {
                                values: &walk[..n * 3],
                                columns: 3,
                                unit_lengths: &vec![1; n],
                            },
                            "multi" => Features::Profile {
                                values: &walk[..samples],
                                columns: 1,
                                unit_lengths: &lengths,
                            },
                            "cos" => Features::Cosine {
                                vectors: &vectors,
                                dim: 4,
                            },
                            _ => Features::Cosine {
                                vectors: &tied_vectors,
                                dim: 4,
                            },
                        };
                        let one = match merge_plan(offsets, w, features, &options) {
                            Ok(p) => format!("{:016x}", digest(&p)),
                            Err(e) => format!("error {}", e.message()),
                        };
                        // Streamed (one series, with a block), chunks of 777 units.
                        let streamed = if let (Some(_), 2) = (block, offsets.len()) {
                            let sim = if fi >= 4 {
                                Similarity::Cosine
                            } else {
                                Similarity::Profile
                            };
                            let mut p = MergePlanner::new(options.clone(), sim).expect("options");
                            let mut h = DefaultHasher::new();
                            let mut at = 0usize;
                            let mut sample_at = 0usize;
                            let dim = match features {
                                Features::Cosine { dim, .. } => dim,
                                Features::Profile { columns, .. } => columns,
                            };
                            while at < n {
                                let e = (at + 777).min(n);
                                let f = match features {
                                    Features::Cosine { vectors, dim } => Features::Cosine {
                                        vectors: &vectors[at * dim..e * dim],
                                        dim,
                                    },
                                    Features::Profile {
                                        values,
                                        columns,
                                        unit_lengths,
                                    } => {
                                        let s: usize =
                                            unit_lengths[at..e].iter().sum::<i64>() as usize;
                                        let f = Features::Profile {
                                            values: &values
                                                [sample_at * columns..(sample_at + s) * columns],
                                            columns,
                                            unit_lengths: &unit_lengths[at..e],
                                        };
                                        sample_at += s;
                                        f
                                    }
                                };
                                let part = p.push(f, w.map(|w| &w[at..e])).expect("push");
                                part.first_unit.hash(&mut h);
                                part.first_groups.hash(&mut h);
                                digest(&part.plan).hash(&mut h);
                                // Every other push writes into the arrays of the last.
                                if at % 2 == 0 {
                                    p.recycle(part.plan);
                                }
                                at = e;
                            }
                            let _ = dim;
                            let part = p.finish().expect("finish");
                            digest(&part.plan).hash(&mut h);
                            format!("{:016x}", h.finish())
                        } else {
                            "-".to_string()
                        };
                        println!("s{si} block {block:?} max {max_size:?} {feat} series {}: {one} {streamed}", offsets.len() - 1);
                    }
                }
            }
        }
    }
}
