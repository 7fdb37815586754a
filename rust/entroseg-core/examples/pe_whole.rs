//! Whole-series permutation entropy against a plain sum over the same array, in cache
//! (10^6 samples) and out of it (10^7): `cargo run --release -p entroseg-core --example
//! pe_whole [n]`; `pe_whole ORDER N REPEATS` runs one configuration, for `perf`.
//! The sum is the memory-bandwidth yardstick the Python benchmark uses (`x.sum()`), so the
//! ratio says how close the estimator is to streaming the input once.

use entroseg_core::estimate::permutation::{self, PermutationOptions};

mod common;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if let [order, n, reps] = args[..] {
        // One configuration, repeated: for `perf stat` / `perf record`.
        let mut rng = common::XorShift::new();
        let x = common::random_walk(&mut rng, n);
        let o = PermutationOptions {
            order,
            ..Default::default()
        };
        for _ in 0..reps {
            std::hint::black_box(permutation::whole_series(&x, o).unwrap());
        }
        return;
    }
    let big = common::samples_arg();
    let mut rng = common::XorShift::new();
    let x = common::random_walk(&mut rng, big);
    for n in [1_000_000usize.min(big), big] {
        let xs = &x[..n];
        let t_sum = common::best_of(5, || {
            // Eight partial sums, as numpy's pairwise sum vectorises.
            let mut acc = [0f64; 8];
            for c in xs.chunks_exact(8) {
                for (a, &v) in acc.iter_mut().zip(c) {
                    *a += v;
                }
            }
            std::hint::black_box(acc.iter().sum::<f64>());
        })
        .0;
        println!("n={n}: sum {:7.1} M/s", n as f64 / t_sum / 1e6);
        for order in [3usize, 4, 5, 7, 9] {
            let o = PermutationOptions {
                order,
                ..Default::default()
            };
            let t = common::best_of(5, || {
                std::hint::black_box(permutation::whole_series(xs, o).unwrap());
            })
            .0;
            println!(
                "  PE d={order} whole {:7.1} M/s  ({:.3}x sum)",
                n as f64 / t / 1e6,
                t_sum / t
            );
        }
    }
}
