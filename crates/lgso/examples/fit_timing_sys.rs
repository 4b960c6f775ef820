//! Times one GAN fit at Rosenbrock-10 shapes: `cargo run --release --example fit_timing -- [samples] [epochs]`.
use lgso::config::GanConfig;
use lgso::data::{Matrix, Samples};
use lgso::seed::rng_from_seed;
use lgso::surrogate::CramerGan;
use rand::Rng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let k: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(48_000);
    let epochs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = rng_from_seed(1);
    let (n, d, m) = (10, 1, 1);
    let psi: Vec<f64> = (0..k * n)
        .map(|_| 2.0 + rng.random_range(-0.2..0.2))
        .collect();
    let x: Vec<f64> = (0..k * d).map(|_| rng.random_range(-10.0..10.0)).collect();
    let y: Vec<f64> = (0..k * m)
        .map(|i| x[i] + rng.random_range(-3.0..3.0) + 45.0)
        .collect();
    let data = Samples {
        psi: Matrix::from_vec(k, n, psi).unwrap(),
        x: Matrix::from_vec(k, d, x).unwrap(),
        y: Matrix::from_vec(k, m, y).unwrap(),
    };
    let gan = CramerGan::new(GanConfig {
        epochs,
        ..GanConfig::default()
    });
    let fitted = gan.fit_gan(&data, &mut rng).unwrap();
    let r = lgso::surrogate::FittedSurrogate::report(&fitted);
    let batches = r.steps / 2;
    println!(
        "samples {k} epochs {epochs}: {:.2} s, {} batches, {:.2} ms per batch (critic + generator step)",
        r.seconds,
        batches,
        1000.0 * r.seconds / batches as f64
    );
}
