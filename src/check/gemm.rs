//! Matmul and convolution cases: every form and pass, for every variant
//! this adapter runs, on each preset's layer shapes and on ragged ones.
//!
//! Tolerance (the tests' one for these kernels): an f32 sum in any order is
//! off from the exact value by about √K·eps·Σ|a||b|, so each element's error
//! is held to 1e-6 + 1e-5·scale, where scale is the same pass run on the
//! inputs' absolute values (the result itself can cancel to zero).

use super::{uniform, Checker, Options, Tol};
use crate::gpu::{Gpu, GpuError, Program, StepInfo, Tensor};
use crate::kernels::activation::Activation;
use crate::kernels::choice::Op;
use crate::kernels::conv2d::{self, Conv2d, Padding};
use crate::kernels::conv2d_direct::{self, Pass};
use crate::kernels::matmul::{self, Form, Matmul, Variant};
use crate::nn::presets;
use crate::reference;

const ATOL: f64 = 1e-6;
const RTOL: f64 = 1e-5;
const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
];

/// The variants this adapter can run for a matmul (`conv`: false) or a
/// convolution pass (the wide tiles are matmul-only).
pub(crate) fn variants(gpu: &Gpu, conv: bool) -> Vec<Variant> {
    Variant::ALL
        .into_iter()
        .filter(|v| v.supported(gpu) && (!conv || v.has_conv()))
        .collect()
}

/// (batch, inputs, units) of every Dense layer and (shape) of every Conv2D
/// layer of the presets, deduplicated; batches cut unless `full`. The
/// layers are the forward passes [`crate::tune::ops`] lists (the passes the
/// presets' plans run).
fn preset_layers(full: bool) -> (Vec<(usize, usize, usize)>, Vec<Conv2d>) {
    let (mut dense, mut convs) = (Vec::new(), Vec::new());
    for (name, _) in presets::PRESETS {
        let Ok(spec) = presets::preset(name) else {
            continue;
        };
        let Ok(r) = spec.resolve_layers() else {
            continue;
        };
        for op in crate::tune::ops(&spec, &r) {
            match op {
                Op::Matmul(m) if m.form == Form::NN => {
                    let b = if full { m.m } else { m.m.min(32) };
                    let d = (b, m.k, m.n);
                    if !dense.contains(&d) {
                        dense.push(d);
                    }
                }
                Op::ConvForward(c) => {
                    let c = Conv2d {
                        batch: if full { c.batch } else { 2 },
                        ..c
                    };
                    if !convs.contains(&c) {
                        convs.push(c);
                    }
                }
                _ => {}
            }
        }
    }
    (dense, convs)
}

/// Matmul: each Dense layer's three products (forward NN, input gradient
/// NT, weight gradient TN) and ragged shapes, every variant, with operands
/// placed off a 4-element boundary in the ragged cases.
pub(super) fn matmul(c: &mut Checker, opts: &Options) {
    let (dense, _) = preset_layers(opts.full);
    let mut cases: Vec<(Matmul, usize)> = Vec::new();
    let mm = |m, k, n, form| Matmul {
        m,
        k,
        n,
        form,
        act: Activation::Identity,
    };
    for &(b, i, u) in &dense {
        cases.push((mm(b, i, u, Form::NN), 0));
        cases.push((mm(b, u, i, Form::NT), 0));
        cases.push((mm(i, b, u, Form::TN), 0));
    }
    // 130x70x129 runs past a 128-row tile of the wide variants.
    for (m, k, n) in [
        (33, 17, 45),
        (1, 5, 3),
        (65, 129, 67),
        (7, 784, 10),
        (130, 70, 129),
    ] {
        for form in [Form::NN, Form::NT, Form::TN] {
            cases.push((mm(m, k, n, form), 3));
        }
    }
    for v in variants(c.gpu, false) {
        for (i, &(shape, pad)) in cases.iter().enumerate() {
            let (bias, act) = [
                (false, ACTS[0]),
                (true, ACTS[1]),
                (true, ACTS[2]),
                (false, ACTS[3]),
            ][i % 4];
            matmul_case(c, v, Matmul { act, ..shape }, bias, pad, 1000 + i as u64);
        }
    }
}

