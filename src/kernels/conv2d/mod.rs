//! 2-D convolution, stride 1, NHWC images and Keras (kh, kw, cin, cout)
//! weights: forward (bias and activation fused), backward input, weight and
//! bias gradients.
//!
//! Every pass is an implicit GEMM whose im2col operand is gathered on the fly:
//! - forward: y (batch·oh·ow, cout) = im2col(x) (·, k·k·cin) · W (k·k·cin, cout);
//! - backward input: dx (batch·h·w, cin) = im2col'(dy) · W' where im2col'
//!   reads dy through the flipped kernel and W'[(tap, co), ci] = W[tap, ci, co];
//! - weight gradient: dW (k·k·cin, cout) = im2col(x)ᵀ · dy, whose reduction
//!   runs over batch·oh·ow pixels: split over K into partial sums and reduced.
//!
//! Two implementations, as for [`matmul`](crate::kernels::matmul) (see
//! [`Variant`]): register-blocked subgroup kernels for CPU drivers (a vec4
//! file when the channel counts are multiples of 4, a scalar one otherwise)
//! and a workgroup-memory tiled kernel for real GPUs.

use crate::gpu::{
    groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Program, Tensor, View,
};
use crate::kernels::activation::Activation;
use crate::kernels::conv2d_direct::{self, Pass};
pub use crate::kernels::matmul::Variant;

mod input;
mod shape;
pub mod subpixel;
mod weight;
pub use input::{
    backward_input, backward_input_program, backward_input_slope, backward_input_variant,
    takes_slope,
};
pub use shape::{Conv2d, Padding};
pub use weight::{backward_weight, backward_weight_variant, bias_grad};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "conv2d_subgroup_x4.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_x4.wgsl"),
    ),
    (
        "conv2d_subgroup_x8.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_x8.wgsl"),
    ),
    (
        "conv2d_subgroup_x16.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_x16.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x4.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_ragged_x4.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x8.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_ragged_x8.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x16.wgsl",
        include_str!("../../../shaders/conv2d_subgroup_ragged_x16.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x4.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_x4.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x8.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_x8.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x16.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_x16.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x4.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_ragged_x4.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x8.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_ragged_x8.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x16.wgsl",
        include_str!("../../../shaders/conv2d_weight_subgroup_ragged_x16.wgsl"),
    ),
    ("conv2d_tiled.wgsl", TILED_WGSL),
    ("conv2d_reduce.wgsl", REDUCE_WGSL),
    ("conv2d_narrow.wgsl", NARROW_WGSL),
    ("conv2d_transpose_w.wgsl", TRANSPOSE_WGSL),
    ("subpixel_slabs.wgsl", subpixel::SLABS_WGSL),
    ("subpixel_shuffle.wgsl", subpixel::SHUFFLE_WGSL),
];

const TILED_WGSL: &str = include_str!("../../../shaders/conv2d_tiled.wgsl");
const REDUCE_WGSL: &str = include_str!("../../../shaders/conv2d_reduce.wgsl");
const NARROW_WGSL: &str = include_str!("../../../shaders/conv2d_narrow.wgsl");
const TRANSPOSE_WGSL: &str = include_str!("../../../shaders/conv2d_transpose_w.wgsl");

/// Rows of C one subgroup computes (its columns are 4 per lane); the
/// invocations of a workgroup.
const SG_ROWS: usize = 32;
const SG_WORKGROUP: usize = 64;

