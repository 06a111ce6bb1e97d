//! Shared test helpers: one GPU per test binary, seeded inputs, tolerances.
#![allow(dead_code)]

pub mod conv;

use std::sync::OnceLock;

use dae::gpu::Gpu;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The GPU shared by every test of a binary. Without an adapter the test is
/// skipped with a message, except under `CI=true`, where it fails.
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    let g = GPU.get_or_init(|| match Gpu::new() {
        Ok(g) => Some(g),
        Err(e) => {
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!("CI=true and no GPU adapter: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    });
    g.as_ref()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [lo, hi).
pub fn uniform(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Asserts |got - want| <= atol + rtol·|want| elementwise, naming the first
/// offending index.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    let mut worst = (0usize, 0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let tol = atol + rtol * w.abs();
        assert!(
            err <= tol && g.is_finite() == w.is_finite(),
            "{what}: index {i}: got {g}, want {w} (|err| {err} > tol {tol})"
        );
        if err > worst.1 {
            worst = (i, err);
        }
    }
}

/// Central finite difference of a scalar function f at x along each
/// coordinate, in f64.
pub fn finite_diff(x: &[f32], eps: f64, f: impl Fn(&[f32]) -> f64) -> Vec<f64> {
    let mut xs = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = xs[i];
            xs[i] = (orig as f64 + eps) as f32;
            let up = f(&xs);
            xs[i] = (orig as f64 - eps) as f32;
            let down = f(&xs);
            xs[i] = orig;
            (up - down) / (2.0 * eps)
        })
        .collect()
}
