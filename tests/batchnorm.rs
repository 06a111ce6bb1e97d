mod common;

use common::*;
use dae::gpu::{Gpu, StepInfo, Tensor};
use dae::kernels::batchnorm::{self, Chunking};
use dae::reference;

const MOMENTUM: f32 = batchnorm::MOMENTUM;
const EPS: f32 = batchnorm::EPS;
/// Filler for the words of the flat buffers that a launcher must not touch.
const SENTINEL: f32 = 7.25;

/// Where each per-feature vector sits in the flat parameter (and gradient)
/// buffer: 64-word aligned, gamma and beta first, running statistics after a
/// gap, as the parameter layout places them.
struct Layout {
    gamma: usize,
    beta: usize,
    running_mean: usize,
    running_var: usize,
    len: usize,
}

fn layout(features: usize) -> Layout {
    let slot = features.div_ceil(64) * 64;
    Layout {
        gamma: 64,
        beta: 64 + slot,
        running_mean: 128 + 2 * slot,
        running_var: 128 + 3 * slot,
        len: 192 + 4 * slot,
    }
}

fn put(buf: &mut [f32], at: usize, v: &[f32]) {
    buf[at..at + v.len()].copy_from_slice(v);
}

/// x with a per-feature offset and scale, so that |mean| >> std for some
/// features (the case where a naive Σx² − (Σx)²/N variance cancels).
fn inputs(seed: u64, rows: usize, features: usize, max_center: f32) -> Vec<f32> {
    let mut r = rng(seed);
    let center = uniform(&mut r, features, -max_center, max_center);
    let scale = uniform(&mut r, features, 0.1, 3.0);
    let u = uniform(&mut r, rows * features, -1.0, 1.0);
    (0..rows * features)
        .map(|k| center[k % features] + scale[k % features] * u[k])
        .collect()
}

struct Case {
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    rm: Vec<f32>,
    rv: Vec<f32>,
    flat: Vec<f32>,
    lay: Layout,
}

fn case(seed: u64, rows: usize, features: usize) -> Case {
    case_centered(seed, rows, features, 20.0)
}

fn case_centered(seed: u64, rows: usize, features: usize, max_center: f32) -> Case {
    let x = inputs(seed, rows, features, max_center);
    let mut r = rng(seed + 1000);
    let gamma = uniform(&mut r, features, 0.5, 2.0);
    let beta = uniform(&mut r, features, -1.0, 1.0);
    let rm = uniform(&mut r, features, -1.0, 1.0);
    let rv = uniform(&mut r, features, 0.5, 2.0);
    let lay = layout(features);
    let mut flat = vec![SENTINEL; lay.len];
    put(&mut flat, lay.gamma, &gamma);
    put(&mut flat, lay.beta, &beta);
    put(&mut flat, lay.running_mean, &rm);
    put(&mut flat, lay.running_var, &rv);
    Case {
        x,
        gamma,
        beta,
        rm,
        rv,
        flat,
        lay,
    }
}

struct TrainOut {
    y: Vec<f32>,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    flat: Vec<f32>,
}

