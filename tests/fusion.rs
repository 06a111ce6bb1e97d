//! The fused passes compute bit for bit what the separate passes compute:
//! BatchNorm's normalisation with a dropout and an activation as its
//! epilogue, an activation's backward fused with the dropout's before it,
//! and the MSE gradient with the last layer's slope. Each is also checked
//! against the CPU reference's composition.

mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo, Tensor};
use dae::kernels::activation::{self, Activation};
use dae::kernels::batchnorm::{self, Chunking, Epilogue};
use dae::kernels::dropout;
use dae::kernels::loss;
use dae::reference;

const STEP: StepInfo = StepInfo {
    step: 5,
    batch_start: 0,
    seed: 0x5EED_F00D,
    valid_rows: 0,
    lr: 0.0,
    bias_correction1: 0.0,
    bias_correction2: 0.0,
    _pad: 0,
};

const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.3),
    Activation::Sigmoid,
];

/// (rows, features): vec4-aligned and not, rows not a multiple of any chunk.
const SHAPES: [(usize, usize); 4] = [(7, 5), (33, 12), (256, 196), (129, 36)];

fn run(gpu: &Gpu, p: Program) {
    p.run(gpu, &STEP).unwrap();
}

/// Parameters at offsets that are multiples of 64 words, as the layout puts
/// them: gamma, beta, running mean, running variance.
fn params(r: &mut rand::rngs::StdRng, features: usize) -> (Vec<f32>, [usize; 4]) {
    let stride = features.next_multiple_of(64);
    let mut flat = vec![0.0; 64 + 4 * stride];
    let offs = [64, 64 + stride, 64 + 2 * stride, 64 + 3 * stride];
    let vals = [
        uniform(r, features, 0.5, 1.5),
        uniform(r, features, -0.5, 0.5),
        uniform(r, features, -0.2, 0.2),
        uniform(r, features, 0.5, 2.0),
    ];
    for (o, v) in offs.iter().zip(&vals) {
        flat[*o..*o + features].copy_from_slice(v);
    }
    (flat, offs)
}

/// The training forward with `epi`, or (None) with the separate passes
/// after it; returns y.
#[allow(clippy::too_many_arguments)]
fn bn_train(
    gpu: &Gpu,
    ch: Chunking,
    x: &[f32],
    flat: &[f32],
    offs: [usize; 4],
    rows: usize,
    features: usize,
    epi: Epilogue,
    fused: bool,
) -> Vec<f32> {
    let n = rows * features;
    let xt = gpu.upload_f32("x", x).unwrap();
    let pt = gpu.upload_f32("params", flat).unwrap();
    let mean = gpu.zeros("mean", features).unwrap();
    let rstd = gpu.zeros("rstd", features).unwrap();
    let y = gpu.upload_f32("y", &vec![f32::NAN; n]).unwrap();
    let t1 = gpu.zeros("t1", n).unwrap();
    let t2 = gpu.zeros("t2", n).unwrap();
    let out: &Tensor = if fused { &y } else { &t1 };
    let mut p = batchnorm::forward_train_chunked(
        gpu,
        ch,
        out,
        &mean,
        &rstd,
        pt.at(offs[2]),
        pt.at(offs[3]),
        &xt,
        pt.at(offs[0]),
        pt.at(offs[1]),
        rows,
        features,
        batchnorm::MOMENTUM,
        batchnorm::EPS,
        if fused { epi } else { Epilogue::NONE },
    )
    .unwrap();
    if !fused {
        let src = match epi.dropout {
            Some((rate, stream)) => {
                p.push(dropout::forward(gpu, &t2, &t1, n, rate, stream).unwrap());
                &t2
            }
            None => &t1,
        };
        p.push(activation::forward(gpu, &y, src, n, epi.act).unwrap());
    }
    run(gpu, p);
    gpu.read_f32(&y).unwrap()
}

