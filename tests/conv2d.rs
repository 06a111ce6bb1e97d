mod common;

use common::conv::*;
use common::*;
use dae::gpu::{Gpu, Program};
use dae::kernels::activation::Activation;
use dae::kernels::conv2d::{self, Conv2d, Padding, Variant};
use dae::reference;

fn variants(gpu: &Gpu) -> Vec<Variant> {
    let v: Vec<Variant> = [Variant::Subgroup, Variant::Tiled]
        .into_iter()
        .filter(|v| v.supported(gpu))
        .collect();
    if !v.contains(&Variant::Subgroup) {
        eprintln!("adapter has no 4-, 8- or 16-lane subgroups: only the tiled variant is tested");
    }
    v
}

/// Ragged shapes: batch 1 and 3, odd sizes, channel counts 1, 3, 4, 12, 16,
/// 17 and multiples of 4 above one 32-, 16- or 64-wide tile, kernels 1, 3 and 5, both paddings.
/// Channel counts that are multiples of 4 take the vec4 subgroup kernels,
/// the others the scalar ones.
fn ragged_shapes() -> Vec<Conv2d> {
    use Padding::*;
    vec![
        conv(1, 5, 7, 1, 3, 3, Same),
        conv(3, 7, 5, 3, 16, 3, Valid),
        conv(1, 9, 9, 16, 17, 5, Same),
        conv(3, 5, 7, 17, 16, 1, Valid),
        conv(1, 7, 9, 16, 16, 3, Same),
        conv(3, 6, 5, 16, 1, 3, Same),
        conv(1, 9, 7, 1, 16, 3, Valid),
        conv(3, 9, 9, 16, 36, 3, Valid),
        conv(3, 7, 9, 36, 16, 5, Same),
        conv(1, 5, 5, 3, 3, 5, Valid),
        // 4 and 12 channels: a 4-lane subgroup's 8 rows of A span two taps,
        // and 20 or 68 output channels leave part of a 16-lane tile empty.
        conv(3, 6, 7, 4, 20, 3, Same),
        conv(1, 7, 5, 12, 68, 3, Valid),
    ]
}

fn check_forward(gpu: &Gpu, variant: Variant, s: Conv2d, act: Activation, seed: u64) {
    let mut r = rng(seed);
    let x = uniform(&mut r, s.x_len(), -1.0, 1.0);
    let w = uniform(&mut r, s.w_len(), -1.0, 1.0);
    let b = uniform(&mut r, s.cout, -1.0, 1.0);
    let (p, b_off) = params_buffer(&w, &b);
    let xt = gpu.upload_f32("x", &x).unwrap();
    let pt = gpu.upload_f32("params", &p).unwrap();
    let yt = gpu.upload_f32("y", &vec![f32::NAN; s.y_len()]).unwrap();
    let mut prog = Program::default();
    prog.push(
        conv2d::forward_variant(gpu, &yt, &xt, pt.at(W_OFF), pt.at(b_off), s, act, variant)
            .unwrap(),
    );
    run(gpu, prog);
    let got = gpu.read_f32(&yt).unwrap();
    let mut want = vec![0.0; s.y_len()];
    reference::conv2d::forward(&mut want, &x, &w, &b, s, act);
    let mut scale = vec![0.0; s.y_len()];
    reference::conv2d::forward(
        &mut scale,
        &abs(&x),
        &abs(&w),
        &abs(&b),
        s,
        Activation::Identity,
    );
    assert_scaled(
        &format!("forward {variant:?} {s:?} {act:?}"),
        &got,
        &want,
        &scale,
    );
}

