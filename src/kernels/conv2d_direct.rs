//! Direct convolutions for layers with one scalar side (cin = 1 or cout = 1),
//! where the implicit GEMM of [`conv2d`](crate::kernels::conv2d) has a single
//! column (or a single k per tap) and wastes most of its 32-wide tiles.
//!
//! Three generated kernels (tools/gen_conv2d_direct.py), one entry point per
//! kernel side k in [`KS`], no subgroup operations (any adapter runs them):
//! - spread (one channel to C): forward with cin = 1, input gradient with
//!   cout = 1 (the flipped kernel), bias and activation fused;
//! - gather (C channels to one): forward with cout = 1;
//! - weight (taps × C, split over rows of pixels, then conv2d_reduce.wgsl):
//!   the weight gradient with cin = 1 or cout = 1.
//!
//! [`conv2d`](crate::kernels::conv2d) picks these for its subgroup (CPU)
//! variant where [`applies`] says so.

use crate::gpu::{
    groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Program, Tensor, View,
};
use crate::kernels::activation::Activation;
use crate::kernels::conv2d::Conv2d;

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    ("conv2d_direct_spread.wgsl", SPREAD_WGSL),
    ("conv2d_direct_gather.wgsl", GATHER_WGSL),
    ("conv2d_direct_weight.wgsl", WEIGHT_WGSL),
];

const SPREAD_WGSL: &str = include_str!("../../shaders/conv2d_direct_spread.wgsl");
const GATHER_WGSL: &str = include_str!("../../shaders/conv2d_direct_gather.wgsl");
const WEIGHT_WGSL: &str = include_str!("../../shaders/conv2d_direct_weight.wgsl");
/// Registered by [`conv2d`](crate::kernels::conv2d); shared here.
const REDUCE_WGSL: &str = include_str!("../../shaders/conv2d_reduce.wgsl");

/// Kernel sides with an entry point (`k1`, `k3`, ...), as generated.
pub const KS: [usize; 3] = [1, 3, 5];
/// Destination pixels per invocation of spread and gather (rows, columns).
const SPREAD_BLOCK: (usize, usize) = (4, 4);
const GATHER_BLOCK: (usize, usize) = (4, 4);
/// vec4s of channels per invocation of weight (every k).
const WEIGHT_GROUPS: usize = 4;
/// Invocations the weight gradient aims for (16 workgroups), and the fewest
/// pixels one split sums, so that its partial sums cost little.
const WEIGHT_TARGET: usize = 1024;
const WEIGHT_MIN_PIXELS: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    total: u32,
    nbx: u32,
    nby: u32,
    rows: u32,
    sh: u32,
    sw: u32,
    dh: u32,
    dw: u32,
    c4: u32,
    org: i32,
    flip: u32,
    /// The activation code, for the record: the shaders take it as the ACT
    /// pipeline constant (lavapipe runs every arm of a runtime switch).
    act: u32,
    alpha: f32,
    has_bias: u32,
    w_off: u32,
    b_off: u32,
    out_off: u32,
    part_len: u32,
    _p0: u32,
    _p1: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 80);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    len: u32,
    splits: u32,
    out_off: u32,
    _pad: u32,
}

/// A pass of a convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// y = conv(x, W) + b.
    Forward,
    /// dx from dy and W.
    BackwardInput,
    /// dW from dy and x.
    BackwardWeight,
}

/// Whether a direct kernel can run `pass` of `shape`. `offsets` are the
/// element offsets of the parameter views the pass reads or writes (W and
/// b, W, or dW).
pub fn supports(pass: Pass, shape: &Conv2d, offsets: &[usize]) -> bool {
    let aligned = offsets.iter().all(|o| o.is_multiple_of(4));
    let (cin, cout) = (shape.cin, shape.cout);
    // The kernels index with i32.
    let small = shape.x_len().max(shape.y_len()) < 1 << 31;
    small
        && KS.contains(&shape.k)
        && match pass {
            Pass::Forward => {
                (cin == 1 && cout.is_multiple_of(4) && aligned)
                    || (cout == 1 && cin.is_multiple_of(4) && offsets[0].is_multiple_of(4))
            }
            Pass::BackwardInput => cout == 1 && cin.is_multiple_of(4) && aligned,
            Pass::BackwardWeight => {
                (cin == 1 && cout.is_multiple_of(4)) || (cout == 1 && cin.is_multiple_of(4))
            }
        }
}