/// Every variant of the chunked passes, whatever the adapter: CI runs on
/// lavapipe and must cover the GPU variants too. vec4 falls back to scalar
/// when features % 4 != 0, so those shapes run the scalar shaders twice.
fn variants(rows: usize, features: usize) -> [(&'static str, Chunking); 4] {
    [
        ("cpu", Chunking::cpu(rows, features, false)),
        ("cpu vec4", Chunking::cpu(rows, features, true)),
        ("gpu", Chunking::gpu(rows, features, false)),
        ("gpu vec4", Chunking::gpu(rows, features, true)),
    ]
}

/// Runs the GPU training forward `times` times on the same input.
fn gpu_forward_train(
    gpu: &Gpu,
    ch: Chunking,
    c: &Case,
    rows: usize,
    features: usize,
    times: usize,
) -> TrainOut {
    let x = gpu.upload_f32("x", &c.x).unwrap();
    let y = gpu.zeros("y", rows * features).unwrap();
    let mean = gpu.zeros("mean", features).unwrap();
    let rstd = gpu.zeros("rstd", features).unwrap();
    let params = gpu.upload_f32("params", &c.flat).unwrap();
    let l = &c.lay;
    let prog = batchnorm::forward_train_chunked(
        gpu,
        ch,
        &y,
        &mean,
        &rstd,
        params.at(l.running_mean),
        params.at(l.running_var),
        &x,
        params.at(l.gamma),
        params.at(l.beta),
        rows,
        features,
        MOMENTUM,
        EPS,
        batchnorm::Epilogue::NONE,
    )
    .unwrap();
    for _ in 0..times {
        prog.run(gpu, &StepInfo::default()).unwrap();
    }
    TrainOut {
        y: gpu.read_f32(&y).unwrap(),
        mean: gpu.read_f32(&mean).unwrap(),
        rstd: gpu.read_f32(&rstd).unwrap(),
        flat: gpu.read_f32(&params).unwrap(),
    }
}

fn ref_forward_train(c: &Case, rows: usize, features: usize, times: usize) -> TrainOut {
    let mut y = vec![0.0; rows * features];
    let (mut mean, mut rstd) = (vec![0.0; features], vec![0.0; features]);
    let (mut rm, mut rv) = (c.rm.clone(), c.rv.clone());
    for _ in 0..times {
        reference::batchnorm::forward_train(
            &mut y, &mut mean, &mut rstd, &mut rm, &mut rv, &c.x, &c.gamma, &c.beta, rows,
            features, MOMENTUM, EPS,
        );
    }
    let mut flat = c.flat.clone();
    put(&mut flat, c.lay.running_mean, &rm);
    put(&mut flat, c.lay.running_var, &rv);
    TrainOut {
        y,
        mean,
        rstd,
        flat,
    }
}

const ROWS: [usize; 6] = [1, 2, 7, 10, 196, 1000];
const FEATURES: [usize; 5] = [1, 3, 10, 33, 512];

/// Tolerance on y for the training forward. The GPU's mean is an f32 (as is
/// any f32 implementation's), off by about an ulp of |x|; y amplifies that by
/// gamma·rstd, which reaches 2·32 when two rows nearly agree. So: four ulp of
/// max|x| times max(|gamma|·rstd), plus a floor for the rest of the
/// arithmetic.
fn y_atol(c: &Case, rstd: &[f32]) -> f32 {
    let max_x = c.x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gain = c
        .gamma
        .iter()
        .zip(rstd)
        .fold(0f32, |m, (g, s)| m.max(g.abs() * s));
    1e-5 + 4.0 * f32::EPSILON * max_x * gain
}

#[test]
fn batchnorm_forward_train_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut seed = 0;
    for rows in ROWS {
        for features in FEATURES {
            seed += 1;
            let c = case(seed, rows, features);
            let want = ref_forward_train(&c, rows, features, 1);
            for (variant, ch) in variants(rows, features) {
                let got = gpu_forward_train(gpu, ch, &c, rows, features, 1);
                let what = format!("{variant} rows={rows} features={features}");
                assert_close(
                    &format!("y {what}"),
                    &got.y,
                    &want.y,
                    y_atol(&c, &want.rstd),
                    1e-5,
                );
                // The mean to a few ulp of max|x| ~ 23; rstd through the variance,
                // whose f32 chunk sums lose a few ulp each.
                assert_close(&format!("mean {what}"), &got.mean, &want.mean, 1e-5, 1e-5);
                assert_close(&format!("rstd {what}"), &got.rstd, &want.rstd, 1e-5, 1e-4);
                // Running statistics, and every other word of the flat buffer
                // (gamma, beta, sentinels) exactly as before.
                assert_close(&format!("params {what}"), &got.flat, &want.flat, 1e-5, 1e-5);
            }
        }
    }
}