#[test]
fn batchnorm_epilogue_is_the_separate_passes_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(90);
    for (si, &(rows, features)) in SHAPES.iter().enumerate() {
        let x = uniform(&mut r, rows * features, -2.0, 2.0);
        let (flat, offs) = params(&mut r, features);
        let aligned = features % 4 == 0;
        // Both chunkings, the vec4 kernel where the shape allows it and the
        // scalar one on every shape.
        let chunkings = [
            Chunking::cpu(rows, features, aligned),
            Chunking::gpu(rows, features, false),
        ];
        for ch in chunkings {
            for (ai, act) in ACTS.into_iter().enumerate() {
                let dropout = [None, Some((0.3, 7 + si as u32))][(ai + si) % 2];
                let epi = Epilogue { dropout, act };
                let got = bn_train(gpu, ch, &x, &flat, offs, rows, features, epi, true);
                let want = bn_train(gpu, ch, &x, &flat, offs, rows, features, epi, false);
                let what = format!("({rows}, {features}) {ch:?} {epi:?}");
                assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite");
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{what}: fused output differs from the separate passes"
                );
                // And against the CPU reference's composition.
                let g = &flat[offs[0]..offs[0] + features];
                let b = &flat[offs[1]..offs[1] + features];
                let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
                let (norm, _, _) = reference::batchnorm::forward_train_f64(
                    &f64s(&x),
                    &f64s(g),
                    &f64s(b),
                    rows,
                    features,
                    batchnorm::EPS as f64,
                );
                let norm: Vec<f32> = norm.iter().map(|v| *v as f32).collect();
                let mut dropped = norm.clone();
                if let Some((rate, stream)) = dropout {
                    reference::dropout::forward(&mut dropped, &norm, rate, stream, &STEP);
                }
                let mut y = vec![0.0; dropped.len()];
                reference::activation::forward(&mut y, &dropped, act);
                assert_close(&what, &got, &y, 1e-4, 1e-4);
            }
        }
    }
}

#[test]
fn batchnorm_inference_epilogue_is_the_separate_passes_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(91);
    for &(rows, features) in &SHAPES {
        let x = uniform(&mut r, rows * features, -2.0, 2.0);
        let (flat, offs) = params(&mut r, features);
        let n = rows * features;
        for act in ACTS {
            let xt = gpu.upload_f32("x", &x).unwrap();
            let pt = gpu.upload_f32("params", &flat).unwrap();
            let y = gpu.zeros("y", n).unwrap();
            let t = gpu.zeros("t", n).unwrap();
            let infer = |out: &Tensor, epi| {
                batchnorm::forward_infer(
                    gpu,
                    out,
                    &xt,
                    pt.at(offs[0]),
                    pt.at(offs[1]),
                    pt.at(offs[2]),
                    pt.at(offs[3]),
                    rows,
                    features,
                    batchnorm::EPS,
                    epi,
                )
                .unwrap()
            };
            run(gpu, infer(&y, Epilogue { dropout: None, act }));
            let got = gpu.read_f32(&y).unwrap();
            let mut p = infer(&t, Epilogue::NONE);
            p.push(activation::forward(gpu, &y, &t, n, act).unwrap());
            run(gpu, p);
            let want = gpu.read_f32(&y).unwrap();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "({rows}, {features}) {act:?}: fused inference differs"
            );
        }
    }
}

#[test]
fn activation_dropout_backward_is_the_separate_passes_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(92);
    for n in [1usize, 7, 10, 196, 784, 100_003] {
        for (ai, act) in ACTS.into_iter().enumerate() {
            let rate = [0.0, 0.2, 0.5, 0.9][ai];
            let pre = uniform(&mut r, n, -2.0, 2.0);
            let mut yv = vec![0.0; n];
            reference::activation::forward(&mut yv, &pre, act);
            let dyv = uniform(&mut r, n, -1.0, 1.0);
            let dy = gpu.upload_f32("dy", &dyv).unwrap();
            let y = gpu.upload_f32("y", &yv).unwrap();
            let dx = gpu.upload_f32("dx", &vec![f32::NAN; n]).unwrap();
            let dz = gpu.zeros("dz", n).unwrap();
            let mut p = Program::default();
            p.push(dropout::backward_with_activation(gpu, &dx, &dy, &y, n, rate, 3, act).unwrap());
            run(gpu, p);
            let got = gpu.read_f32(&dx).unwrap();
            let mut p = Program::default();
            p.push(activation::backward(gpu, &dz, &dy, &y, n, act).unwrap());
            p.push(dropout::backward(gpu, &dx, &dz, n, rate, 3).unwrap());
            run(gpu, p);
            let want = gpu.read_f32(&dx).unwrap();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "n={n} {act:?} rate {rate}: fused backward differs"
            );
            let mut rz = vec![0.0; n];
            reference::activation::backward(&mut rz, &dyv, &yv, act);
            let mut rx = vec![0.0; n];
            reference::dropout::backward(&mut rx, &rz, rate, 3, &STEP);
            assert_close(&format!("n={n} {act:?}"), &got, &rx, 0.0, 1e-6);
        }
    }
}