/// `variant` None: the single-dispatch [`conv2d::backward_input`] (the
/// adapter's best variant, W read in place); otherwise the program form.
fn check_backward_input(gpu: &Gpu, variant: Option<Variant>, s: Conv2d, seed: u64) {
    let mut r = rng(seed);
    let dy = uniform(&mut r, s.y_len(), -1.0, 1.0);
    let w = uniform(&mut r, s.w_len(), -1.0, 1.0);
    let (p, _) = params_buffer(&w, &[]);
    let dyt = gpu.upload_f32("dy", &dy).unwrap();
    let pt = gpu.upload_f32("params", &p).unwrap();
    let dxt = gpu.upload_f32("dx", &vec![f32::NAN; s.x_len()]).unwrap();
    let prog = match variant {
        Some(v) => conv2d::backward_input_variant(gpu, &dxt, &dyt, pt.at(W_OFF), s, v).unwrap(),
        None => {
            let mut p = Program::default();
            p.push(conv2d::backward_input(gpu, &dxt, &dyt, pt.at(W_OFF), s).unwrap());
            p
        }
    };
    run(gpu, prog);
    let got = gpu.read_f32(&dxt).unwrap();
    let mut want = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut want, &dy, &w, s);
    let mut scale = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut scale, &abs(&dy), &abs(&w), s);
    assert_scaled(
        &format!("backward_input {variant:?} {s:?}"),
        &got,
        &want,
        &scale,
    );
}

fn check_backward_weight(gpu: &Gpu, variant: Variant, s: Conv2d, seed: u64) {
    let mut r = rng(seed);
    let dy = uniform(&mut r, s.y_len(), -1.0, 1.0);
    let x = uniform(&mut r, s.x_len(), -1.0, 1.0);
    let dyt = gpu.upload_f32("dy", &dy).unwrap();
    let xt = gpu.upload_f32("x", &x).unwrap();
    // dW is a view into a gradient buffer: everything around it must survive.
    let gt = gpu
        .upload_f32("grads", &vec![f32::NAN; W_OFF + s.w_len() + 5])
        .unwrap();
    run(
        gpu,
        conv2d::backward_weight_variant(gpu, gt.at(W_OFF), &dyt, &xt, s, variant).unwrap(),
    );
    let all = gpu.read_f32(&gt).unwrap();
    let what = format!("backward_weight {variant:?} {s:?}");
    assert!(
        all[..W_OFF].iter().all(|v| v.is_nan()),
        "{what}: wrote before dW"
    );
    assert!(
        all[W_OFF + s.w_len()..].iter().all(|v| v.is_nan()),
        "{what}: wrote after dW"
    );
    let mut want = vec![0.0; s.w_len()];
    reference::conv2d::backward_weight(&mut want, &dy, &x, s);
    let mut scale = vec![0.0; s.w_len()];
    reference::conv2d::backward_weight(&mut scale, &abs(&dy), &abs(&x), s);
    assert_scaled(&what, &all[W_OFF..W_OFF + s.w_len()], &want, &scale);
}

#[test]
fn conv2d_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    for variant in variants(gpu) {
        for (i, s) in ragged_shapes().into_iter().enumerate() {
            check_forward(gpu, variant, s, ACTS[i % ACTS.len()], 10 + i as u64);
        }
    }
}

#[test]
fn conv2d_backward_input_matches_reference() {
    let Some(gpu) = gpu() else { return };
    for variant in variants(gpu) {
        for (i, s) in ragged_shapes().into_iter().enumerate() {
            check_backward_input(gpu, Some(variant), s, 30 + i as u64);
        }
    }
}

#[test]
fn conv2d_backward_input_single_dispatch_matches_reference() {
    let Some(gpu) = gpu() else { return };
    for (i, s) in ragged_shapes().into_iter().enumerate() {
        check_backward_input(gpu, None, s, 40 + i as u64);
    }
}

#[test]
fn conv2d_backward_weight_matches_reference() {
    let Some(gpu) = gpu() else { return };
    // The last shapes have enough pixels (1,875) to be split over K and reduced.
    let mut shapes = ragged_shapes();
    shapes.push(conv(3, 25, 25, 3, 17, 3, Padding::Same));
    shapes.push(conv(3, 25, 25, 16, 20, 3, Padding::Same));
    shapes.push(conv(3, 25, 25, 16, 1, 3, Padding::Same));
    for variant in variants(gpu) {
        for (i, &s) in shapes.iter().enumerate() {
            check_backward_weight(gpu, variant, s, 50 + i as u64);
        }
    }
}

