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

/// How the border is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// pad = (k−1)/2 zeros on each side: the output has the input's size.
    Same,
    /// No padding: the output is in − k + 1.
    Valid,
}

/// The shape of one stride-1 convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub cin: usize,
    pub cout: usize,
    /// Kernel side (odd).
    pub k: usize,
    pub padding: Padding,
}

impl Conv2d {
    /// Zeros added on each side.
    pub fn pad(&self) -> usize {
        match self.padding {
            Padding::Same => (self.k - 1) / 2,
            Padding::Valid => 0,
        }
    }
    pub fn out_h(&self) -> usize {
        self.h + 2 * self.pad() + 1 - self.k
    }
    pub fn out_w(&self) -> usize {
        self.w + 2 * self.pad() + 1 - self.k
    }
    /// Output pixels over the batch: the rows of y seen as a matrix.
    pub fn rows(&self) -> usize {
        self.batch * self.out_h() * self.out_w()
    }
    /// Elements of x, y and W.
    pub fn x_len(&self) -> usize {
        self.batch * self.h * self.w * self.cin
    }
    pub fn y_len(&self) -> usize {
        self.rows() * self.cout
    }
    pub fn w_len(&self) -> usize {
        self.k * self.k * self.cin * self.cout
    }
    /// Multiply-adds of the implicit GEMM (taps in the padding included)
    /// count twice; the same for every pass.
    pub fn flops(&self) -> f64 {
        2.0 * self.rows() as f64 * (self.k * self.k * self.cin) as f64 * self.cout as f64
    }