/// The running-average update applied three times matches Keras'
/// running = momentum·running + (1 − momentum)·batch (biased variance).
#[test]
fn batchnorm_forward_train_updates_running_statistics() {
    let Some(gpu) = gpu() else { return };
    let (rows, features) = (196, 33);
    let c = case(77, rows, features);
    let want = ref_forward_train(&c, rows, features, 3);
    let got = gpu_forward_train(
        gpu,
        Chunking::gpu(rows, features, true),
        &c,
        rows,
        features,
        3,
    );
    assert_close(
        "params after 3 steps (gpu variant)",
        &got.flat,
        &want.flat,
        1e-5,
        1e-5,
    );
    let got = gpu_forward_train(
        gpu,
        Chunking::cpu(rows, features, false),
        &c,
        rows,
        features,
        3,
    );
    assert_close(
        "params after 3 steps (cpu variant)",
        &got.flat,
        &want.flat,
        1e-5,
        1e-5,
    );
    // Independent check of the formula with the biased variance in f64.
    let (_, m, v) = reference::batchnorm::forward_train_f64(
        &c.x.iter().map(|&a| a as f64).collect::<Vec<_>>(),
        &vec![1.0; features],
        &vec![0.0; features],
        rows,
        features,
        EPS as f64,
    );
    let mo = MOMENTUM as f64;
    for f in 0..features {
        let k = mo.powi(3);
        let rm = k * c.rm[f] as f64 + (1.0 - k) * m[f];
        let rv = k * c.rv[f] as f64 + (1.0 - k) * v[f];
        let (g_rm, g_rv) = (
            got.flat[c.lay.running_mean + f] as f64,
            got.flat[c.lay.running_var + f] as f64,
        );
        assert!(
            (g_rm - rm).abs() <= 1e-5 * (1.0 + rm.abs()),
            "running mean {f}: {g_rm} vs {rm}"
        );
        assert!(
            (g_rv - rv).abs() <= 1e-5 * (1.0 + rv.abs()),
            "running var {f}: {g_rv} vs {rv}"
        );
    }
}

#[test]
fn batchnorm_forward_infer_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut seed = 100;
    for rows in ROWS {
        for features in FEATURES {
            seed += 1;
            let c = case(seed, rows, features);
            let x = gpu.upload_f32("x", &c.x).unwrap();
            let y = gpu.zeros("y", rows * features).unwrap();
            let params = gpu.upload_f32("params", &c.flat).unwrap();
            let l = &c.lay;
            let prog = batchnorm::forward_infer(
                gpu,
                &y,
                &x,
                params.at(l.gamma),
                params.at(l.beta),
                params.at(l.running_mean),
                params.at(l.running_var),
                rows,
                features,
                EPS,
                batchnorm::Epilogue::NONE,
            )
            .unwrap();
            prog.run(gpu, &StepInfo::default()).unwrap();
            let mut want = vec![0.0; rows * features];
            reference::batchnorm::forward_infer(
                &mut want, &c.x, &c.gamma, &c.beta, &c.rm, &c.rv, rows, features, EPS,
            );
            let what = format!("rows={rows} features={features}");
            // Elementwise in f32 on inputs up to |x| ~ 23 with scale <= 2.9: a
            // few ulp of |x|·scale.
            assert_close(
                &format!("y {what}"),
                &gpu.read_f32(&y).unwrap(),
                &want,
                2e-5,
                1e-5,
            );
            assert_eq!(
                gpu.read_f32(&params).unwrap(),
                c.flat,
                "inference must not touch the parameters"
            );
        }
    }
}

