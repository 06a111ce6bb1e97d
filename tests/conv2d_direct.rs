//! The direct convolution kernels (cin = 1 or cout = 1) against the CPU
//! reference, called directly and through conv2d's subgroup variant, and the
//! generated shaders against their generator.

mod common;

use common::conv::*;
use common::*;
use dae::gpu::{Gpu, Program};
use dae::kernels::activation::Activation;
use dae::kernels::conv2d::{self, Conv2d, Padding, Variant};
use dae::kernels::conv2d_direct::{self, Pass};
use dae::reference;

/// Layers with cin = 1: batch 1 and 3, sizes that are no multiple of the
/// 4x4 blocks, k 1, 3 and 5, both paddings, channel counts that are and are
/// not multiples of the 4 vec4s a weight-gradient invocation holds.
fn cin1_shapes() -> Vec<Conv2d> {
    use Padding::*;
    vec![
        conv(1, 5, 7, 1, 4, 3, Same),
        conv(3, 9, 6, 1, 8, 3, Valid),
        conv(1, 7, 9, 1, 12, 5, Same),
        conv(3, 6, 5, 1, 4, 1, Valid),
        conv(1, 11, 13, 1, 20, 5, Valid),
        conv(3, 10, 9, 1, 32, 3, Same),
        conv(1, 3, 2, 1, 16, 3, Same),
    ]
}

/// Layers with cout = 1, as [`cin1_shapes`].
fn cout1_shapes() -> Vec<Conv2d> {
    use Padding::*;
    vec![
        conv(1, 5, 7, 4, 1, 3, Same),
        conv(3, 9, 6, 8, 1, 3, Valid),
        conv(1, 7, 9, 12, 1, 5, Same),
        conv(3, 6, 5, 16, 1, 1, Valid),
        conv(1, 11, 13, 4, 1, 5, Valid),
        conv(3, 10, 9, 32, 1, 3, Same),
        conv(1, 2, 3, 20, 1, 3, Same),
    ]
}

/// Through conv2d's subgroup variant when the adapter has it (which must
/// pick the direct kernel), else the direct launcher itself.
fn via_conv2d(gpu: &Gpu) -> bool {
    Variant::Subgroup.supported(gpu)
}

fn check_forward(gpu: &Gpu, s: Conv2d, act: Activation, seed: u64, hooked: bool) {
    let mut r = rng(seed);
    let x = uniform(&mut r, s.x_len(), -1.0, 1.0);
    let w = uniform(&mut r, s.w_len(), -1.0, 1.0);
    let b = uniform(&mut r, s.cout, -1.0, 1.0);
    let (p, b_off) = params_buffer(&w, &b);
    let xt = gpu.upload_f32("x", &x).unwrap();
    let pt = gpu.upload_f32("params", &p).unwrap();
    let yt = gpu.upload_f32("y", &vec![f32::NAN; s.y_len()]).unwrap();
    assert!(hooked || conv2d_direct::supports(Pass::Forward, &s, &[W_OFF, b_off]));
    let (wv, bv) = (pt.at(W_OFF), pt.at(b_off));
    let d = if hooked {
        conv2d::forward_variant(gpu, &yt, &xt, wv, bv, s, act, Variant::Subgroup)
    } else {
        conv2d_direct::forward(gpu, &yt, &xt, wv, bv, s, act)
    };
    let mut prog = Program::default();
    prog.push(d.unwrap());
    run(gpu, prog);
    let got = gpu.read_f32(&yt).unwrap();
    let mut want = vec![0.0; s.y_len()];
    reference::conv2d::forward(&mut want, &x, &w, &b, s, act);
    let mut scale = vec![0.0; s.y_len()];
    let id = Activation::Identity;
    reference::conv2d::forward(&mut scale, &abs(&x), &abs(&w), &abs(&b), s, id);
    let what = format!("direct forward (hooked {hooked}) {s:?} {act:?}");
    assert_scaled(&what, &got, &want, &scale);
}

fn check_backward_input(gpu: &Gpu, s: Conv2d, seed: u64, hooked: bool) {
    let mut r = rng(seed);
    let dy = uniform(&mut r, s.y_len(), -1.0, 1.0);
    let w = uniform(&mut r, s.w_len(), -1.0, 1.0);
    let (p, _) = params_buffer(&w, &[]);
    let dyt = gpu.upload_f32("dy", &dy).unwrap();
    let pt = gpu.upload_f32("params", &p).unwrap();
    let dxt = gpu.upload_f32("dx", &vec![f32::NAN; s.x_len()]).unwrap();
    assert!(hooked || conv2d_direct::supports(Pass::BackwardInput, &s, &[W_OFF]));
    let prog = if hooked {
        conv2d::backward_input_variant(gpu, &dxt, &dyt, pt.at(W_OFF), s, Variant::Subgroup).unwrap()
    } else {
        let mut p = Program::default();
        p.push(conv2d_direct::backward_input(gpu, &dxt, &dyt, pt.at(W_OFF), s).unwrap());
        p
    };
    run(gpu, prog);
    let got = gpu.read_f32(&dxt).unwrap();
    let mut want = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut want, &dy, &w, s);
    let mut scale = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut scale, &abs(&dy), &abs(&w), s);
    let what = format!("direct backward_input (hooked {hooked}) {s:?}");
    assert_scaled(&what, &got, &want, &scale);
}

