//! Max-pooling (Keras semantics, 'same' or 'valid' padding) and
//! nearest-neighbour upsampling by an integer factor, forward and backward.
//!
//! # Shapes
//! Images are NHWC, row-major: x (batch, h, w, c). Max-pooling writes
//! y (batch, out_h, out_w, c) and, for backward, the flat index into x of each
//! window's winner as u32 (the first maximum in window row-major order).
//! Upsampling by f writes y (batch, h·f, w·f, c).
//!
//! Every pass has a scalar shader and a vec4 one (four channels per
//! invocation) picked when c % 4 == 0: lavapipe is bound by the number of
//! storage loads, and a vec4 load costs about what a scalar one does.

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};

mod backward;
pub use backward::{
    maxpool_backward, maxpool_backward_slope, upsample_backward, upsample_backward_slope,
};

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    MAXPOOL_FORWARD,
    MAXPOOL_FORWARD_VEC4,
    MAXPOOL_BACKWARD,
    MAXPOOL_BACKWARD_VEC4,
    MAXPOOL_BACKWARD_WINDOW,
    MAXPOOL_BACKWARD_WINDOW_VEC4,
    UPSAMPLE_FORWARD,
    UPSAMPLE_FORWARD_VEC4,
    UPSAMPLE_BACKWARD,
    UPSAMPLE_BACKWARD_VEC4,
];

type Source = (&'static str, &'static str);

const MAXPOOL_FORWARD: Source = (
    "maxpool_forward.wgsl",
    include_str!("../../../shaders/maxpool_forward.wgsl"),
);
const MAXPOOL_FORWARD_VEC4: Source = (
    "maxpool_forward_vec4.wgsl",
    include_str!("../../../shaders/maxpool_forward_vec4.wgsl"),
);
const MAXPOOL_BACKWARD: Source = (
    "maxpool_backward.wgsl",
    include_str!("../../../shaders/maxpool_backward.wgsl"),
);
const MAXPOOL_BACKWARD_VEC4: Source = (
    "maxpool_backward_vec4.wgsl",
    include_str!("../../../shaders/maxpool_backward_vec4.wgsl"),
);
const MAXPOOL_BACKWARD_WINDOW: Source = (
    "maxpool_backward_window.wgsl",
    include_str!("../../../shaders/maxpool_backward_window.wgsl"),
);
const MAXPOOL_BACKWARD_WINDOW_VEC4: Source = (
    "maxpool_backward_window_vec4.wgsl",
    include_str!("../../../shaders/maxpool_backward_window_vec4.wgsl"),
);
const UPSAMPLE_FORWARD: Source = (
    "upsample_forward.wgsl",
    include_str!("../../../shaders/upsample_forward.wgsl"),
);
const UPSAMPLE_FORWARD_VEC4: Source = (
    "upsample_forward_vec4.wgsl",
    include_str!("../../../shaders/upsample_forward_vec4.wgsl"),
);
const UPSAMPLE_BACKWARD: Source = (
    "upsample_backward.wgsl",
    include_str!("../../../shaders/upsample_backward.wgsl"),
);
const UPSAMPLE_BACKWARD_VEC4: Source = (
    "upsample_backward_vec4.wgsl",
    include_str!("../../../shaders/upsample_backward_vec4.wgsl"),
);

/// Invocations per workgroup in every shader of this module.
const WG: usize = 64;

/// Keras' pooling paddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolPadding {
    /// out = ceil(in / stride); the overflow is padded (half before, rounded
    /// down, the rest after, as TensorFlow does) with values that never win.
    Same,
    /// out = floor((in − pool) / stride) + 1; trailing rows that fill no
    /// window are dropped. Needs in >= pool.
    Valid,
}

/// A 2-D max-pooling over NHWC images, square window `pool`, step `stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Images per batch.
    pub batch: usize,
    /// Input height in pixels.
    pub h: usize,
    /// Input width in pixels.
    pub w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Side of the square window in pixels.
    pub pool: usize,
    /// Step between windows in pixels.
    pub stride: usize,
    /// How windows past the border are treated.
    pub padding: PoolPadding,
}

impl Pool2d {
    fn out_len(&self, n: usize) -> usize {
        match self.padding {
            PoolPadding::Same => n.div_ceil(self.stride),
            PoolPadding::Valid => n.saturating_sub(self.pool) / self.stride + 1,
        }
    }

    /// Padding rows (or columns) before the image: TensorFlow puts half of
    /// the total, rounded down, first.
    fn pad_before(&self, n: usize) -> usize {
        match self.padding {
            PoolPadding::Same => {
                ((self.out_len(n) - 1) * self.stride + self.pool).saturating_sub(n) / 2
            }
            PoolPadding::Valid => 0,
        }
    }