/// Whether conv2d's subgroup (CPU) variant should run `pass` of `shape`
/// here: where [`supports`] holds and the direct kernel measured faster on
/// lavapipe. Left to the GEMM kernels: the 1x1 forward with cout = 1 (one
/// load per multiply-add either way, conv2d_narrow.wgsl as fast) and the
/// weight gradient of cin = 1 with k >= 5 (25 taps fill the GEMM's tiles).
pub fn applies(pass: Pass, shape: &Conv2d, offsets: &[usize]) -> bool {
    supports(pass, shape, offsets)
        && match pass {
            Pass::Forward => shape.cin == 1 || shape.k > 1,
            Pass::BackwardInput => true,
            Pass::BackwardWeight => shape.cout == 1 || shape.k <= 3,
        }
}

fn entry(k: usize) -> &'static str {
    match k {
        1 => "k1",
        3 => "k3",
        5 => "k5",
        _ => panic!("conv2d_direct: no kernel for k = {k} (have {KS:?})"),
    }
}

/// Origin of the source patch: `-pad` for the forward taps, `pad - (k - 1)`
/// for the flipped kernel.
fn origin(shape: &Conv2d, flip: bool) -> i32 {
    let pad = shape.pad() as i32;
    if flip {
        pad - (shape.k as i32 - 1)
    } else {
        -pad
    }
}

/// y = act(conv(x, W) + b), overwritten, for cin = 1 (spread) or cout = 1
/// (gather). Shapes as [`conv2d::forward`](crate::kernels::conv2d::forward).
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    w: View,
    b: View,
    shape: Conv2d,
    act: Activation,
) -> Result<Dispatch, GpuError> {
    assert!(
        supports(Pass::Forward, &shape, &[w.offset, b.offset]),
        "conv2d_direct forward: unsupported {shape:?} (W at {}, b at {})",
        w.offset,
        b.offset
    );
    check(x.len >= shape.x_len() && y.len >= shape.y_len(), &shape);
    check(w.offset + shape.w_len() <= w.tensor.len, &shape);
    check(b.offset + shape.cout <= b.tensor.len, &shape);
    let (kind, alpha) = act.code();
    let spread = shape.cin == 1;
    let block = if spread { SPREAD_BLOCK } else { GATHER_BLOCK };
    let params = Params {
        sh: shape.h as u32,
        sw: shape.w as u32,
        dh: shape.out_h() as u32,
        dw: shape.out_w() as u32,
        c4: (shape.cin.max(shape.cout) / 4) as u32,
        org: origin(&shape, false),
        act: kind,
        alpha,
        has_bias: 1,
        w_off: w.offset as u32,
        b_off: b.offset as u32,
        ..blocks(&shape, shape.out_h(), shape.out_w(), block)
    };

    let (name, src) = if spread {
        ("conv2d_direct_spread", SPREAD_WGSL)
    } else {
        ("conv2d_direct_gather", GATHER_WGSL)
    };
    let spec = KernelSpec::new(name, src, BINDINGS)
        .entry(entry(shape.k))
        .constant("ACT", kind as f64);
    let groups = groups_2d(groups(params.total as usize, 64));
    bind(gpu, &spec, &params, &[x, w.tensor, b.tensor, y], groups)
}

/// dx = conv_transpose(dy, W), overwritten, for cout = 1 (spread with the
/// flipped kernel). Shapes as
/// [`conv2d::backward_input`](crate::kernels::conv2d::backward_input).
pub fn backward_input(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    w: View,
    shape: Conv2d,
) -> Result<Dispatch, GpuError> {
    assert!(
        supports(Pass::BackwardInput, &shape, &[w.offset]),
        "conv2d_direct backward_input: unsupported {shape:?} (W at {})",
        w.offset
    );
    check(dx.len >= shape.x_len() && dy.len >= shape.y_len(), &shape);
    check(w.offset + shape.w_len() <= w.tensor.len, &shape);
    let params = Params {
        sh: shape.out_h() as u32,
        sw: shape.out_w() as u32,
        dh: shape.h as u32,
        dw: shape.w as u32,
        c4: (shape.cin / 4) as u32,
        org: origin(&shape, true),
        flip: 1,
        w_off: w.offset as u32,
        ..blocks(&shape, shape.h, shape.w, SPREAD_BLOCK)
    };

    let spec = KernelSpec::new("conv2d_direct_spread", SPREAD_WGSL, BINDINGS).entry(entry(shape.k));
    let groups = groups_2d(groups(params.total as usize, 64));
    // No bias: W's tensor stands in for binding 2, which is never read.
    bind(gpu, &spec, &params, &[dy, w.tensor, w.tensor, dx], groups)
}

