//! Kernel throughput without Python or allocation in the timed region:
//! `cargo run --release -p entroseg-core --example throughput [n]`.
//! Output buffers are allocated and touched once before timing, so the numbers are the
//! estimators' own cost (the Python benchmark in benches/ includes allocation).

use entroseg_core::estimate::conditional::{ConditionalEstimator, ConditionalOptions};
use entroseg_core::estimate::permutation::{PermutationEstimator, PermutationOptions};

mod common;

fn main() {
    let n = common::samples_arg();
    let mut rng = common::XorShift::new();
    let x = common::random_walk(&mut rng, n);
    let symbols: Vec<u8> = (0..n).map(|_| (rng.next_u64() >> 62) as u8).collect();
    let mut out = vec![1.0f64; n];
    for order in [3usize, 5, 7] {
        let rolling = PermutationOptions {
            order,
            window: Some(256),
            ..Default::default()
        };
        let t_roll = common::best_of(5, || {
            let mut est = PermutationEstimator::new(rolling).unwrap();
            est.update(&x, &mut out).unwrap();
        })
        .0;
        let whole = PermutationOptions {
            order,
            ..Default::default()
        };
        let t_whole = common::best_of(5, || {
            let mut est = PermutationEstimator::new(whole).unwrap();
            est.update(&x, &mut []).unwrap();
            std::hint::black_box(est.value().unwrap());
        })
        .0;
        println!(
            "PE d={order}: rolling W=256 {:7.1} M samples/s   whole {:7.1} M samples/s",
            n as f64 / t_roll / 1e6,
            n as f64 / t_whole / 1e6
        );
    }
    for context in [3usize, 5, 8] {
        let o = ConditionalOptions {
            context,
            alphabet_size: 4,
            window: Some(256),
            normalize: true,
            lag: 1,
        };
        let t = common::best_of(5, || {
            let mut est = ConditionalEstimator::new(o).unwrap();
            est.update(&symbols, &mut out).unwrap();
        })
        .0;
        println!(
            "conditional k={context} alphabet 4: rolling W=256 {:7.1} M symbols/s",
            n as f64 / t / 1e6
        );
    }
}