    /// Output height in pixels.
    pub fn out_h(&self) -> usize {
        self.out_len(self.h)
    }

    /// Output width in pixels.
    pub fn out_w(&self) -> usize {
        self.out_len(self.w)
    }

    /// Padding rows above the image ('same' only; 0 for p = s = 2).
    pub fn pad_top(&self) -> usize {
        self.pad_before(self.h)
    }

    /// Padding columns left of the image ('same' only; 0 for p = s = 2).
    pub fn pad_left(&self) -> usize {
        self.pad_before(self.w)
    }

    /// Elements of x (and dx).
    pub fn in_len(&self) -> usize {
        self.batch * self.h * self.w * self.c
    }

    /// Elements of y, dy and argmax.
    pub fn out_elems(&self) -> usize {
        self.batch * self.out_h() * self.out_w() * self.c
    }

    /// Panics with the shape when it cannot be pooled.
    pub fn check(&self) {
        assert!(
            self.pool >= 1 && self.stride >= 1,
            "maxpool {self:?}: pool and stride must be >= 1"
        );
        assert!(
            self.batch * self.h * self.w * self.c >= 1,
            "maxpool {self:?}: empty input"
        );
        if self.padding == PoolPadding::Valid {
            assert!(
                self.h >= self.pool && self.w >= self.pool,
                "maxpool {self:?}: 'valid' padding needs h and w >= pool"
            );
        }
        // Every window must hold at least one image position.
        assert!(
            self.pad_top() < self.pool && self.pad_left() < self.pool,
            "maxpool {self:?}: padding leaves an empty window"
        );
        assert!(
            self.in_len() < u32::MAX as usize,
            "maxpool {self:?}: more than 2^32 elements"
        );
    }
}

/// Nearest-neighbour upsampling of NHWC images by an integer `factor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upsample {
    /// Images per batch.
    pub batch: usize,
    /// Input height in pixels.
    pub h: usize,
    /// Input width in pixels.
    pub w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Each pixel becomes a factor × factor block.
    pub factor: usize,
}

impl Upsample {
    /// Output height in pixels: h · factor.
    pub fn out_h(&self) -> usize {
        self.h * self.factor
    }

    /// Output width in pixels: w · factor.
    pub fn out_w(&self) -> usize {
        self.w * self.factor
    }

    /// Elements of x (and dx).
    pub fn in_len(&self) -> usize {
        self.batch * self.h * self.w * self.c
    }

    /// Elements of y (and dy).
    pub fn out_elems(&self) -> usize {
        self.in_len() * self.factor * self.factor
    }