/// The subgroup kernel `stem` generated for this adapter's lane count, with
/// the columns of one subgroup's tile and the subgroups per workgroup.
fn lanes_spec(gpu: &Gpu, stem: &str) -> (KernelSpec, usize, usize) {
    let lanes = gpu.info.subgroup_min_size as usize;
    let (name, src) = crate::kernels::matmul::lanes_file(SHADERS, stem, lanes as u32);
    (
        KernelSpec::new(name, src, BINDINGS),
        4 * lanes,
        SG_WORKGROUP / lanes,
    )
}
/// Rows of C per invocation of conv2d_narrow.wgsl's `rows`.
const NARROW_ROWS: usize = 8;
/// Words of x and dy one split of the CPU weight gradient should touch:
/// 1 Mi words = 4 MiB, about what stays in this class of CPU's caches.
const CACHE_WORDS: usize = 1 << 20;
/// Side of the C tile of one workgroup of the tiled kernel.
const TILE: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    act: u32,
    alpha: f32,
    has_bias: u32,
    w_off: u32,
    b_off: u32,
    tiles_n: u32,
    tiles: u32,
    chunk: u32,
    c_off: u32,
    /// Kernel width (and height when `kh` is 0: square).
    ks: u32,
    sh: u32,
    sw: u32,
    sc: u32,
    dh: u32,
    dw: u32,
    sgn: i32,
    /// Source row offset of tap row 0 (and column offset when `kh` is 0).
    off: i32,
    /// Kernel height, or 0 for a square ks × ks kernel with one offset; set
    /// by sub-pixel phases (kh × ks taps at (off, offx)). Read by the
    /// generated subgroup kernels only; [`bind`] fills it in for square ones.
    kh: u32,
    offx: i32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 96);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    len: u32,
    splits: u32,
    out_off: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<ReduceParams>() == 16);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TransposeParams {
    len: u32,
    cin: u32,
    cout: u32,
    w_off: u32,
}
const _: () = assert!(std::mem::size_of::<TransposeParams>() == 16);

const BINDINGS: &[Binding] = &[
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadWrite,
    Binding::Uniform,
];

/// y = act(conv(x, W) + b), overwritten, with the fastest variant here.
///
/// # Shapes
/// x (batch, h, w, cin), W (k, k, cin, cout) and b (cout) from their views'
/// offsets, y (batch, oh, ow, cout).
pub fn forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    w: View,
    b: View,
    shape: Conv2d,
    act: Activation,
) -> Result<Dispatch, GpuError> {
    let variant = Variant::choose(gpu, crate::kernels::choice::Op::ConvForward(shape));
    forward_variant(gpu, y, x, w, b, shape, act, variant)
}

/// [`forward`] with a chosen variant, for tests and benchmarks.
#[allow(clippy::too_many_arguments)]
pub fn forward_variant(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    w: View,
    b: View,
    shape: Conv2d,
    act: Activation,
    variant: Variant,
) -> Result<Dispatch, GpuError> {
    shape.check();
    check_len("forward", "x", x.len, 0, shape.x_len());
    check_len("forward", "y", y.len, 0, shape.y_len());
    check_len("forward", "W", w.tensor.len, w.offset, shape.w_len());
    check_len("forward", "b", b.tensor.len, b.offset, shape.cout);
    if variant == Variant::Subgroup
        && conv2d_direct::applies(Pass::Forward, &shape, &[w.offset, b.offset])
    {
        return conv2d_direct::forward(gpu, y, x, w, b, shape, act);
    }
    let (kind, alpha) = act.code();
    let params = Params {
        m: shape.rows() as u32,
        k: (shape.k * shape.k * shape.cin) as u32,
        n: shape.cout as u32,
        act: kind,
        alpha,
        has_bias: 1,
        w_off: w.offset as u32,
        b_off: b.offset as u32,
        sh: shape.h as u32,
        sw: shape.w as u32,
        sc: shape.cin as u32,
        dh: shape.out_h() as u32,
        dw: shape.out_w() as u32,
        sgn: 1,
        off: -(shape.pad() as i32),
        ..common(shape)
    };
    let aligned = shape.cin.is_multiple_of(4)
        && shape.cout.is_multiple_of(4)
        && w.offset.is_multiple_of(4)
        && b.offset.is_multiple_of(4);
    gemm(gpu, params, [x, w.tensor, b.tensor, y], 0, aligned, variant)
}

/// Params fields shared by every pass; the rest are set per pass.
fn common(shape: Conv2d) -> Params {
    Params {
        m: 0,
        k: 0,
        n: 0,
        act: 0,
        alpha: 0.0,
        has_bias: 0,
        w_off: 0,
        b_off: 0,
        tiles_n: 0,
        tiles: 0,
        chunk: 0,
        c_off: 0,
        ks: shape.k as u32,
        sh: 0,
        sw: 0,
        sc: 0,
        dh: 0,
        dw: 0,
        sgn: 1,
        off: 0,
        kh: 0,
        offx: 0,
        _pad: [0; 2],
    }
}