    fn check(&self) {
        assert!(
            self.k % 2 == 1,
            "conv2d: kernel size must be odd, got {self:?}"
        );
        assert!(
            self.batch >= 1 && self.cin >= 1 && self.cout >= 1,
            "conv2d: empty shape {self:?}"
        );
        assert!(
            self.h + 2 * self.pad() >= self.k && self.w + 2 * self.pad() >= self.k,
            "conv2d: image smaller than the kernel: {self:?}"
        );
    }
}

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "conv2d_subgroup_x4.wgsl",
        include_str!("../../shaders/conv2d_subgroup_x4.wgsl"),
    ),
    (
        "conv2d_subgroup_x8.wgsl",
        include_str!("../../shaders/conv2d_subgroup_x8.wgsl"),
    ),
    (
        "conv2d_subgroup_x16.wgsl",
        include_str!("../../shaders/conv2d_subgroup_x16.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x4.wgsl",
        include_str!("../../shaders/conv2d_subgroup_ragged_x4.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x8.wgsl",
        include_str!("../../shaders/conv2d_subgroup_ragged_x8.wgsl"),
    ),
    (
        "conv2d_subgroup_ragged_x16.wgsl",
        include_str!("../../shaders/conv2d_subgroup_ragged_x16.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x4.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_x4.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x8.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_x8.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_x16.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_x16.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x4.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_ragged_x4.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x8.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_ragged_x8.wgsl"),
    ),
    (
        "conv2d_weight_subgroup_ragged_x16.wgsl",
        include_str!("../../shaders/conv2d_weight_subgroup_ragged_x16.wgsl"),
    ),
    ("conv2d_tiled.wgsl", TILED_WGSL),
    ("conv2d_reduce.wgsl", REDUCE_WGSL),
    ("conv2d_narrow.wgsl", NARROW_WGSL),
    ("conv2d_transpose_w.wgsl", TRANSPOSE_WGSL),
];

const TILED_WGSL: &str = include_str!("../../shaders/conv2d_tiled.wgsl");
const REDUCE_WGSL: &str = include_str!("../../shaders/conv2d_reduce.wgsl");
const NARROW_WGSL: &str = include_str!("../../shaders/conv2d_narrow.wgsl");
const TRANSPOSE_WGSL: &str = include_str!("../../shaders/conv2d_transpose_w.wgsl");

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
    ks: u32,
    sh: u32,
    sw: u32,
    sc: u32,
    dh: u32,
    dw: u32,
    sgn: i32,
    off: i32,
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
    forward_variant(gpu, y, x, w, b, shape, act, Variant::best(gpu))
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

/// dx = conv_transpose(dy, W) (the gradient with respect to x of Σ y⊙dy for
/// the pre-activation y), overwritten, in one dispatch with the fastest
/// variant here. [`backward_input_program`] is up to 1.5x faster on the CPU.
///
/// # Shapes
/// dy (batch, oh, ow, cout), W (k, k, cin, cout) from its view's offset,
/// dx (batch, h, w, cin).
pub fn backward_input(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    w: View,
    shape: Conv2d,
) -> Result<Dispatch, GpuError> {
    let mut prog = backward_input_impl(gpu, dx, dy, w, shape, Variant::best(gpu), false)?;
    Ok(prog.dispatches.remove(0))
}

/// [`backward_input`] as a program: where the vec4 subgroup kernel applies it
/// first copies W with its channel axes swapped into a scratch buffer, so the
/// GEMM reads W as the forward does (15.5 vs 10.5 GFLOP/s on lavapipe for the
/// 30x30x112 layer); elsewhere it is the single dispatch of [`backward_input`].
pub fn backward_input_program(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    w: View,
    shape: Conv2d,
) -> Result<Program, GpuError> {
    backward_input_variant(gpu, dx, dy, w, shape, Variant::best(gpu))
}

/// [`backward_input_program`] with a chosen variant, for tests and benchmarks.
pub fn backward_input_variant(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    w: View,
    shape: Conv2d,
    variant: Variant,
) -> Result<Program, GpuError> {
    backward_input_impl(gpu, dx, dy, w, shape, variant, true)
}

/// Builds backward input; `transpose` allows the two-dispatch form.
fn backward_input_impl(
    gpu: &Gpu,
    dx: &Tensor,
    dy: &Tensor,
    w: View,
    shape: Conv2d,
    variant: Variant,
    transpose: bool,
) -> Result<Program, GpuError> {
    shape.check();
    check_len("backward_input", "dy", dy.len, 0, shape.y_len());
    check_len("backward_input", "dx", dx.len, 0, shape.x_len());
    check_len("backward_input", "W", w.tensor.len, w.offset, shape.w_len());
    if variant == Variant::Subgroup
        && conv2d_direct::applies(Pass::BackwardInput, &shape, &[w.offset])
    {
        let mut prog = Program::default();
        prog.push(conv2d_direct::backward_input(gpu, dx, dy, w, shape)?);
        return Ok(prog);
    }
    let params = Params {
        m: (shape.batch * shape.h * shape.w) as u32,
        k: (shape.k * shape.k * shape.cout) as u32,
        n: shape.cin as u32,
        w_off: w.offset as u32,
        sh: shape.out_h() as u32,
        sw: shape.out_w() as u32,
        sc: shape.cout as u32,
        dh: shape.h as u32,
        dw: shape.w as u32,
        // dx[y] collects dy[y − ky + pad]: the flipped kernel.
        sgn: -1,
        off: shape.pad() as i32,
        ..common(shape)
    };
    let aligned =
        shape.cin.is_multiple_of(4) && shape.cout.is_multiple_of(4) && w.offset.is_multiple_of(4);
    let mut prog = Program::default();
    if transpose && variant == Variant::Subgroup && aligned {
        // The vec4 kernel runs fastest on the forward's B layout: transpose
        // W's channel axes into a scratch copy first (~0.1 % of the work),
        // then run PASS 0 on it (no bias: binding 2 is never read).
        let wt = gpu.zeros("conv2d backward_input W transposed", shape.w_len())?;
        prog.push(transpose_w(gpu, &wt, w, shape)?);
        let params = Params { w_off: 0, ..params };
        prog.push(gemm(gpu, params, [dy, &wt, &wt, dx], 0, aligned, variant)?);
        return Ok(prog);
    }
    // No bias: W's tensor stands in for binding 2, which is never read.
    prog.push(gemm(
        gpu,
        params,
        [dy, w.tensor, w.tensor, dx],
        1,
        aligned,
        variant,
    )?);
    Ok(prog)
}

/// wt (k, k, cout, cin) = W (k, k, cin, cout) with its channel axes swapped.
fn transpose_w(gpu: &Gpu, wt: &Tensor, w: View, shape: Conv2d) -> Result<Dispatch, GpuError> {
    let spec = KernelSpec::new(
        "conv2d_transpose_w",
        TRANSPOSE_WGSL,
        &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
    );
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(
        "conv2d transpose_w params",
        &TransposeParams {
            len: shape.w_len() as u32,
            cin: shape.cin as u32,
            cout: shape.cout as u32,
            w_off: w.offset as u32,
        },
    );
    // The bind group keeps `wt` alive after the caller drops its handle.
    let group = kernel.bind(
        gpu,
        &[w.tensor.binding(), wt.binding(), params.as_entire_binding()],
    );
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(shape.w_len(), 64)),
        params: Some(params),
    })
}