    /// Panics with the shape when it cannot be upsampled.
    pub fn check(&self) {
        assert!(self.factor >= 1, "upsample {self:?}: factor must be >= 1");
        assert!(self.in_len() >= 1, "upsample {self:?}: empty input");
        assert!(
            self.out_elems() < u32::MAX as usize,
            "upsample {self:?}: more than 2^32 elements"
        );
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    pool: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    n: u32,
    // The backward passes' slope epilogue (see backward.rs); the forward
    // passes read only the fields above.
    slope_kind: u32,
    slope_alpha: f32,
    _pad: [u32; 3],
}
const _: () = assert!(std::mem::size_of::<PoolParams>() == 64);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UpsampleParams {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,
    factor: u32,
    n: u32,
    slope_kind: u32,
    slope_alpha: f32,
}
const _: () = assert!(std::mem::size_of::<UpsampleParams>() == 32);

/// Channels per invocation: 4 where c allows vec4 access, else 1.
fn lanes(c: usize) -> usize {
    if c.is_multiple_of(4) {
        4
    } else {
        1
    }
}

/// Builds one dispatch of `n` invocations over `tensors` bound in order, then
/// the params uniform.
fn build<P: bytemuck::Pod>(
    gpu: &Gpu,
    name: &'static str,
    source: Source,
    n_in: usize,
    tensors: &[&Tensor],
    params: &P,
    n: usize,
) -> Result<Dispatch, GpuError> {
    build_with(gpu, name, source, n_in, tensors, params, n, None)
}

/// [`build`] with, for the backward passes, one more read-only tensor bound
/// after the params (the slope epilogue's y) and SLOPE set to whether it is
/// used.
#[allow(clippy::too_many_arguments)]
fn build_with<P: bytemuck::Pod>(
    gpu: &Gpu,
    name: &'static str,
    source: Source,
    n_in: usize,
    tensors: &[&Tensor],
    params: &P,
    n: usize,
    slope: Option<(&Tensor, bool)>,
) -> Result<Dispatch, GpuError> {
    let mut bindings = vec![Binding::ReadOnly; n_in];
    bindings.resize(tensors.len(), Binding::ReadWrite);
    bindings.push(Binding::Uniform);
    let mut spec = KernelSpec::new(name, source.1, &bindings);
    if let Some((_, on)) = slope {
        spec.bindings.push(Binding::ReadOnly);
        spec = spec.constant("SLOPE", on as u32 as f64);
    }
    let kernel = gpu.kernel(&spec)?;
    let params = gpu.uniform(name, params);
    let mut resources: Vec<wgpu::BindingResource> = tensors.iter().map(|t| t.binding()).collect();
    resources.push(params.as_entire_binding());
    if let Some((y, _)) = slope {
        resources.push(y.binding());
    }
    let group = kernel.bind(gpu, &resources);
    Ok(Dispatch {
        kernel,
        group,
        workgroups: groups_2d(groups(n, WG)),
        params: Some(params),
    })
}

fn pool_params(s: &Pool2d, lanes: usize, n: usize) -> PoolParams {
    PoolParams {
        batch: s.batch as u32,
        h: s.h as u32,
        w: s.w as u32,
        c: (s.c / lanes) as u32,
        oh: s.out_h() as u32,
        ow: s.out_w() as u32,
        pool: s.pool as u32,
        stride: s.stride as u32,
        pad_top: s.pad_top() as u32,
        pad_left: s.pad_left() as u32,
        n: n as u32,
        slope_kind: 0,
        slope_alpha: 0.0,
        _pad: [0; 3],
    }
}

fn upsample_params(s: &Upsample, lanes: usize) -> UpsampleParams {
    UpsampleParams {
        batch: s.batch as u32,
        h: s.h as u32,
        w: s.w as u32,
        c: (s.c / lanes) as u32,
        factor: s.factor as u32,
        n: (s.in_len() / lanes) as u32,
        slope_kind: 0,
        slope_alpha: 0.0,
    }
}

fn check_len(op: &str, what: &str, t: &Tensor, want: usize, shape: &dyn std::fmt::Debug) {
    assert!(
        t.len >= want,
        "{op} {shape:?}: {what} has {} elements, needs {want}",
        t.len
    );
}

/// Max-pooling forward: y = the maximum of each window, argmax = the flat
/// index into x of its first maximum (window row-major order), kept for
/// [`maxpool_backward`]. Padded positions never win.
///
/// # Shapes
/// x: (batch, h, w, c); y (f32), argmax (u32): (batch, out_h, out_w, c), both
/// overwritten.
pub fn maxpool_forward(
    gpu: &Gpu,
    y: &Tensor,
    argmax: &Tensor,
    x: &Tensor,
    shape: Pool2d,
) -> Result<Dispatch, GpuError> {
    shape.check();
    check_len("maxpool_forward", "x", x, shape.in_len(), &shape);
    check_len("maxpool_forward", "y", y, shape.out_elems(), &shape);
    check_len(
        "maxpool_forward",
        "argmax",
        argmax,
        shape.out_elems(),
        &shape,
    );
    let l = lanes(shape.c);
    let n = shape.out_elems() / l;
    let (name, src) = if l == 4 {
        ("maxpool_forward_vec4", MAXPOOL_FORWARD_VEC4)
    } else {
        ("maxpool_forward", MAXPOOL_FORWARD)
    };
    build(
        gpu,
        name,
        src,
        1,
        &[x, y, argmax],
        &pool_params(&shape, l, n),
        n,
    )
}

/// Nearest-neighbour upsampling forward: y[b, oy, ox, c] = x[b, oy/f, ox/f, c].
///
/// # Shapes
/// x: (batch, h, w, c); y: (batch, h·f, w·f, c), overwritten.
pub fn upsample_forward(
    gpu: &Gpu,
    y: &Tensor,
    x: &Tensor,
    shape: Upsample,
) -> Result<Dispatch, GpuError> {
    shape.check();
    check_len("upsample_forward", "x", x, shape.in_len(), &shape);
    check_len("upsample_forward", "y", y, shape.out_elems(), &shape);
    let l = lanes(shape.c);
    let (name, src) = if l == 4 {
        ("upsample_forward_vec4", UPSAMPLE_FORWARD_VEC4)
    } else {
        ("upsample_forward", UPSAMPLE_FORWARD)
    };
    let params = upsample_params(&shape, l);
    build(gpu, name, src, 1, &[x, y], &params, params.n as usize)
}