pub(crate) fn matmul_case(
    c: &mut Checker,
    v: Variant,
    s: Matmul,
    with_bias: bool,
    pad: usize,
    seed: u64,
) {
    let a = uniform(seed, s.a_len(), -1.0, 1.0);
    let b = uniform(seed + 1, s.b_len(), -1.0, 1.0);
    let bias = uniform(seed + 2, s.n, -1.0, 1.0);
    let gpu = c.gpu;
    let padded = |x: &[f32], fill: f32| [vec![fill; pad], x.to_vec(), vec![fill; 3]].concat();
    let got = (|| -> Result<Vec<f32>, GpuError> {
        let at = gpu.upload_f32("a", &padded(&a, 7.0))?;
        let bt = gpu.upload_f32("b", &padded(&b, 7.0))?;
        let biast = gpu.upload_f32("bias", &padded(&bias, 7.0))?;
        let ct = gpu.upload_f32("c", &vec![f32::NAN; pad + s.c_len() + 3])?;
        let bias_view = with_bias.then(|| biast.at(pad));
        let d = matmul::matmul_variant(gpu, ct.at(pad), at.at(pad), bt.at(pad), bias_view, s, v)?;
        let mut prog = Program::default();
        prog.push(d);
        prog.run(gpu, &StepInfo::default())?;
        gpu.read_f32(&ct)
    })()
    .map_err(|e| e.to_string());
    let mut want = vec![0.0; s.c_len()];
    reference::matmul::matmul(&mut want, &a, &b, with_bias.then_some(&bias[..]), s);
    let mut scale = vec![0.0; s.c_len()];
    let abs_bias: Vec<f32> = bias.iter().map(|x| x.abs()).collect();
    let plain = Matmul {
        act: Activation::Identity,
        ..s
    };
    reference::matmul::matmul(
        &mut scale,
        &abs(&a),
        &abs(&b),
        with_bias.then_some(&abs_bias[..]),
        plain,
    );
    let form = match s.form {
        Form::NN => "nn",
        Form::NT => "nt",
        Form::TN => "tn",
    };
    let shape = format!(
        "{}x{}x{}{}{}",
        s.m,
        s.k,
        s.n,
        if with_bias { " +bias" } else { "" },
        if pad > 0 { " offset" } else { "" }
    );
    c.compare(
        &format!("matmul {form} {}", act_name(s.act)),
        v.name(),
        shape,
        got,
        &padded(&want, f32::NAN),
        Tol {
            atol: ATOL,
            rtol: RTOL,
            scale: Some(&padded(&scale, 0.0)),
        },
    );
}

/// Convolutions: forward, input gradient and weight gradient of each preset
/// Conv2D layer (batch cut to 2) and of ragged shapes, every variant.
pub(super) fn conv2d(c: &mut Checker, opts: &Options) {
    let (_, mut convs) = preset_layers(opts.full);
    let conv = |batch, h, w, cin, cout, k, padding| Conv2d {
        batch,
        h,
        w,
        cin,
        cout,
        k,
        padding,
    };
    convs.extend([
        conv(3, 7, 9, 5, 6, 3, Padding::Same),
        conv(2, 11, 5, 3, 1, 5, Padding::Valid),
        conv(2, 6, 6, 1, 7, 3, Padding::Same),
        conv(1, 9, 9, 12, 20, 3, Padding::Valid),
        conv(2, 5, 6, 8, 4, 1, Padding::Same),
    ]);
    for v in variants(c.gpu, true) {
        for (i, &s) in convs.iter().enumerate() {
            let seed = 2000 + 10 * i as u64;
            conv_case(c, v, s, ACTS[i % 4], seed);
        }
    }
}

/// The variant's name, `subgroup (direct)` where the direct kernel for one
/// channel takes the pass.
fn conv_variant(v: Variant, pass: Pass, s: &Conv2d, offsets: &[usize]) -> String {
    if v == Variant::Subgroup && conv2d_direct::applies(pass, s, offsets) {
        "subgroup (direct)".into()
    } else {
        v.name().into()
    }
}

pub(super) const W_OFF: usize = 64;

/// W at [`W_OFF`] and b at the next multiple of 64 inside a parameter
/// buffer, junk around them, as the parameter layout places them; returns
/// it and b's offset.
pub(super) fn params_buffer(w: &[f32], b: &[f32]) -> (Vec<f32>, usize) {
    let b_off = (W_OFF + w.len()).next_multiple_of(64);
    let mut p = vec![7.0; b_off + b.len() + 5];
    p[W_OFF..W_OFF + w.len()].copy_from_slice(w);
    p[b_off..b_off + b.len()].copy_from_slice(b);
    (p, b_off)
}