struct BackwardOut {
    dx: Vec<f32>,
    grads: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn gpu_backward(
    gpu: &Gpu,
    ch: Chunking,
    c: &Case,
    dy: &[f32],
    mean: &[f32],
    rstd: &[f32],
    rows: usize,
    features: usize,
) -> BackwardOut {
    let l = &c.lay;
    let dy_t = gpu.upload_f32("dy", dy).unwrap();
    let x = gpu.upload_f32("x", &c.x).unwrap();
    let mean_t = gpu.upload_f32("mean", mean).unwrap();
    let rstd_t = gpu.upload_f32("rstd", rstd).unwrap();
    let params = gpu.upload_f32("params", &c.flat).unwrap();
    let dx: Tensor = gpu
        .upload_f32("dx", &vec![SENTINEL; rows * features])
        .unwrap();
    let grads = gpu.upload_f32("grads", &vec![SENTINEL; l.len]).unwrap();
    let prog = batchnorm::backward_chunked(
        gpu,
        ch,
        &dx,
        grads.at(l.gamma),
        grads.at(l.beta),
        &dy_t,
        &x,
        &mean_t,
        &rstd_t,
        params.at(l.gamma),
        rows,
        features,
        None,
    )
    .unwrap();
    prog.run(gpu, &StepInfo::default()).unwrap();
    BackwardOut {
        dx: gpu.read_f32(&dx).unwrap(),
        grads: gpu.read_f32(&grads).unwrap(),
    }
}

#[test]
fn batchnorm_backward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut seed = 200;
    for rows in ROWS {
        for features in FEATURES {
            seed += 1;
            let c = case(seed, rows, features);
            let dy = uniform(&mut rng(seed + 5000), rows * features, -1.0, 1.0);
            let fwd = ref_forward_train(&c, rows, features, 1);
            let mut dx = vec![0.0; rows * features];
            let (mut dgamma, mut dbeta) = (vec![0.0; features], vec![0.0; features]);
            reference::batchnorm::backward(
                &mut dx,
                &mut dgamma,
                &mut dbeta,
                &dy,
                &c.x,
                &fwd.mean,
                &fwd.rstd,
                &c.gamma,
                rows,
                features,
            );
            let mut grads = vec![SENTINEL; c.lay.len];
            put(&mut grads, c.lay.gamma, &dgamma);
            put(&mut grads, c.lay.beta, &dbeta);
            for (variant, ch) in variants(rows, features) {
                let got = gpu_backward(gpu, ch, &c, &dy, &fwd.mean, &fwd.rstd, rows, features);
                let what = format!("{variant} rows={rows} features={features}");
                // dgamma and dbeta are f32 sums of `rows` terms of size <= ~2:
                // error grows like sqrt(rows)·ulp, so the absolute tolerance scales
                // with rows. dx subtracts the two means from dy: a few ulp of
                // gamma·rstd·(|dy| + |dbeta|/N + |xhat·dgamma|/N), and rstd reaches
                // 1/0.06 here.
                let atol = 1e-5 * (rows as f32).sqrt();
                assert_close(
                    &format!("dgamma/dbeta {what}"),
                    &got.grads,
                    &grads,
                    atol,
                    1e-5,
                );
                assert_close(&format!("dx {what}"), &got.dx, &dx, 1e-4, 1e-4);
            }
        }
    }
}

/// The GPU's forward and backward chained on the large NHWC conv shape
/// (batch 128 of 28×28×32): millions of rows per feature stress the chunked
/// reduction.
#[test]
fn batchnorm_nhwc_large_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let (rows, features) = (128 * 28 * 28, 32);
    let c = case(999, rows, features);
    let want = ref_forward_train(&c, rows, features, 1);
    let dy = uniform(&mut rng(4242), rows * features, -1.0, 1.0);
    for (variant, ch) in variants(rows, features) {
        let got = gpu_forward_train(gpu, ch, &c, rows, features, 1);
        assert_close(
            &format!("y {variant}"),
            &got.y,
            &want.y,
            y_atol(&c, &want.rstd),
            1e-5,
        );
        assert_close(
            &format!("rstd {variant}"),
            &got.rstd,
            &want.rstd,
            1e-5,
            1e-4,
        );
        assert_close(
            &format!("params {variant}"),
            &got.flat,
            &want.flat,
            1e-5,
            1e-5,
        );
        let g = gpu_backward(gpu, ch, &c, &dy, &got.mean, &got.rstd, rows, features);
        let mut dx = vec![0.0; rows * features];
        let (mut dgamma, mut dbeta) = (vec![0.0; features], vec![0.0; features]);
        reference::batchnorm::backward(
            &mut dx,
            &mut dgamma,
            &mut dbeta,
            &dy,
            &c.x,
            &got.mean,
            &got.rstd,
            &c.gamma,
            rows,
            features,
        );
        let mut grads = vec![SENTINEL; c.lay.len];
        put(&mut grads, c.lay.gamma, &dgamma);
        put(&mut grads, c.lay.beta, &dbeta);
        // Sums of 100,352 terms: a few ulp times sqrt(rows)·|term|.
        assert_close(
            &format!("dgamma/dbeta {variant}"),
            &g.grads,
            &grads,
            5e-3,
            1e-5,
        );
        assert_close(&format!("dx {variant}"), &g.dx, &dx, 1e-4, 1e-4);
    }
}

