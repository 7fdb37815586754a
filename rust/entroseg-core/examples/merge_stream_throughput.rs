//! Throughput of the streaming merge planner in the core (no Python):
//! `cargo run --release -p entroseg-core --example merge_stream_throughput [n]`.
//! The units of `benches/bench_merge.py --stream`: one series of `n` units (an
//! entropy-like profile of one column, or float32 vectors of dimension 4) pushed 65,536
//! at a time, window 16, 4 levels, blocks of 256, 1024 and 4096; and, to see where the
//! time goes, the same with a schedule that merges nothing (validation, similarities and
//! the output arrays without any pair selection).

use entroseg_core::plan::merge::{Features, MergeOptions, MergePlanner, Schedule, Similarity};

mod common;

const CHUNK: usize = 1 << 16;

fn run(options: &MergeOptions, similarity: Similarity, data: &[f64], vectors: &[f32]) -> u64 {
    let mut planner = MergePlanner::new(options.clone(), similarity).expect("valid options");
    let levels = options.schedule.levels();
    // The top level's groups; the plan's arrays then go back to the planner (set
    // MERGE_NO_RECYCLE to drop them instead, as a caller that keeps them would).
    let recycle = std::env::var_os("MERGE_NO_RECYCLE").is_none();
    let top = |planner: &mut MergePlanner, p: entroseg_core::plan::merge::StreamPlan| {
        let groups = p.plan.levels[levels - 1].sizes.len() as u64;
        if recycle {
            planner.recycle(p.plan);
        }
        groups
    };
    let mut groups = 0;
    match similarity {
        Similarity::Profile => {
            let ones = vec![1i64; CHUNK];
            for chunk in data.chunks(CHUNK) {
                let f = Features::Profile {
                    values: chunk,
                    columns: 1,
                    unit_lengths: &ones[..chunk.len()],
                };
                let part = planner.push(f, None).expect("push");
                groups += top(&mut planner, part);
            }
        }
        Similarity::Cosine => {
            for chunk in vectors.chunks(CHUNK * 4) {
                let f = Features::Cosine {
                    vectors: chunk,
                    dim: 4,
                };
                let part = planner.push(f, None).expect("push");
                groups += top(&mut planner, part);
            }
        }
    }
    let part = planner.finish().expect("finish");
    groups + top(&mut planner, part)
}

fn main() {
    let n = common::samples_arg();
    let mut rng = common::XorShift::new();
    let profile: Vec<f64> = common::random_walk(&mut rng, n)
        .iter()
        .map(|v| (v / 50.0).sin().abs())
        .collect();
    let vectors: Vec<f32> = (0..n * 4)
        .map(|_| ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32)
        .collect();
    println!("n = {n} units pushed {CHUNK} at a time, window 16, 4 levels (best of MERGE_RUNS, default 3; wall, or the thread's CPU time with ENTROSEG_CPU_TIME=1)");
    // MERGE_CASE=<substring> runs only the matching cases (for profiling one schedule);
    let only = std::env::var("MERGE_CASE").ok();
    // MERGE_BLOCK=<units> only that block size; MERGE_RUNS=<k> best of k (default 3).
    let only_block: Option<usize> = std::env::var("MERGE_BLOCK")
        .ok()
        .and_then(|b| b.parse().ok());
    let runs: usize = std::env::var("MERGE_RUNS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(3);
    for block in [256usize, 1024, 4096] {
        if only_block.is_some_and(|b| b != block) {
            continue;
        }
        println!("block {block}:");
        let cases: [(&str, Schedule, Similarity); 6] = [
            (
                "profile, threshold -0.01",
                Schedule::Threshold {
                    threshold: -0.01,
                    levels: 4,
                },
                Similarity::Profile,
            ),
            (
                "profile, EMA (momentum 0.9)",
                Schedule::Ema {
                    initial: None,
                    momentum: 0.9,
                    levels: 4,
                },
                Similarity::Profile,
            ),
            (
                "profile, r = block/16",
                Schedule::Counts(vec![block / 16; 4]),
                Similarity::Profile,
            ),
            (
                "profile, ratio 0.25",
                Schedule::Ratio {
                    ratio: 0.25,
                    levels: 4,
                },
                Similarity::Profile,
            ),
            (
                "cosine dim 4, ratio 0.25",
                Schedule::Ratio {
                    ratio: 0.25,
                    levels: 4,
                },
                Similarity::Cosine,
            ),
            (
                "profile, no merges (r = 0): the frame alone",
                Schedule::Counts(vec![0; 4]),
                Similarity::Profile,
            ),
        ];
        for (name, schedule, similarity) in cases {
            if only.as_deref().is_some_and(|o| !name.contains(o)) {
                continue;
            }
            let options = MergeOptions {
                window: 16,
                max_size: None,
                schedule,
                strict: false,
                block: Some(block),
            };
            let (t, groups) =
                common::best_of(runs, || run(&options, similarity, &profile, &vectors));
            println!(
                "  {name:<48} {:7.1} M units/s  ({t:.3} s; {groups} top groups)",
                n as f64 / t / 1e6
            );
        }
    }
}
