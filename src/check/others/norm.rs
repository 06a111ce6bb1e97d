//! BatchNorm: the training forward (batch statistics, running averages,
//! normalisation) and its backward in every chunking variant, and the
//! inference forward. The fused epilogues are in `norm_epilogue`.

use super::{nans, on_gpu, pick, tol, Cases, EXACT};
use crate::check::uniform;
use crate::gpu::{GpuError, Program, StepInfo, Tensor};
use crate::kernels::activation::{self, Activation};
use crate::kernels::batchnorm::{self, Chunking, Epilogue, EPS, MOMENTUM};
use crate::reference;

/// Filler for the words of the flat buffers a launcher must not touch.
pub(super) const SENTINEL: f32 = 7.25;

/// Every case of this group.
pub(super) fn all(k: &mut Cases) {
    // fashion-cae's first BatchNorm, over the 112 channels of its 26x26
    // conv output (NHWC: rows = batch·h·w), batch cut to 2.
    let b = k.batch(100, 2);
    let nhwc = (b * 26 * 26, 112, format!("{b}x26x26x112 fashion-cae"));
    let ragged = (37, 33, "37x33 ragged".to_string());
    for (i, (rows, features, shape)) in [&nhwc, &ragged].into_iter().enumerate() {
        let seed = 7000 + 10 * i as u64;
        for (name, ch) in chunkings(*rows, *features) {
            forward_train_case(k, name, ch, *rows, *features, shape, seed);
            backward_case(k, name, ch, *rows, *features, shape, seed + 1);
        }
        infer_case(k, *rows, *features, shape, seed + 2);
    }
}

/// The variants of `tests/batchnorm.rs`, less the vec4 ones where features
/// is not a multiple of 4 (they fall back to the scalar shaders).
fn chunkings(rows: usize, features: usize) -> Vec<(&'static str, Chunking)> {
    let mut v = vec![
        ("cpu", Chunking::cpu(rows, features, false)),
        ("gpu", Chunking::gpu(rows, features, false)),
    ];
    if features.is_multiple_of(4) {
        v.push(("cpu vec4", Chunking::cpu(rows, features, true)));
        v.push(("gpu vec4", Chunking::gpu(rows, features, true)));
    }
    v
}

/// A BatchNorm's inputs as `tests/batchnorm.rs` draws them: x with a
/// per-feature centre up to ±20 and scale, and the four per-feature vectors
/// in a flat buffer at multiples of 64 words, sentinels around.
pub(super) struct Bn {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub rm: Vec<f32>,
    pub rv: Vec<f32>,
    pub flat: Vec<f32>,
    /// gamma, beta, running mean, running variance.
    pub offs: [usize; 4],
}

/// The inputs of one case.
pub(super) fn bn(seed: u64, rows: usize, features: usize) -> Bn {
    let center = uniform(seed, features, -20.0, 20.0);
    let scale = uniform(seed + 1, features, 0.1, 3.0);
    let u = uniform(seed + 2, rows * features, -1.0, 1.0);
    let x = (0..rows * features)
        .map(|i| center[i % features] + scale[i % features] * u[i])
        .collect();
    let gamma = uniform(seed + 3, features, 0.5, 2.0);
    let beta = uniform(seed + 4, features, -1.0, 1.0);
    let rm = uniform(seed + 5, features, -1.0, 1.0);
    let rv = uniform(seed + 6, features, 0.5, 2.0);
    let slot = features.next_multiple_of(64);
    let offs = [64, 64 + slot, 128 + 2 * slot, 128 + 3 * slot];
    let mut flat = vec![SENTINEL; 192 + 4 * slot];
    for (o, v) in offs.iter().zip([&gamma, &beta, &rm, &rv]) {
        flat[*o..*o + features].copy_from_slice(v);
    }
    Bn {
        x,
        gamma,
        beta,
        rm,
        rv,
        flat,
        offs,
    }
}