/// dW at `off` inside a NaN-filled gradient buffer: everything around it
/// must survive.
fn check_backward_weight(gpu: &Gpu, s: Conv2d, seed: u64, off: usize, hooked: bool) {
    let mut r = rng(seed);
    let dy = uniform(&mut r, s.y_len(), -1.0, 1.0);
    let x = uniform(&mut r, s.x_len(), -1.0, 1.0);
    let dyt = gpu.upload_f32("dy", &dy).unwrap();
    let xt = gpu.upload_f32("x", &x).unwrap();
    let gt = gpu
        .upload_f32("grads", &vec![f32::NAN; off + s.w_len() + 5])
        .unwrap();
    assert!(hooked || conv2d_direct::supports(Pass::BackwardWeight, &s, &[off]));
    let prog = if hooked {
        conv2d::backward_weight_variant(gpu, gt.at(off), &dyt, &xt, s, Variant::Subgroup)
    } else {
        conv2d_direct::backward_weight(gpu, gt.at(off), &dyt, &xt, s)
    };
    run(gpu, prog.unwrap());
    let all = gpu.read_f32(&gt).unwrap();
    let what = format!("direct backward_weight (hooked {hooked}, dW at {off}) {s:?}");
    assert!(
        all[..off].iter().all(|v| v.is_nan()),
        "{what}: wrote before dW"
    );
    let end = off + s.w_len();
    assert!(
        all[end..].iter().all(|v| v.is_nan()),
        "{what}: wrote after dW"
    );
    let mut want = vec![0.0; s.w_len()];
    reference::conv2d::backward_weight(&mut want, &dy, &x, s);
    let mut scale = vec![0.0; s.w_len()];
    reference::conv2d::backward_weight(&mut scale, &abs(&dy), &abs(&x), s);
    assert_scaled(&what, &all[off..end], &want, &scale);
}

#[test]
fn direct_forward_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let shapes = [cin1_shapes(), cout1_shapes()].concat();
    for (i, &s) in shapes.iter().enumerate() {
        check_forward(gpu, s, ACTS[i % ACTS.len()], 100 + i as u64, false);
        if via_conv2d(gpu) {
            check_forward(gpu, s, ACTS[(i + 1) % ACTS.len()], 120 + i as u64, true);
        }
    }
}

#[test]
fn direct_backward_input_matches_reference() {
    let Some(gpu) = gpu() else { return };
    for (i, s) in cout1_shapes().into_iter().enumerate() {
        check_backward_input(gpu, s, 140 + i as u64, false);
        if via_conv2d(gpu) {
            check_backward_input(gpu, s, 160 + i as u64, true);
        }
    }
}

#[test]
fn direct_backward_weight_matches_reference() {
    let Some(gpu) = gpu() else { return };
    // The last shapes have enough rows of pixels to be split and reduced.
    let mut shapes = [cin1_shapes(), cout1_shapes()].concat();
    shapes.push(conv(3, 25, 25, 1, 20, 3, Padding::Same));
    shapes.push(conv(3, 25, 25, 16, 1, 3, Padding::Same));
    shapes.push(conv(2, 30, 29, 1, 8, 5, Padding::Valid));
    shapes.push(conv(3, 21, 20, 12, 1, 1, Padding::Same));
    for (i, &s) in shapes.iter().enumerate() {
        // dW at a multiple of 4 (written in place when there is one split)
        // and at an odd offset (always through the reduce).
        check_backward_weight(gpu, s, 180 + i as u64, W_OFF, false);
        check_backward_weight(gpu, s, 200 + i as u64, W_OFF + 3, false);
        if via_conv2d(gpu) {
            check_backward_weight(gpu, s, 220 + i as u64, W_OFF, true);
        }
    }
}

/// One shape per pass at the size the presets run (batch cut to keep the
/// f64 reference quick).
#[test]
fn direct_preset_shapes_match_reference() {
    let Some(gpu) = gpu() else { return };
    use Padding::*;
    check_forward(
        gpu,
        conv(4, 28, 28, 1, 32, 3, Same),
        Activation::Relu,
        240,
        false,
    );
    check_forward(
        gpu,
        conv(4, 28, 28, 1, 112, 3, Valid),
        Activation::Relu,
        241,
        false,
    );
    let last = conv(4, 28, 28, 32, 1, 3, Same);
    check_forward(gpu, last, Activation::Sigmoid, 242, false);
    check_backward_input(gpu, last, 243, false);
    check_backward_weight(gpu, last, 244, W_OFF, false);
    check_backward_weight(gpu, conv(8, 28, 28, 1, 32, 3, Same), 245, W_OFF, false);
    let k1 = conv(4, 28, 28, 112, 1, 1, Same);
    check_forward(gpu, k1, Activation::Sigmoid, 246, false);
    check_backward_input(gpu, k1, 247, false);
    check_backward_weight(gpu, k1, 248, W_OFF, false);
}

/// Shapes with a scalar side that conv2d's subgroup variant leaves to its
/// GEMM kernels (k = 7 has no direct entry point; the 1x1 forward with
/// cout = 1 and the k = 5 weight gradient with cin = 1 measured no faster
/// direct), so that those stay tested.
#[test]
fn subgroup_fallbacks_match_reference() {
    let Some(gpu) = gpu() else { return };
    if !via_conv2d(gpu) {
        return;
    }
    use Padding::*;
    let (k7_out, k7_in) = (conv(3, 9, 8, 8, 1, 7, Same), conv(1, 8, 9, 1, 8, 7, Valid));
    for (i, s) in [k7_out, k7_in, conv(3, 5, 7, 16, 1, 1, Same)]
        .into_iter()
        .enumerate()
    {
        check_forward(gpu, s, ACTS[i], 260 + i as u64, true);
    }
    check_backward_input(gpu, k7_out, 263, true);
    for (i, s) in [k7_out, k7_in, conv(1, 9, 9, 1, 8, 5, Same)]
        .into_iter()
        .enumerate()
    {
        check_backward_weight(gpu, s, 264 + i as u64, W_OFF, true);
    }
}