#[test]
fn pooling_backward_slope_is_the_separate_passes_bit_for_bit() {
    use dae::kernels::pool::{self, Pool2d, PoolPadding, Upsample};
    let Some(gpu) = gpu() else { return };
    let mut r = rng(93);
    // (batch, h, w, c, pool, stride, padding): vec4 and scalar channels,
    // windows that tile the image and ones that overlap, both paddings.
    let pools = [
        (2, 7, 6, 8, 2, 2, PoolPadding::Same),
        (3, 9, 5, 3, 2, 2, PoolPadding::Valid),
        (1, 6, 7, 4, 3, 2, PoolPadding::Same),
        (2, 5, 5, 5, 3, 1, PoolPadding::Valid),
    ];
    for (pi, &(batch, h, w, c, k, stride, padding)) in pools.iter().enumerate() {
        let shape = Pool2d {
            batch,
            h,
            w,
            c,
            pool: k,
            stride,
            padding,
        };
        let act = ACTS[pi % 4];
        let pre = uniform(&mut r, shape.in_len(), -2.0, 2.0);
        let mut xv = vec![0.0; pre.len()];
        reference::activation::forward(&mut xv, &pre, act);
        let x = gpu.upload_f32("x", &xv).unwrap();
        let y = gpu.zeros("y", shape.out_elems()).unwrap();
        let argmax = gpu.zeros("argmax", shape.out_elems()).unwrap();
        let dy = gpu
            .upload_f32("dy", &uniform(&mut r, shape.out_elems(), -1.0, 1.0))
            .unwrap();
        let got = gpu.upload_f32("got", &vec![f32::NAN; xv.len()]).unwrap();
        let plain = gpu.zeros("plain", xv.len()).unwrap();
        let want = gpu.zeros("want", xv.len()).unwrap();
        let mut p = Program::default();
        p.push(pool::maxpool_forward(gpu, &y, &argmax, &x, shape).unwrap());
        p.push(
            pool::maxpool_backward_slope(gpu, &got, &dy, &argmax, shape, Some((&x, act))).unwrap(),
        );
        p.push(pool::maxpool_backward(gpu, &plain, &dy, &argmax, shape).unwrap());
        p.push(activation::backward(gpu, &want, &plain, &x, xv.len(), act).unwrap());
        run(gpu, p);
        let (g, w_) = (gpu.read_f32(&got).unwrap(), gpu.read_f32(&want).unwrap());
        assert_eq!(
            g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            w_.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{shape:?} {act:?}: fused max-pool backward differs"
        );
    }
    for (ui, &(batch, h, w, c, factor)) in [(2, 4, 3, 8, 2), (1, 5, 7, 3, 2), (3, 2, 2, 16, 3)]
        .iter()
        .enumerate()
    {
        let shape = Upsample {
            batch,
            h,
            w,
            c,
            factor,
        };
        let act = ACTS[(ui + 1) % 4];
        let pre = uniform(&mut r, shape.in_len(), -2.0, 2.0);
        let mut xv = vec![0.0; pre.len()];
        reference::activation::forward(&mut xv, &pre, act);
        let x = gpu.upload_f32("x", &xv).unwrap();
        let dy = gpu
            .upload_f32("dy", &uniform(&mut r, shape.out_elems(), -1.0, 1.0))
            .unwrap();
        let got = gpu.upload_f32("got", &vec![f32::NAN; xv.len()]).unwrap();
        let plain = gpu.zeros("plain", xv.len()).unwrap();
        let want = gpu.zeros("want", xv.len()).unwrap();
        let mut p = Program::default();
        p.push(pool::upsample_backward_slope(gpu, &got, &dy, shape, Some((&x, act))).unwrap());
        p.push(pool::upsample_backward(gpu, &plain, &dy, shape).unwrap());
        p.push(activation::backward(gpu, &want, &plain, &x, xv.len(), act).unwrap());
        run(gpu, p);
        let (g, w_) = (gpu.read_f32(&got).unwrap(), gpu.read_f32(&want).unwrap());
        assert_eq!(
            g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            w_.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{shape:?} {act:?}: fused upsample backward differs"
        );
    }
}