/// The reference training forward: y, mean, rstd and the flat buffer with
/// the running statistics updated.
pub(super) fn ref_train(p: &Bn, rows: usize, features: usize) -> [Vec<f32>; 4] {
    let mut y = vec![0.0; rows * features];
    let (mut mean, mut rstd) = (vec![0.0; features], vec![0.0; features]);
    let (mut rm, mut rv) = (p.rm.clone(), p.rv.clone());
    reference::batchnorm::forward_train(
        &mut y, &mut mean, &mut rstd, &mut rm, &mut rv, &p.x, &p.gamma, &p.beta, rows, features,
        MOMENTUM, EPS,
    );
    let mut flat = p.flat.clone();
    flat[p.offs[2]..p.offs[2] + features].copy_from_slice(&rm);
    flat[p.offs[3]..p.offs[3] + features].copy_from_slice(&rv);
    [y, mean, rstd, flat]
}

/// The training forward in chunking `ch`: y, the batch statistics and
/// the flat buffer with its running averages updated.
fn forward_train_case(
    k: &mut Cases,
    variant: &str,
    ch: Chunking,
    rows: usize,
    features: usize,
    shape: &str,
    seed: u64,
) {
    k.case("batchnorm forward (train)", variant, shape, |c| {
        let p = bn(seed, rows, features);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let x = gpu.upload_f32("x", &p.x)?;
            let y = nans(gpu, rows * features)?;
            let (mean, rstd) = (nans(gpu, features)?, nans(gpu, features)?);
            let pt = gpu.upload_f32("params", &p.flat)?;
            let o = p.offs;
            batchnorm::forward_train_chunked(
                gpu,
                ch,
                &y,
                &mean,
                &rstd,
                pt.at(o[2]),
                pt.at(o[3]),
                &x,
                pt.at(o[0]),
                pt.at(o[1]),
                rows,
                features,
                MOMENTUM,
                EPS,
                Epilogue::NONE,
            )?
            .run(gpu, &StepInfo::default())?;
            [&y, &mean, &rstd, &pt]
                .iter()
                .map(|t| gpu.read_f32(t))
                .collect()
        });
        let [y, mean, rstd, flat] = ref_train(&p, rows, features);
        // tests/batchnorm.rs batchnorm_forward_train_matches_reference: y
        // within four ulp of max|x| times max(|gamma|·rstd) plus 1e-5.
        let max_x = p.x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let gain = p
            .gamma
            .iter()
            .zip(&rstd)
            .fold(0f32, |m, (g, s)| m.max(g.abs() * s));
        let y_atol = 1e-5 + 4.0 * f32::EPSILON * max_x * gain;
        c.check("y", pick(&outs, 0), &y, tol(y_atol as f64, 1e-5));
        c.check("mean", pick(&outs, 1), &mean, tol(1e-5, 1e-5));
        c.check("rstd", pick(&outs, 2), &rstd, tol(1e-5, 1e-4));
        c.check("params", pick(&outs, 3), &flat, tol(1e-5, 1e-5));
    });
}