/// Builds the forward or backward-input dispatch (PASS 0 or 1).
fn gemm(
    gpu: &Gpu,
    mut params: Params,
    bufs: [&Tensor; 4],
    pass: u32,
    aligned: bool,
    variant: Variant,
) -> Result<Dispatch, GpuError> {
    check_variant(gpu, variant);
    let (m, n) = (params.m as usize, params.n as usize);
    let (spec, workgroups) = match variant {
        Variant::Subgroup
            if n == 1 && params.sc.is_multiple_of(4) && params.w_off.is_multiple_of(4) =>
        {
            (
                // No PASS override in this file: both passes read w the same way.
                KernelSpec::new("conv2d_narrow", NARROW_WGSL, BINDINGS).entry("rows"),
                groups_2d(groups(m.div_ceil(NARROW_ROWS), 64)),
            )
        }
        Variant::Subgroup => {
            let stem = if aligned {
                "conv2d_subgroup"
            } else {
                "conv2d_subgroup_ragged"
            };
            let (spec, cols, per_wg) = lanes_spec(gpu, stem);
            let tiles_n = n.div_ceil(cols);
            let tiles = m.div_ceil(SG_ROWS) * tiles_n;
            params.tiles_n = tiles_n as u32;
            params.tiles = tiles as u32;
            let spec = spec.constant("PASS", pass as f64);
            (spec, groups_2d(groups(tiles, per_wg)))
        }
        Variant::Tiled => (
            KernelSpec::new("conv2d_tiled", TILED_WGSL, BINDINGS).constant("PASS", pass as f64),
            [groups(n, TILE), groups(m, TILE), 1],
        ),
        Variant::Tiled64 | Variant::Tiled128x64 => unreachable!("refused by check_variant"),
    };
    bind(gpu, &spec, "conv2d params", &params, bufs, workgroups)
}

fn bind(
    gpu: &Gpu,
    spec: &KernelSpec,
    label: &str,
    params: &Params,
    [a, b, bias, c]: [&Tensor; 4],
    workgroups: [u32; 3],
) -> Result<Dispatch, GpuError> {
    let kernel = gpu.kernel(spec)?;
    let mut params = *params;
    if params.kh == 0 {
        params.kh = params.ks;
        params.offx = params.off;
    }
    let params_buf = gpu.uniform(label, &params);
    let group = kernel.bind(
        gpu,
        &[
            a.binding(),
            b.binding(),
            bias.binding(),
            c.binding(),
            params_buf.as_entire_binding(),
        ],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(params_buf),
    })
}

/// out\[i\] = Σ_s part\[s·len + i\] for i < len (out from its view's
/// offset), the splits added in order: the reduction of split-K partial
/// sums (conv2d weight gradients, bias gradients). The bind group keeps
/// `part` alive.
pub(crate) fn sum_splits(
    gpu: &Gpu,
    part: &Tensor,
    out: View,
    len: usize,
    splits: usize,
) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "conv2d_reduce",
        REDUCE_WGSL,
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let rp = gpu.uniform(
        "conv2d reduce params",
        &ReduceParams {
            len: len as u32,
            splits: splits as u32,
            out_off: out.offset as u32,
            _pad: 0,
        },
    );
    let group = kernel.bind(
        gpu,
        &[part.binding(), out.tensor.binding(), rp.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(len, 64)),
        params: Some(rp),
    })
}

fn check_variant(gpu: &Gpu, variant: Variant) {
    assert!(
        variant.has_conv(),
        "conv2d has no {} kernel (the wide tiles are matmul-only; see Variant::candidates)",
        variant.name()
    );
    assert!(
        variant.supported(gpu),
        "conv2d variant {variant:?} is not supported on this adapter ({}..{}-lane subgroups)",
        gpu.info.subgroup_min_size,
        gpu.info.subgroup_max_size
    );
}

fn check_len(pass: &str, what: &str, have: usize, offset: usize, need: usize) {
    assert!(
        offset + need <= have,
        "conv2d {pass}: {what} needs {need} elements from offset {offset} but its tensor holds {have}"
    );
    assert!(
        have <= u32::MAX as usize,
        "conv2d {pass}: {what} is too large for 32-bit indexing"
    );
}
