//! The analysis kernels of the studies: f32 batch gather, appending
//! batches into one matrix, latent interpolation, the manifold walk (with
//! and without its renormalisation) and per-row min-max normalisation.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use super::{nans, on_gpu, run1, tol, Cases, EXACT};
use crate::check::uniform;
use crate::gpu::StepInfo;
use crate::kernels::analysis;
use crate::reference;

/// Every case of this group: mlp-dae's 196-wide codes and 784-pixel images
/// at the sizes the stacked study runs (11 interpolation steps, 6
/// walkers), and ragged widths below one vector of 4.
pub(super) fn all(k: &mut Cases) {
    let b = k.batch(256, 32);
    gather_case(
        k,
        100,
        196,
        b,
        &format!("{b}x196 of 100 mlp-dae codes"),
        6000,
    );
    gather_case(k, 23, 5, 7, "7x5 of 23 ragged", 6001);
    copy_case(
        k,
        b,
        196,
        100,
        &format!("{b}x196 into 100 mlp-dae codes"),
        6010,
    );
    copy_case(k, 7, 5, 18, "7x5 into 18 ragged", 6011);
    lerp_case(k, 11, 128, "11x128 shallow-dae code", 6020);
    lerp_case(k, 7, 5, "7x5 ragged", 6021);
    for renorm in [false, true] {
        walk_case(k, renorm, 6, 784, "6x784 stacked walk", 6030);
        walk_case(k, renorm, 11, 5, "11x5 ragged", 6031);
    }
    norm_case(k, b, 784, &format!("{b}x784 mnist batch"), 6040);
    norm_case(k, 11, 5, "11x5 ragged", 6041);
}

/// The last, partial batch of `count` shuffled rows: its padding rows
/// repeat the final index.
fn gather_case(k: &mut Cases, count: usize, features: usize, batch: usize, shape: &str, seed: u64) {
    k.case("analysis gather_f32", "-", shape, |c| {
        let src = uniform(seed, count * features, -3.0, 3.0);
        let mut indices: Vec<u32> = (0..count as u32).collect();
        indices.shuffle(&mut StdRng::seed_from_u64(seed + 1));
        let batch_start = (count - 1) / batch * batch;
        let step = StepInfo {
            batch_start: batch_start as u32,
            valid_rows: (count - batch_start).min(batch) as u32,
            ..StepInfo::default()
        };
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let st = gpu.upload_f32("src", &src)?;
            let it = gpu.upload_u32("indices", &indices)?;
            let xt = nans(gpu, batch * features)?;
            let d = analysis::gather_f32(gpu, &xt, &st, &it, count, batch, features)?;
            run1(gpu, d, &step)?;
            gpu.read_f32(&xt)
        });
        let mut want = vec![0.0; batch * features];
        reference::analysis::gather_f32(&mut want, &src, &indices, batch, features, &step);
        // tests/analysis.rs gather_f32_matches_reference: a copy, bit-exact.
        c.check("", got, &want, EXACT);
    });
}

/// Every batch of a `total`-row matrix appended in turn; the padding rows
/// of the last one carry NaN and must never reach dst.
fn copy_case(k: &mut Cases, rows: usize, features: usize, total: usize, shape: &str, seed: u64) {
    k.case("analysis copy_rows", "-", shape, |c| {
        let dst0 = vec![-7.0f32; total * features];
        let batches: Vec<(StepInfo, Vec<f32>)> = (0..total)
            .step_by(rows)
            .enumerate()
            .map(|(i, start)| {
                let valid = (total - start).min(rows);
                let mut src = uniform(seed + i as u64, rows * features, -3.0, 3.0);
                src[valid * features..].fill(f32::NAN);
                let step = StepInfo {
                    batch_start: start as u32,
                    valid_rows: valid as u32,
                    ..StepInfo::default()
                };
                (step, src)
            })
            .collect();
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let dt = gpu.upload_f32("dst", &dst0)?;
            let srct = gpu.zeros("src", rows * features)?;
            let mut prog = crate::gpu::Program::default();
            prog.push(analysis::copy_rows(gpu, &dt, &srct, rows, features)?);
            for (step, src) in &batches {
                gpu.write_f32(&srct, src);
                prog.run(gpu, step)?;
            }
            gpu.read_f32(&dt)
        });
        let mut want = dst0.clone();
        for (step, src) in &batches {
            reference::analysis::copy_rows(&mut want, src, rows, features, step);
        }
        // tests/analysis.rs copy_rows_matches_reference: bit-exact.
        c.check("", got, &want, EXACT);
    });
}