/// The backward in chunking `ch` from the reference's mean and rstd:
/// dgamma and dbeta in the flat gradient buffer, and dx.
fn backward_case(
    k: &mut Cases,
    variant: &str,
    ch: Chunking,
    rows: usize,
    features: usize,
    shape: &str,
    seed: u64,
) {
    k.case("batchnorm backward", variant, shape, |c| {
        let p = bn(seed, rows, features);
        let dy = uniform(seed + 7, rows * features, -1.0, 1.0);
        let [_, mean, rstd, _] = ref_train(&p, rows, features);
        let (g, b) = (p.offs[0], p.offs[1]);
        let gpu = c.gpu;
        let outs = on_gpu(|| {
            let dy_t = gpu.upload_f32("dy", &dy)?;
            let x = gpu.upload_f32("x", &p.x)?;
            let mean_t = gpu.upload_f32("mean", &mean)?;
            let rstd_t = gpu.upload_f32("rstd", &rstd)?;
            let pt = gpu.upload_f32("params", &p.flat)?;
            let dx = gpu.upload_f32("dx", &vec![SENTINEL; rows * features])?;
            let grads = gpu.upload_f32("grads", &vec![SENTINEL; p.flat.len()])?;
            batchnorm::backward_chunked(
                gpu,
                ch,
                &dx,
                grads.at(g),
                grads.at(b),
                &dy_t,
                &x,
                &mean_t,
                &rstd_t,
                pt.at(g),
                rows,
                features,
                None,
            )?
            .run(gpu, &StepInfo::default())?;
            Ok(vec![gpu.read_f32(&grads)?, gpu.read_f32(&dx)?])
        });
        let mut dx = vec![0.0; rows * features];
        let (mut dgamma, mut dbeta) = (vec![0.0; features], vec![0.0; features]);
        reference::batchnorm::backward(
            &mut dx,
            &mut dgamma,
            &mut dbeta,
            &dy,
            &p.x,
            &mean,
            &rstd,
            &p.gamma,
            rows,
            features,
        );
        let mut grads = vec![SENTINEL; p.flat.len()];
        grads[g..g + features].copy_from_slice(&dgamma);
        grads[b..b + features].copy_from_slice(&dbeta);
        // tests/batchnorm.rs batchnorm_backward_matches_reference.
        let atol = 1e-5 * (rows as f64).sqrt();
        c.check("dgamma, dbeta", pick(&outs, 0), &grads, tol(atol, 1e-5));
        c.check("dx", pick(&outs, 1), &dx, tol(1e-4, 1e-4));
    });
}

/// Runs the inference forward of `p` with `epi` into y, then `after` (the
/// separate passes), and reads y and the parameters.
pub(super) fn run_infer(
    c: &super::Case,
    p: &Bn,
    rows: usize,
    features: usize,
    epi: Epilogue,
    after: Option<Activation>,
) -> Result<Vec<Vec<f32>>, String> {
    let gpu = c.gpu;
    on_gpu(|| {
        let n = rows * features;
        let (x, pt) = (
            gpu.upload_f32("x", &p.x)?,
            gpu.upload_f32("params", &p.flat)?,
        );
        let (y, t) = (nans(gpu, n)?, nans(gpu, n)?);
        let o = p.offs;
        let infer = |out: &Tensor| -> Result<Program, GpuError> {
            let (g, b, m, v) = (pt.at(o[0]), pt.at(o[1]), pt.at(o[2]), pt.at(o[3]));
            batchnorm::forward_infer(gpu, out, &x, g, b, m, v, rows, features, EPS, epi)
        };
        let prog = match after {
            None => infer(&y)?,
            Some(act) => {
                let mut prog = infer(&t)?;
                prog.push(activation::forward(gpu, &y, &t, n, act)?);
                prog
            }
        };
        prog.run(gpu, &StepInfo::default())?;
        Ok(vec![gpu.read_f32(&y)?, gpu.read_f32(&pt)?])
    })
}

/// The inference forward with the running statistics.
fn infer_case(k: &mut Cases, rows: usize, features: usize, shape: &str, seed: u64) {
    k.case("batchnorm forward (inference)", "-", shape, |c| {
        let p = bn(seed, rows, features);
        let outs = run_infer(c, &p, rows, features, Epilogue::NONE, None);
        let mut want = vec![0.0; rows * features];
        reference::batchnorm::forward_infer(
            &mut want, &p.x, &p.gamma, &p.beta, &p.rm, &p.rv, rows, features, EPS,
        );
        // tests/batchnorm.rs batchnorm_forward_infer_matches_reference, and
        // the parameters untouched (assert_eq).
        c.check("y", pick(&outs, 0), &want, tol(2e-5, 1e-5));
        c.check("params", pick(&outs, 1), &p.flat, EXACT);
    });
}