#[test]
fn conv2d_bias_grad_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let s = conv(3, 7, 5, 3, 17, 3, Padding::Valid);
    let mut r = rng(70);
    let dy = uniform(&mut r, s.y_len(), -1.0, 1.0);
    let dyt = gpu.upload_f32("dy", &dy).unwrap();
    let dbt = gpu.upload_f32("db", &vec![f32::NAN; 64 + s.cout]).unwrap();
    let mut prog = Program::default();
    prog.extend(conv2d::bias_grad(gpu, dbt.at(64), &dyt, s).unwrap());
    run(gpu, prog);
    let got = gpu.read_f32(&dbt).unwrap();
    let mut want = vec![0.0; s.cout];
    reference::conv2d::bias_grad(&mut want, &dy, s);
    // Sums of 45 values in [-1, 1): f32 rounding stays far below 1e-5.
    assert_close("bias_grad", &got[64..], &want, 1e-5, 1e-5);
}

/// One shape per pass at the size the presets run (batch cut to keep the
/// f64 reference quick), through the kernel this adapter would pick.
#[test]
fn conv2d_preset_shapes_match_reference() {
    let Some(gpu) = gpu() else { return };
    let best = Variant::untuned(gpu);
    check_forward(
        gpu,
        best,
        conv(16, 13, 13, 112, 112, 3, Padding::Valid),
        Activation::Relu,
        80,
    );
    check_forward(
        gpu,
        best,
        conv(8, 28, 28, 32, 1, 3, Padding::Same),
        Activation::Sigmoid,
        81,
    );
    check_backward_input(
        gpu,
        Some(best),
        conv(16, 14, 14, 32, 16, 3, Padding::Same),
        82,
    );
    check_backward_input(gpu, None, conv(16, 12, 12, 64, 112, 3, Padding::Valid), 85);
    check_backward_weight(gpu, best, conv(16, 28, 28, 1, 32, 3, Padding::Same), 83);
    check_backward_weight(gpu, best, conv(4, 26, 26, 32, 64, 3, Padding::Valid), 84);
}

/// L = Σ y⊙G with y = conv(x, W) + b is linear in each of x, W and b, so a
/// central difference is exact up to the f32 rounding of y (~1e-7·|y| per
/// element, divided by 2·eps = 2e-2): 1e-3 absolute plus relative is ample,
/// while a wrong index or a flipped tap is off by O(1).
#[test]
fn conv2d_backward_reference_matches_finite_differences() {
    for (i, s) in [
        conv(2, 4, 5, 2, 3, 3, Padding::Same),
        conv(1, 5, 4, 3, 2, 3, Padding::Valid),
        conv(1, 5, 5, 1, 2, 5, Padding::Same),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = rng(90 + i as u64);
        let x = uniform(&mut r, s.x_len(), -1.0, 1.0);
        let w = uniform(&mut r, s.w_len(), -1.0, 1.0);
        let b = uniform(&mut r, s.cout, -1.0, 1.0);
        let g = uniform(&mut r, s.y_len(), -1.0, 1.0);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| {
            let mut y = vec![0.0; s.y_len()];
            reference::conv2d::forward(&mut y, x, w, b, s, Activation::Identity);
            y.iter()
                .zip(&g)
                .map(|(&y, &g)| y as f64 * g as f64)
                .sum::<f64>()
        };
        let eps = 1e-2;
        let close = |what: &str, got: &[f32], fd: &[f64]| {
            for (j, (&a, &e)) in got.iter().zip(fd).enumerate() {
                assert!(
                    (a as f64 - e).abs() <= 1e-3 + 1e-3 * e.abs(),
                    "{what} {s:?}: index {j}: reference {a}, finite difference {e}"
                );
            }
        };
        let mut dx = vec![0.0; s.x_len()];
        reference::conv2d::backward_input(&mut dx, &g, &w, s);
        close("dx", &dx, &finite_diff(&x, eps, |x| loss(x, &w, &b)));
        let mut dw = vec![0.0; s.w_len()];
        reference::conv2d::backward_weight(&mut dw, &g, &x, s);
        close("dW", &dw, &finite_diff(&w, eps, |w| loss(&x, w, &b)));
        let mut db = vec![0.0; s.cout];
        reference::conv2d::bias_grad(&mut db, &g, s);
        close("db", &db, &finite_diff(&b, eps, |b| loss(&x, &w, b)));
    }
}
