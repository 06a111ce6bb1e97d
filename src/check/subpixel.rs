//! The sub-pixel form of upsampled convolutions
//! ([`conv2d::subpixel`](crate::kernels::conv2d::subpixel)) against the
//! reference's upsampling followed by its convolution: forward, weight
//! gradient and the source image's gradient, on every preset's UpSample →
//! Conv2d pair (batch cut unless `full`) and odd shapes, at the tolerance of
//! the other convolution passes (see [`super::gemm`]).

use super::gemm::{params_buffer, W_OFF};
use super::{uniform, Checker, Options, Tol};
use crate::gpu::{GpuError, StepInfo, Tensor};
use crate::kernels::activation::Activation;
use crate::kernels::conv2d::subpixel::{self, Subpixel};
use crate::kernels::conv2d::{Conv2d, Padding};
use crate::kernels::pool::Upsample;
use crate::nn::{presets, Layer};
use crate::reference;

const ATOL: f64 = 1e-6;
const RTOL: f64 = 1e-5;

/// Every preset's UpSample → Conv2d pair, deduplicated, then odd shapes.
fn cases(full: bool) -> Vec<Subpixel> {
    let mut out = Vec::new();
    for (name, _) in presets::PRESETS {
        let Ok(spec) = presets::preset(name) else {
            continue;
        };
        let Ok(r) = spec.resolve_layers() else {
            continue;
        };
        for (i, pair) in spec.layers.windows(2).enumerate() {
            let (
                Layer::UpSample { factor },
                Layer::Conv2d {
                    filters,
                    kernel,
                    same,
                    ..
                },
            ) = (&pair[0].layer, &pair[1].layer)
            else {
                continue;
            };
            let input = r.inputs[i + 1];
            let sp = Subpixel {
                conv: Conv2d {
                    batch: if full { spec.batch_size } else { 2 },
                    h: input.h,
                    w: input.w,
                    cin: input.c,
                    cout: *filters,
                    k: *kernel,
                    padding: if *same { Padding::Same } else { Padding::Valid },
                },
                factor: *factor,
            };
            if !out.contains(&sp) {
                out.push(sp);
            }
        }
    }
    let odd = |batch, h, w, cin, cout, k, padding, factor: usize| Subpixel {
        conv: Conv2d {
            batch,
            h: h * factor,
            w: w * factor,
            cin,
            cout,
            k,
            padding,
        },
        factor,
    };
    out.extend([
        odd(3, 5, 3, 4, 8, 3, Padding::Same, 3),
        odd(2, 3, 4, 8, 4, 1, Padding::Valid, 2),
        odd(2, 6, 5, 12, 4, 3, Padding::Valid, 2),
    ]);
    out
}

/// Checks every case the form applies to on this adapter (none where the
/// subgroup kernels do not run: the plans then record the two layers).
pub(super) fn check(c: &mut Checker, opts: &Options) {
    for (i, sp) in cases(opts.full).into_iter().enumerate() {
        if subpixel::applies(c.gpu, &sp, &[W_OFF, W_OFF]) {
            case(c, sp, 4000 + 10 * i as u64);
        }
    }
}

fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

