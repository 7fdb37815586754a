//! Streaming change points: samples per second of the detector with its default window
//! on a random walk with regime changes, and of the offline search on the same series:
//! `cargo run --release -p entroseg-core --example change_point_stream [n]`.

use entroseg_core::plan::changepoint::{
    change_points, default_penalty, ChangePointDetector, ChangePointOptions, Stop, StreamWindow,
};

mod common;

fn main() {
    let n = common::samples_arg().min(100_000_000);
    let mut rng = common::XorShift::new();
    // A random walk whose step size changes every 5,000 samples.
    let mut x = common::random_walk(&mut rng, n);
    for (i, v) in x.iter_mut().enumerate() {
        if (i / 5000) % 2 == 1 {
            *v = (*v * 7.0).sin();
        }
    }
    let options = ChangePointOptions {
        order: Some(4),
        delays: vec![1, 2, 4, 8],
        symmetric: true,
        mean: false,
        variance: false,
        trend: false,
        min_size: 20,
        block: 20,
        radius: 40,
        refine_variance: true,
        stop: Stop::Penalty(0.0),
    };
    let geometry = StreamWindow {
        window: 4096,
        lag: 2048,
        step: 512,
    };
    let (secs, found) = common::best_of(3, || {
        let mut d = ChangePointDetector::new(options.clone(), None, geometry.clone(), None)
            .expect("valid options");
        let mut found = 0;
        for chunk in x.chunks(65536) {
            found += d.push(chunk).expect("finite").len();
        }
        found + d.finish().expect("open").len()
    });
    println!(
        "stream  {n} samples: {:.2} M samples/s, {found} change points",
        n as f64 / secs / 1e6
    );
    let offline = ChangePointOptions {
        stop: Stop::Penalty(default_penalty(n, &options)),
        ..options.clone()
    };
    let (secs, ends) = common::best_of(3, || change_points(&x, None, &offline).expect("valid"));
    println!(
        "offline {n} samples: {:.2} M samples/s, {} change points",
        n as f64 / secs / 1e6,
        ends.len() - 1
    );
}