/// dW, overwritten, for cin = 1 or cout = 1: partial sums over splits of the
/// rows of pixels, then (when there is more than one split, or dW's offset
/// is not a multiple of 4) conv2d_reduce.wgsl. Shapes as
/// [`conv2d::backward_weight`](crate::kernels::conv2d::backward_weight).
pub fn backward_weight(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    shape: Conv2d,
) -> Result<Program, GpuError> {
    assert!(
        supports(Pass::BackwardWeight, &shape, &[dw.offset]),
        "conv2d_direct backward_weight: unsupported {shape:?}"
    );
    check(x.len >= shape.x_len() && dy.len >= shape.y_len(), &shape);
    check(dw.offset + shape.w_len() <= dw.tensor.len, &shape);
    // m: the image with C channels, walked pixel by pixel; s: the scalar one.
    let cin1 = shape.cin == 1;
    let (m, s, mh, mw, sh, sw, c) = if cin1 {
        (
            dy,
            x,
            shape.out_h(),
            shape.out_w(),
            shape.h,
            shape.w,
            shape.cout,
        )
    } else {
        (
            x,
            dy,
            shape.h,
            shape.w,
            shape.out_h(),
            shape.out_w(),
            shape.cin,
        )
    };
    let k = shape.k;
    let (len, c4) = (k * k * c, c / 4);
    let rows = shape.batch * mh;
    let nbx = c4.div_ceil(WEIGHT_GROUPS);
    let want = WEIGHT_TARGET.div_ceil(nbx).max(1);
    let rs = rows
        .div_ceil(want)
        .max(WEIGHT_MIN_PIXELS.div_ceil(mw))
        .min(rows);
    let splits = rows.div_ceil(rs);
    let direct = splits == 1 && dw.offset.is_multiple_of(4);
    let params = Params {
        total: (splits * nbx) as u32,
        nbx: nbx as u32,
        nby: rs as u32,
        rows: rows as u32,
        sh: sh as u32,
        sw: sw as u32,
        dh: mh as u32,
        dw: mw as u32,
        c4: c4 as u32,
        org: origin(&shape, !cin1),
        flip: u32::from(!cin1),
        out_off: if direct { dw.offset as u32 } else { 0 },
        part_len: len as u32,
        ..bytemuck::Zeroable::zeroed()
    };
    let scratch;
    let out: &Tensor = if direct {
        dw.tensor
    } else {
        scratch = gpu.zeros("conv2d_direct dW partials", splits * len)?;
        &scratch
    };
    let spec = KernelSpec::new(
        "conv2d_direct_weight",
        WEIGHT_WGSL,
        &[
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::Uniform,
        ],
    )
    .entry(entry(k));
    let mut prog = Program::default();
    let groups_w = groups_2d(groups(splits * nbx, 64));
    prog.push(bind(gpu, &spec, &params, &[m, s, out], groups_w)?);
    if !direct {
        let spec = KernelSpec::new(
            "conv2d_reduce",
            REDUCE_WGSL,
            &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
        );
        let rp = ReduceParams {
            len: len as u32,
            splits: splits as u32,
            out_off: dw.offset as u32,
            _pad: 0,
        };
        // The bind group keeps the partial sums alive after `scratch` drops.
        prog.push(bind(
            gpu,
            &spec,
            &rp,
            &[out, dw.tensor],
            groups_2d(groups(len, 64)),
        )?);
    }
    Ok(prog)
}

const BINDINGS: &[Binding] = &[
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadWrite,
    Binding::Uniform,
];

/// Block counts of a spread or gather dispatch over a (dh, dw) destination.
fn blocks(shape: &Conv2d, dh: usize, dw: usize, (bh, bw): (usize, usize)) -> Params {
    let (nbx, nby) = (dw.div_ceil(bw), dh.div_ceil(bh));
    Params {
        total: (shape.batch * nbx * nby) as u32,
        nbx: nbx as u32,
        nby: nby as u32,
        ..bytemuck::Zeroable::zeroed()
    }
}

fn check(ok: bool, shape: &Conv2d) {
    assert!(ok, "conv2d_direct: a buffer is too small for {shape:?}");
}

fn bind<P: bytemuck::Pod>(
    gpu: &Gpu,
    spec: &KernelSpec,
    params: &P,
    bufs: &[&Tensor],
    workgroups: [u32; 3],
) -> Result<Dispatch, GpuError> {
    let kernel = gpu.kernel(spec)?;
    let params_buf = gpu.uniform("conv2d_direct params", params);
    let mut entries: Vec<wgpu::BindingResource> = bufs.iter().map(|t| t.binding()).collect();
    entries.push(params_buf.as_entire_binding());
    let group = kernel.bind(gpu, &entries);
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(params_buf),
    })
}