/// BatchNorm's backward with the slope of the activation before it (whose
/// output is the BatchNorm's x) is its plain backward followed by that
/// activation's backward, bit for bit: both chunkings, every activation,
/// vec4 and scalar shapes.
#[test]
fn batchnorm_backward_slope_is_the_separate_passes_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(94);
    for &(rows, features) in SHAPES.iter() {
        let (flat, offs) = params(&mut r, features);
        let aligned = features % 4 == 0;
        for ch in [
            Chunking::cpu(rows, features, aligned),
            Chunking::gpu(rows, features, false),
        ] {
            for act in ACTS {
                let n = rows * features;
                let pre = uniform(&mut r, n, -2.0, 2.0);
                let mut xv = vec![0.0; n];
                reference::activation::forward(&mut xv, &pre, act);
                let x = gpu.upload_f32("x", &xv).unwrap();
                let pt = gpu.upload_f32("params", &flat).unwrap();
                let dy = gpu
                    .upload_f32("dy", &uniform(&mut r, n, -1.0, 1.0))
                    .unwrap();
                let mean = gpu.zeros("mean", features).unwrap();
                let rstd = gpu.zeros("rstd", features).unwrap();
                let y = gpu.zeros("y", n).unwrap();
                let grads = gpu.zeros("grads", flat.len()).unwrap();
                let got = gpu.upload_f32("got", &vec![f32::NAN; n]).unwrap();
                let plain = gpu.zeros("plain", n).unwrap();
                let want = gpu.zeros("want", n).unwrap();
                let mut p = batchnorm::forward_train_chunked(
                    gpu,
                    ch,
                    &y,
                    &mean,
                    &rstd,
                    pt.at(offs[2]),
                    pt.at(offs[3]),
                    &x,
                    pt.at(offs[0]),
                    pt.at(offs[1]),
                    rows,
                    features,
                    batchnorm::MOMENTUM,
                    batchnorm::EPS,
                    Epilogue::NONE,
                )
                .unwrap();
                let bwd = |dx: &Tensor, slope| {
                    batchnorm::backward_chunked(
                        gpu,
                        ch,
                        dx,
                        grads.at(offs[0]),
                        grads.at(offs[1]),
                        &dy,
                        &x,
                        &mean,
                        &rstd,
                        pt.at(offs[0]),
                        rows,
                        features,
                        slope,
                    )
                    .unwrap()
                };
                p.extend(bwd(&got, Some(act)));
                p.extend(bwd(&plain, None));
                p.push(activation::backward(gpu, &want, &plain, &x, n, act).unwrap());
                run(gpu, p);
                let (g, w) = (gpu.read_f32(&got).unwrap(), gpu.read_f32(&want).unwrap());
                let what = format!("({rows}, {features}) {ch:?} {act:?}");
                assert!(g.iter().all(|v| v.is_finite()), "{what}: non-finite");
                assert_eq!(
                    g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    w.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{what}: fused BatchNorm backward differs"
                );
            }
        }
    }
}