/// `steps` rows interpolated between two codes, alpha from 1 down to 0.
fn lerp_case(k: &mut Cases, steps: usize, features: usize, shape: &str, seed: u64) {
    k.case("analysis lerp_rows", "-", shape, |c| {
        let z1 = uniform(seed, features, -3.0, 3.0);
        let z2 = uniform(seed + 1, features, -3.0, 3.0);
        // Evenly spaced from 1 (z1) down to 0 (z2), as the studies use.
        let alphas: Vec<f32> = (0..steps)
            .map(|i| 1.0 - i as f32 / (steps - 1) as f32)
            .collect();
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let z1t = gpu.upload_f32("z1", &z1)?;
            let z2t = gpu.upload_f32("z2", &z2)?;
            let at = gpu.upload_f32("alphas", &alphas)?;
            let zt = nans(gpu, steps * features)?;
            let d = analysis::lerp_rows(gpu, &zt, &z1t, &z2t, &at, steps, features)?;
            run1(gpu, d, &StepInfo::default())?;
            gpu.read_f32(&zt)
        });
        let mut want = vec![0.0; steps * features];
        reference::analysis::lerp_rows(&mut want, &z1, &z2, &alphas, features);
        // tests/analysis.rs lerp_rows_matches_reference.
        c.check("", got, &want, tol(2e-6, 1e-6));
    });
}

/// One manifold-walk step x + eta·(r − x), renormalised per row or not.
fn walk_case(k: &mut Cases, renorm: bool, rows: usize, features: usize, shape: &str, seed: u64) {
    let variant = if renorm { "renorm" } else { "-" };
    k.case("analysis walk_step", variant, shape, |c| {
        // x and r in [0, 1], rows 0 and 2 constant in both (as
        // tests/analysis.rs draws them), so the step leaves them constant.
        let mut x = uniform(seed, rows * features, 0.0, 1.0);
        let mut rec = uniform(seed + 1, rows * features, 0.0, 1.0);
        for row in [0, 2].into_iter().filter(|&row| row < rows) {
            x[row * features..(row + 1) * features].fill(0.3);
            rec[row * features..(row + 1) * features].fill(0.8);
        }
        let eta = 0.37f32;
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let (xt, rt) = (gpu.upload_f32("x", &x)?, gpu.upload_f32("r", &rec)?);
            let yt = nans(gpu, rows * features)?;
            let d = analysis::walk_step(gpu, &yt, &xt, &rt, eta, renorm, rows, features)?;
            run1(gpu, d, &StepInfo::default())?;
            gpu.read_f32(&yt)
        });
        let mut want = vec![0.0; rows * features];
        reference::analysis::walk_step(&mut want, &x, &rec, eta, renorm, features);
        // tests/analysis.rs walk_step{,_renorm}_matches_reference.
        c.check("", got, &want, tol(2e-5, 1e-6));
    });
}

/// Per-row min-max rescaling, with a constant first row.
fn norm_case(k: &mut Cases, rows: usize, features: usize, shape: &str, seed: u64) {
    k.case("analysis row_normalize", "-", shape, |c| {
        let mut x = uniform(seed, rows * features, -2.0, 5.0);
        // Row 0 constant: it must become 0.
        x[..features].fill(1.25);
        let gpu = c.gpu;
        let got = on_gpu(|| {
            let (xt, yt) = (gpu.upload_f32("x", &x)?, nans(gpu, rows * features)?);
            let d = analysis::row_normalize(gpu, &yt, &xt, rows, features)?;
            run1(gpu, d, &StepInfo::default())?;
            gpu.read_f32(&yt)
        });
        let mut want = vec![0.0; rows * features];
        reference::analysis::row_normalize(&mut want, &x, features);
        // tests/analysis.rs row_normalize_matches_reference.
        c.check("", got, &want, tol(1e-6, 1e-6));
    });
}