fn case(c: &mut Checker, sp: Subpixel, seed: u64) {
    let gpu = c.gpu;
    let s = sp.conv;
    let up = Upsample {
        batch: s.batch,
        h: sp.src_h(),
        w: sp.src_w(),
        c: s.cin,
        factor: sp.factor,
    };
    let x = uniform(seed, sp.x_len(), -1.0, 1.0);
    let w = uniform(seed + 1, s.w_len(), -1.0, 1.0);
    let b = uniform(seed + 2, s.cout, -1.0, 1.0);
    let dz = uniform(seed + 3, s.y_len(), -1.0, 1.0);
    let (p, b_off) = params_buffer(&w, &b);
    let shape = format!(
        "{}x{}x{}x{} up{}->{} k{} {}",
        s.batch,
        sp.src_h(),
        sp.src_w(),
        s.cin,
        sp.factor,
        s.cout,
        s.k,
        if s.padding == Padding::Same {
            "same"
        } else {
            "valid"
        }
    );
    let upsampled = |x: &[f32]| {
        let mut u = vec![0.0; s.x_len()];
        reference::pool::upsample_forward(&mut u, x, up);
        u
    };
    let tensors = || -> Result<[Tensor; 3], GpuError> {
        Ok([
            gpu.upload_f32("x", &x)?,
            gpu.upload_f32("params", &p)?,
            gpu.upload_f32("dz", &dz)?,
        ])
    };
    let tol = |scale| Tol {
        atol: ATOL,
        rtol: RTOL,
        scale: Some(scale),
    };
    let act = Activation::Relu;

    let got = (|| -> Result<Vec<f32>, GpuError> {
        let [xt, pt, _] = tensors()?;
        let y = gpu.upload_f32("y", &vec![f32::NAN; s.y_len()])?;
        subpixel::forward(gpu, &y, &xt, pt.at(W_OFF), pt.at(b_off), sp, act)?
            .run(gpu, &StepInfo::default())?;
        gpu.read_f32(&y)
    })()
    .map_err(|e| e.to_string());
    let mut want = vec![0.0; s.y_len()];
    reference::conv2d::forward(&mut want, &upsampled(&x), &w, &b, s, act);
    let mut scale = vec![0.0; s.y_len()];
    let (ax, aw, ab) = (upsampled(&abs(&x)), abs(&w), abs(&b));
    reference::conv2d::forward(&mut scale, &ax, &aw, &ab, s, Activation::Identity);
    let name = "conv2d subpixel forward relu";
    c.compare(name, "subgroup", shape.clone(), got, &want, tol(&scale));

    // Both gradients from one program, as a training step records them; dW
    // inside a gradient-sized buffer at W_OFF (NaN around it must survive).
    let dw_len = W_OFF + s.w_len() + 3;
    let got = (|| -> Result<(Vec<f32>, Vec<f32>), GpuError> {
        let [xt, pt, dzt] = tensors()?;
        let dw = gpu.upload_f32("dW", &vec![f32::NAN; dw_len])?;
        let dx = gpu.upload_f32("dx", &vec![f32::NAN; sp.x_len()])?;
        let dwv = Some(dw.at(W_OFF));
        subpixel::backward(gpu, &dzt, &xt, pt.at(W_OFF), dwv, Some(&dx), sp)?
            .run(gpu, &StepInfo::default())?;
        Ok((gpu.read_f32(&dw)?, gpu.read_f32(&dx)?))
    })()
    .map_err(|e| e.to_string());
    let (got_dw, got_dx) = match got {
        Ok((a, b)) => (Ok(a), Ok(b)),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    let mut want = vec![f32::NAN; dw_len];
    let win = W_OFF..W_OFF + s.w_len();
    reference::conv2d::backward_weight(&mut want[win.clone()], &dz, &upsampled(&x), s);
    let mut scale = vec![0.0; dw_len];
    reference::conv2d::backward_weight(&mut scale[win], &abs(&dz), &ax, s);
    let name = "conv2d subpixel backward_weight";
    c.compare(name, "subgroup", shape.clone(), got_dw, &want, tol(&scale));

    let dx_of = |dz: &[f32], w: &[f32]| {
        let mut du = vec![0.0; s.x_len()];
        reference::conv2d::backward_input(&mut du, dz, w, s);
        let mut dx = vec![0.0; sp.x_len()];
        reference::pool::upsample_backward(&mut dx, &du, up);
        dx
    };
    let want = dx_of(&dz, &w);
    let scale = dx_of(&abs(&dz), &aw);
    let name = "conv2d subpixel backward_input";
    c.compare(name, "subgroup", shape, got_dx, &want, tol(&scale));
}