/// L = Σ y ⊙ G differentiated by central differences of the f64 forward,
/// against the reference backward. The truncation error is O((h·rstd)²) and
/// rstd reaches 1/sqrt(eps) ≈ 32 when two rows nearly agree, so h = 1e-6
/// (≈ 1e-9 relative; f64 cancellation adds ~1e-10·|L|). The reference
/// rounds mean/rstd and its outputs to f32 (~1e-7 relative): 1e-5 leaves a
/// safe margin. Feature means stay within ±1 here: backward takes the mean
/// rounded to f32, and with |mean| ~ 20 that rounding alone (1e-6·rstd)
/// would exceed the tolerance.
#[test]
fn batchnorm_backward_reference_matches_finite_differences() {
    for (rows, features, seed) in [(7usize, 3usize, 1u64), (2, 4, 2), (10, 1, 3)] {
        let c = case_centered(seed, rows, features, 1.0);
        let gout = uniform(&mut rng(seed + 77), rows * features, -1.0, 1.0);
        let x64: Vec<f64> = c.x.iter().map(|&a| a as f64).collect();
        let g64: Vec<f64> = c.gamma.iter().map(|&a| a as f64).collect();
        let b64: Vec<f64> = c.beta.iter().map(|&a| a as f64).collect();
        let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
            let (y, _, _) =
                reference::batchnorm::forward_train_f64(x, g, b, rows, features, EPS as f64);
            y.iter().zip(&gout).map(|(&y, &d)| y * d as f64).sum()
        };
        let h = 1e-6;
        let fd = |v: &[f64], f: &dyn Fn(&[f64]) -> f64| -> Vec<f32> {
            let mut w = v.to_vec();
            (0..v.len())
                .map(|i| {
                    w[i] = v[i] + h;
                    let up = f(&w);
                    w[i] = v[i] - h;
                    let down = f(&w);
                    w[i] = v[i];
                    ((up - down) / (2.0 * h)) as f32
                })
                .collect()
        };
        let fd_x = fd(&x64, &|x| loss(x, &g64, &b64));
        let fd_g = fd(&g64, &|g| loss(&x64, g, &b64));
        let fd_b = fd(&b64, &|b| loss(&x64, &g64, b));
        let fwd = ref_forward_train(&c, rows, features, 1);
        let mut dx = vec![0.0; rows * features];
        let (mut dgamma, mut dbeta) = (vec![0.0; features], vec![0.0; features]);
        reference::batchnorm::backward(
            &mut dx,
            &mut dgamma,
            &mut dbeta,
            &gout,
            &c.x,
            &fwd.mean,
            &fwd.rstd,
            &c.gamma,
            rows,
            features,
        );
        let what = format!("rows={rows} features={features}");
        assert_close(&format!("dx {what}"), &dx, &fd_x, 1e-5, 1e-5);
        assert_close(&format!("dgamma {what}"), &dgamma, &fd_g, 1e-5, 1e-5);
        assert_close(&format!("dbeta {what}"), &dbeta, &fd_b, 1e-5, 1e-5);
    }
}
