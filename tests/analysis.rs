mod common;

use common::*;
use dae::gpu::{Program, StepInfo};
use dae::kernels::analysis;
use dae::reference;
use rand::seq::SliceRandom;

/// Ragged row counts and widths: 1, below one vector of 4, and MNIST's 196
/// (7×7×4 codes) and 784.
const ROWS: [usize; 3] = [1, 7, 11];
const FEATURES: [usize; 5] = [1, 2, 5, 196, 784];

fn run(gpu: &dae::gpu::Gpu, d: dae::gpu::Dispatch, step: &StepInfo) {
    let mut prog = Program::default();
    prog.push(d);
    prog.run(gpu, step).unwrap();
}

fn bits_equal(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: index {i}: got {g}, want {w}"
        );
    }
}

#[test]
fn gather_f32_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(70);
    for batch in ROWS {
        for features in FEATURES {
            let count = 3 * batch + 2;
            let src = uniform(&mut r, count * features, -3.0, 3.0);
            let mut indices: Vec<u32> = (0..count as u32).collect();
            indices.shuffle(&mut r);
            let st = gpu.upload_f32("src", &src).unwrap();
            let it = gpu.upload_u32("indices", &indices).unwrap();
            let xt = gpu
                .upload_f32("x", &vec![f32::NAN; batch * features])
                .unwrap();
            let d = analysis::gather_f32(gpu, &xt, &st, &it, count, batch, features).unwrap();
            let mut prog = Program::default();
            prog.push(d);
            // First batch, one in the middle, and the last, partial one whose
            // padding rows repeat the final index.
            let last = (count - 1) / batch * batch;
            for batch_start in [0, count / 3, last] {
                let step = StepInfo {
                    batch_start: batch_start as u32,
                    valid_rows: (count - batch_start).min(batch) as u32,
                    ..StepInfo::default()
                };
                prog.run(gpu, &step).unwrap();
                let mut want = vec![0.0; batch * features];
                reference::analysis::gather_f32(&mut want, &src, &indices, batch, features, &step);
                // A copy: bit-exact.
                bits_equal(
                    &format!("({count}, {features}) batch {batch} from {batch_start}"),
                    &gpu.read_f32(&xt).unwrap(),
                    &want,
                );
            }
        }
    }
}

#[test]
fn copy_rows_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(71);
    for rows in ROWS {
        for features in FEATURES {
            // A dataset that leaves a partial last batch (unless rows is 1).
            let total = 2 * rows + rows.div_ceil(2);
            let dst_init = vec![-7.0f32; total * features];
            let dt = gpu.upload_f32("dst", &dst_init).unwrap();
            let srct = gpu.zeros("src", rows * features).unwrap();
            let d = analysis::copy_rows(gpu, &dt, &srct, rows, features).unwrap();
            let mut prog = Program::default();
            prog.push(d);
            let mut want = dst_init.clone();
            for batch_start in (0..total).step_by(rows) {
                // Padding rows carry NaN: they must never reach dst.
                let valid = (total - batch_start).min(rows);
                let mut src = uniform(&mut r, rows * features, -3.0, 3.0);
                src[valid * features..].fill(f32::NAN);
                gpu.write_f32(&srct, &src);
                let step = StepInfo {
                    batch_start: batch_start as u32,
                    valid_rows: valid as u32,
                    ..StepInfo::default()
                };
                prog.run(gpu, &step).unwrap();
                reference::analysis::copy_rows(&mut want, &src, rows, features, &step);
            }
            let got = gpu.read_f32(&dt).unwrap();
            assert!(got.iter().all(|v| v.is_finite() && *v != -7.0));
            bits_equal(&format!("rows {rows} features {features}"), &got, &want);
        }
    }
}