/// dW[(ky,kx,ci), co] = Σ_{n,oy,ox} x[n, oy+ky−pad, ox+kx−pad, ci]·dy[n,oy,ox,co],
/// overwritten, with the fastest variant here. The bias gradient is
/// [`bias_grad`].
///
/// # Shapes
/// dy (batch, oh, ow, cout), x (batch, h, w, cin), dW (k, k, cin, cout) from
/// its view's offset.
pub fn backward_weight(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    shape: Conv2d,
) -> Result<Program, GpuError> {
    backward_weight_variant(gpu, dw, dy, x, shape, Variant::best(gpu))
}

/// [`backward_weight`] with a chosen variant, for tests and benchmarks.
pub fn backward_weight_variant(
    gpu: &Gpu,
    dw: View,
    dy: &Tensor,
    x: &Tensor,
    shape: Conv2d,
    variant: Variant,
) -> Result<Program, GpuError> {
    shape.check();
    check_variant(gpu, variant);
    check_len("backward_weight", "dy", dy.len, 0, shape.y_len());
    check_len("backward_weight", "x", x.len, 0, shape.x_len());
    check_len(
        "backward_weight",
        "dW",
        dw.tensor.len,
        dw.offset,
        shape.w_len(),
    );
    if variant == Variant::Subgroup
        && conv2d_direct::applies(Pass::BackwardWeight, &shape, &[dw.offset])
    {
        return conv2d_direct::backward_weight(gpu, dw, dy, x, shape);
    }
    let (m, k, n) = (shape.k * shape.k * shape.cin, shape.rows(), shape.cout);
    // The reduction over pixels is long and C small: split it until the
    // machine has enough independent tiles, keeping each split long enough
    // that the partial sums cost little to reduce. On the CPU also short
    // enough that its slice of x and dy stays in cache while all tiles of
    // the split read it (otherwise every tile streams all of x and dy from
    // memory: 3.6x slower on the 30x30x112 layer).
    let narrow = variant == Variant::Subgroup && n == 1 && shape.cin.is_multiple_of(4);
    let (tiles_mn, target, min_chunk) = match variant {
        Variant::Subgroup if narrow => (m / 4, 64usize * 64, 512),
        Variant::Subgroup => (
            m.div_ceil(SG_ROWS) * n.div_ceil(4 * gpu.info.subgroup_min_size as usize),
            64,
            512,
        ),
        Variant::Tiled => (m.div_ceil(TILE) * n.div_ceil(TILE), 256, 1024),
    };
    let max_splits = k.div_ceil(min_chunk).max(1);
    let want = target.div_ceil(tiles_mn).clamp(1, max_splits);
    let mut chunk = k.div_ceil(want).next_multiple_of(4);
    if variant == Variant::Subgroup {
        chunk = chunk.min(CACHE_WORDS / (shape.cin + n)).max(min_chunk);
    }
    let splits = k.div_ceil(chunk);
    let mut params = Params {
        m: m as u32,
        k: k as u32,
        n: n as u32,
        chunk: chunk as u32,
        sh: shape.h as u32,
        sw: shape.w as u32,
        sc: shape.cin as u32,
        dh: shape.out_h() as u32,
        dw: shape.out_w() as u32,
        sgn: 1,
        off: -(shape.pad() as i32),
        ..common(shape)
    };
    let scratch;
    let out: &Tensor = if splits > 1 {
        scratch = gpu.zeros("conv2d dW partials", splits * m * n)?;
        &scratch
    } else {
        params.c_off = dw.offset as u32;
        dw.tensor
    };
    let (spec, workgroups) = match variant {
        Variant::Subgroup if narrow => {
            let spec = KernelSpec::new("conv2d_narrow", NARROW_WGSL, BINDINGS).entry("weight");
            (spec, groups_2d(groups(tiles_mn * splits, 64)))
        }
        Variant::Subgroup => {
            let aligned = shape.cin.is_multiple_of(4)
                && n.is_multiple_of(4)
                && params.c_off.is_multiple_of(4);
            let stem = if aligned {
                "conv2d_weight_subgroup"
            } else {
                "conv2d_weight_subgroup_ragged"
            };
            let (spec, cols, per_wg) = lanes_spec(gpu, stem);
            params.tiles_n = n.div_ceil(cols) as u32;
            params.tiles = (tiles_mn * splits) as u32;
            (spec, groups_2d(groups(tiles_mn * splits, per_wg)))
        }
        Variant::Tiled => {
            let spec = KernelSpec::new("conv2d_tiled", TILED_WGSL, BINDINGS).constant("PASS", 2.0);
            (spec, [groups(n, TILE), groups(m, TILE), splits as u32])
        }
    };
    let mut prog = Program::default();
    prog.push(bind(
        gpu,
        &spec,
        "conv2d backward_weight params",
        &params,
        // conv2d_narrow reads dy through its scalar binding 2.
        if narrow {
            [x, x, dy, out]
        } else {
            [x, dy, x, out]
        },
        workgroups,
    )?);
    if splits > 1 {
        let spec = KernelSpec::new(
            "conv2d_reduce",
            REDUCE_WGSL,
            &[Binding::ReadOnly, Binding::ReadWrite, Binding::Uniform],
        );
        let kernel = gpu.kernel(&spec)?;
        let rp = gpu.uniform(
            "conv2d reduce params",
            &ReduceParams {
                len: (m * n) as u32,
                splits: splits as u32,
                out_off: dw.offset as u32,
                _pad: 0,
            },
        );
        // The bind group keeps the partial-sum buffer alive after `scratch`
        // is dropped here.
        let group = kernel.bind(
            gpu,
            &[out.binding(), dw.tensor.binding(), rp.as_entire_binding()],
        );
        prog.push(Dispatch {
            kernel,
            group,
            workgroups: groups_2d(groups(m * n, 64)),
            params: Some(rp),
        });
    }
    Ok(prog)
}

/// db[co] = Σ_{n,oy,ox} dy[n,oy,ox,co], overwritten.
///
/// # Shapes
/// dy (batch, oh, ow, cout), db (cout) from its view's offset.
pub fn bias_grad(gpu: &Gpu, db: View, dy: &Tensor, shape: Conv2d) -> Result<Dispatch, GpuError> {
    check_len("bias_grad", "dy", dy.len, 0, shape.y_len());
    crate::kernels::matmul::bias_grad(gpu, db, dy.view(), shape.rows(), shape.cout)
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
    let params_buf = gpu.uniform(label, params);
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

fn check_variant(gpu: &Gpu, variant: Variant) {
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