pub(crate) fn conv_case(c: &mut Checker, v: Variant, s: Conv2d, act: Activation, seed: u64) {
    let gpu = c.gpu;
    let x = uniform(seed, s.x_len(), -1.0, 1.0);
    let w = uniform(seed + 1, s.w_len(), -1.0, 1.0);
    let b = uniform(seed + 2, s.cout, -1.0, 1.0);
    let dy = uniform(seed + 3, s.y_len(), -1.0, 1.0);
    let (p, b_off) = params_buffer(&w, &b);
    let shape = format!(
        "{}x{}x{}x{}->{} k{} {}",
        s.batch,
        s.h,
        s.w,
        s.cin,
        s.cout,
        s.k,
        if s.padding == Padding::Same {
            "same"
        } else {
            "valid"
        }
    );
    let tol = |scale: &[f32]| -> Vec<f32> { scale.to_vec() };
    let run = |f: &dyn Fn(&Tensor) -> Result<Program, GpuError>, len: usize| {
        (|| -> Result<Vec<f32>, GpuError> {
            let out = gpu.upload_f32("out", &vec![f32::NAN; len])?;
            f(&out)?.run(gpu, &StepInfo::default())?;
            gpu.read_f32(&out)
        })()
        .map_err(|e| e.to_string())
    };
    let up = |name: &str, d: &[f32]| gpu.upload_f32(name, d);

    // Forward.
    let got = run(
        &|y| {
            let (xt, pt) = (up("x", &x)?, up("params", &p)?);
            let d = conv2d::forward_variant(gpu, y, &xt, pt.at(W_OFF), pt.at(b_off), s, act, v)?;
            let mut prog = Program::default();
            prog.push(d);
            Ok(prog)
        },
        s.y_len(),
    );
    let mut want = vec![0.0; s.y_len()];
    reference::conv2d::forward(&mut want, &x, &w, &b, s, act);
    let mut scale = vec![0.0; s.y_len()];
    let id = Activation::Identity;
    reference::conv2d::forward(&mut scale, &abs(&x), &abs(&w), &abs(&b), s, id);
    let vname = conv_variant(v, Pass::Forward, &s, &[W_OFF, b_off]);
    c.compare(
        &format!("conv2d forward {}", act_name(act)),
        &vname,
        shape.clone(),
        got,
        &want,
        Tol {
            atol: ATOL,
            rtol: RTOL,
            scale: Some(&tol(&scale)),
        },
    );

    // Input gradient.
    let got = run(
        &|dx| {
            let (dyt, pt) = (up("dy", &dy)?, up("params", &p)?);
            conv2d::backward_input_variant(gpu, dx, &dyt, pt.at(W_OFF), s, v)
        },
        s.x_len(),
    );
    let mut want = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut want, &dy, &w, s);
    let mut scale = vec![0.0; s.x_len()];
    reference::conv2d::backward_input(&mut scale, &abs(&dy), &abs(&w), s);
    let vname = conv_variant(v, Pass::BackwardInput, &s, &[W_OFF]);
    let tol_in = Tol {
        atol: ATOL,
        rtol: RTOL,
        scale: Some(&scale),
    };
    c.compare(
        "conv2d backward_input",
        &vname,
        shape.clone(),
        got,
        &want,
        tol_in,
    );

    // Weight gradient, written into a parameter-sized buffer at W_OFF.
    let got = run(
        &|dw| {
            let (dyt, xt) = (up("dy", &dy)?, up("x", &x)?);
            conv2d::backward_weight_variant(gpu, dw.at(W_OFF), &dyt, &xt, s, v)
        },
        W_OFF + s.w_len() + 3,
    );
    let mut want = vec![f32::NAN; W_OFF + s.w_len() + 3];
    reference::conv2d::backward_weight(&mut want[W_OFF..W_OFF + s.w_len()], &dy, &x, s);
    let mut scale = vec![0.0; W_OFF + s.w_len() + 3];
    reference::conv2d::backward_weight(
        &mut scale[W_OFF..W_OFF + s.w_len()],
        &abs(&dy),
        &abs(&x),
        s,
    );
    let vname = conv_variant(v, Pass::BackwardWeight, &s, &[W_OFF]);
    let tol_w = Tol {
        atol: ATOL,
        rtol: RTOL,
        scale: Some(&scale),
    };
    c.compare("conv2d backward_weight", &vname, shape, got, &want, tol_w);
}

fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

fn act_name(a: Activation) -> String {
    match a {
        Activation::Identity => "linear".into(),
        Activation::Relu => "relu".into(),
        Activation::LeakyRelu(s) => format!("leaky_relu({s})"),
        Activation::Sigmoid => "sigmoid".into(),
    }
}