#[test]
fn copy_rows_skips_rows_past_the_end() {
    let Some(gpu) = gpu() else { return };
    // dst holds 5 rows; a batch of 4 starting at row 3 claims 4 valid rows,
    // but only rows 3 and 4 exist.
    let (rows, features) = (4usize, 3usize);
    let dt = gpu.upload_f32("dst", &[0.0; 15]).unwrap();
    let src: Vec<f32> = (1..=12).map(|v| v as f32).collect();
    let st = gpu.upload_f32("src", &src).unwrap();
    let step = StepInfo {
        batch_start: 3,
        valid_rows: 4,
        ..StepInfo::default()
    };
    run(
        gpu,
        analysis::copy_rows(gpu, &dt, &st, rows, features).unwrap(),
        &step,
    );
    let mut want = vec![0.0; 15];
    reference::analysis::copy_rows(&mut want, &src, rows, features, &step);
    assert_eq!(&want[9..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    bits_equal("past the end", &gpu.read_f32(&dt).unwrap(), &want);
}

#[test]
fn lerp_rows_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(72);
    for steps in ROWS {
        for features in FEATURES {
            let z1 = uniform(&mut r, features, -3.0, 3.0);
            let z2 = uniform(&mut r, features, -3.0, 3.0);
            // Evenly spaced from 1 (z1) down to 0 (z2), as the studies use.
            let alphas: Vec<f32> = (0..steps)
                .map(|i| {
                    if steps == 1 {
                        0.5
                    } else {
                        1.0 - i as f32 / (steps - 1) as f32
                    }
                })
                .collect();
            let z1t = gpu.upload_f32("z1", &z1).unwrap();
            let z2t = gpu.upload_f32("z2", &z2).unwrap();
            let at = gpu.upload_f32("alphas", &alphas).unwrap();
            let zt = gpu
                .upload_f32("z", &vec![f32::NAN; steps * features])
                .unwrap();
            let d = analysis::lerp_rows(gpu, &zt, &z1t, &z2t, &at, steps, features).unwrap();
            run(gpu, d, &StepInfo::default());
            let got = gpu.read_f32(&zt).unwrap();
            let mut want = vec![0.0; steps * features];
            reference::analysis::lerp_rows(&mut want, &z1, &z2, &alphas, features);
            let what = format!("steps {steps} features {features}");
            // Two products and a sum in f32 against f64: a few ulp of |z| <= 3
            // (2.4e-7 each), more only if the GPU fuses a multiply-add.
            assert_close(&what, &got, &want, 2e-6, 1e-6);
            if steps > 1 {
                // The endpoints are the codes themselves, exactly.
                bits_equal(&format!("{what} alpha 1"), &got[..features], &z1);
                bits_equal(
                    &format!("{what} alpha 0"),
                    &got[(steps - 1) * features..],
                    &z2,
                );
            }
        }
    }
}

/// x and r in [0, 1], with rows 0 and (when there are 3 or more) 2 constant in
/// both, so that the step leaves them constant.
fn walk_inputs(r: &mut rand::rngs::StdRng, rows: usize, features: usize) -> (Vec<f32>, Vec<f32>) {
    let mut x = uniform(r, rows * features, 0.0, 1.0);
    let mut rec = uniform(r, rows * features, 0.0, 1.0);
    for row in [0, 2].into_iter().filter(|&row| row < rows) {
        x[row * features..(row + 1) * features].fill(0.3);
        rec[row * features..(row + 1) * features].fill(0.8);
    }
    (x, rec)
}

fn check_walk_step(renorm: bool, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(seed);
    let eta = 0.37f32;
    for rows in ROWS {
        for features in FEATURES {
            let (x, rec) = walk_inputs(&mut r, rows, features);
            let xt = gpu.upload_f32("x", &x).unwrap();
            let rt = gpu.upload_f32("r", &rec).unwrap();
            let yt = gpu
                .upload_f32("x_next", &vec![f32::NAN; rows * features])
                .unwrap();
            let d = analysis::walk_step(gpu, &yt, &xt, &rt, eta, renorm, rows, features).unwrap();
            run(gpu, d, &StepInfo::default());
            let got = gpu.read_f32(&yt).unwrap();
            let mut want = vec![0.0; rows * features];
            reference::analysis::walk_step(&mut want, &x, &rec, eta, renorm, features);
            let what = format!("renorm {renorm} rows {rows} features {features}");
            // x + eta·(r − x) in f32 on values in [0, 1]: an ulp or two of 1
            // (1.2e-7), more if a multiply-add is fused. With renorm the
            // error is scaled by 1/(max − min), which for random rows of 2 or
            // more values is rarely below 1/50; width 1 rows are constant.
            assert_close(&what, &got, &want, 2e-5, 1e-6);
            if renorm {
                for (i, row) in got.chunks(features).enumerate() {
                    assert!(
                        row.iter().all(|v| (0.0..=1.0).contains(v)),
                        "{what} row {i}: {row:?}"
                    );
                    if i == 0 || i == 2 || features == 1 {
                        assert!(
                            row.iter().all(|&v| v == 0.0),
                            "{what}: constant row {i} is {row:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn walk_step_matches_reference() {
    check_walk_step(false, 73);
}

#[test]
fn walk_step_renorm_matches_reference() {
    check_walk_step(true, 74);
}

#[test]
fn row_normalize_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(75);
    for rows in ROWS {
        for features in FEATURES {
            let mut x = uniform(&mut r, rows * features, -2.0, 5.0);
            // Row 0 constant (must become 0); row 1 the extremes of its
            // range at its ends.
            x[..features].fill(1.25);
            let xt = gpu.upload_f32("x", &x).unwrap();
            let yt = gpu
                .upload_f32("y", &vec![f32::NAN; rows * features])
                .unwrap();
            run(
                gpu,
                analysis::row_normalize(gpu, &yt, &xt, rows, features).unwrap(),
                &StepInfo::default(),
            );
            let got = gpu.read_f32(&yt).unwrap();
            let mut want = vec![0.0; rows * features];
            reference::analysis::row_normalize(&mut want, &x, features);
            let what = format!("rows {rows} features {features}");
            // One subtraction and one division in f32 (WGSL allows 2.5 ulp for
            // the division) against f64, on results in [0, 1].
            assert_close(&what, &got, &want, 1e-6, 1e-6);
            assert!(
                got[..features].iter().all(|&v| v == 0.0),
                "{what}: constant row"
            );
            for row in got.chunks(features).filter(|_| features > 1) {
                // Min and max land on 0 and 1 exactly: (hi − lo)/(hi − lo).
                let lo = row.iter().cloned().fold(f32::INFINITY, f32::min);
                let hi = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                assert!(
                    lo == 0.0 && (hi == 1.0 || hi == 0.0),
                    "{what}: range [{lo}, {hi}]"
                );
            }
        }
    }
}