/// A convolution's input gradient with the slope of the activation before
/// it (whose output is the convolution's input) is its plain input gradient
/// followed by that activation's backward, bit for bit, on shapes that are
/// and are not multiples of the kernel's tiles.
#[test]
fn conv_backward_input_slope_is_the_separate_passes_bit_for_bit() {
    use dae::kernels::conv2d::{self, Conv2d, Padding};
    let Some(gpu) = gpu() else { return };
    let mut r = rng(95);
    let shapes = [
        (2, 9, 7, 32, 64, 3, Padding::Valid),
        (3, 6, 5, 8, 12, 3, Padding::Same),
        (1, 5, 5, 4, 4, 1, Padding::Same),
        (2, 7, 7, 16, 16, 5, Padding::Same),
    ];
    let mut ran = 0;
    for (si, &(batch, h, w, cin, cout, k, padding)) in shapes.iter().enumerate() {
        let s = Conv2d {
            batch,
            h,
            w,
            cin,
            cout,
            k,
            padding,
        };
        let w_off = 64;
        if !conv2d::takes_slope(gpu, s, w_off) {
            continue;
        }
        ran += 1;
        for act in ACTS {
            let pre = uniform(&mut r, s.x_len(), -2.0, 2.0);
            let mut yv = vec![0.0; pre.len()];
            reference::activation::forward(&mut yv, &pre, act);
            let y = gpu.upload_f32("y", &yv).unwrap();
            let mut flat = vec![7.0; w_off + s.w_len() + 3];
            flat[w_off..w_off + s.w_len()].copy_from_slice(&uniform(&mut r, s.w_len(), -1.0, 1.0));
            let pt = gpu.upload_f32("params", &flat).unwrap();
            let dy = gpu
                .upload_f32("dy", &uniform(&mut r, s.y_len(), -1.0, 1.0))
                .unwrap();
            let got = gpu.upload_f32("got", &vec![f32::NAN; s.x_len()]).unwrap();
            let plain = gpu.zeros("plain", s.x_len()).unwrap();
            let want = gpu.zeros("want", s.x_len()).unwrap();
            let mut p =
                conv2d::backward_input_slope(gpu, &got, &dy, pt.at(w_off), s, &y, act).unwrap();
            p.extend(conv2d::backward_input_program(gpu, &plain, &dy, pt.at(w_off), s).unwrap());
            p.push(activation::backward(gpu, &want, &plain, &y, s.x_len(), act).unwrap());
            run(gpu, p);
            let (g, w_) = (gpu.read_f32(&got).unwrap(), gpu.read_f32(&want).unwrap());
            assert_eq!(
                g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                w_.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "shape {si} {s:?} {act:?}: fused input gradient differs"
            );
        }
    }
    // lavapipe runs the subgroup kernels: every shape here takes the slope.
    if dae::kernels::matmul::Variant::Subgroup.supported(gpu)
        && gpu.kernel_family() != dae::kernels::choice::Family::Tiled
    {
        assert_eq!(ran, shapes.len());
    }
}

#[test]
fn mse_slope_is_the_loss_then_activation_backward_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(97);
    // (rows, cols, valid rows): padding rows, ragged and vec4-wide columns.
    for (rows, cols, valid) in [
        (1usize, 7usize, 1usize),
        (10, 784, 7),
        (33, 12, 33),
        (256, 196, 200),
    ] {
        let step = StepInfo {
            valid_rows: valid as u32,
            ..STEP
        };
        for act in ACTS {
            let n = rows * cols;
            let pre = uniform(&mut r, n, -2.0, 2.0);
            let mut yv = vec![0.0; n];
            reference::activation::forward(&mut yv, &pre, act);
            let tv = uniform(&mut r, n, 0.0, 1.0);
            let y = gpu.upload_f32("y", &yv).unwrap();
            let t = gpu.upload_f32("target", &tv).unwrap();
            let (d, l) = (gpu.zeros("d", n).unwrap(), gpu.zeros("l", rows).unwrap());
            let mut p = Program::default();
            p.push(loss::mse_slope(gpu, &d, &l, &y, &t, rows, cols, act).unwrap());
            p.run(gpu, &step).unwrap();
            let (got, got_l) = (gpu.read_f32(&d).unwrap(), gpu.read_f32(&l).unwrap());
            let (dy, dz) = (gpu.zeros("dy", n).unwrap(), gpu.zeros("dz", n).unwrap());
            let mut p = Program::default();
            p.push(loss::mse(gpu, &dy, &l, &y, &t, rows, cols).unwrap());
            p.push(activation::backward(gpu, &dz, &dy, &y, n, act).unwrap());
            p.run(gpu, &step).unwrap();
            let (want, want_l) = (gpu.read_f32(&dz).unwrap(), gpu.read_f32(&l).unwrap());
            let what = format!("({rows}, {cols}) valid {valid} {act:?}");
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{what}: fused gradient differs"
            );
            assert_eq!(got_l, want_l, "{what}: row losses differ");
            let (mut rd, mut rl) = (vec![0.0; n], vec![0.0; rows]);
            reference::loss::mse(&mut rd, &mut rl, &yv, &tv, rows, cols, valid);
            let mut rz = vec![0.0; n];
            reference::activation::backward(&mut rz, &rd, &yv, act);
            assert_close(&what, &got, &rz, 1e-12, 1e-6);
            assert!(
                got[valid * cols..].iter().all(|&v| v == 0.0),
                "{what}: padding rows"
            );
        }
    }
}
