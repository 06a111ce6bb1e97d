//! BatchNorm over the feature axis: training forward (batch statistics and
//! the running-average update), inference forward and backward. For images
//! in NHWC the same kernels normalise over channels with rows = batch·h·w.
//!
//! Keras semantics: `y = (x - mean) / sqrt(var + eps) * gamma + beta` with the
//! biased batch variance, and `running = momentum·running + (1 - momentum)·batch`
//! for both the mean and that same biased variance (Keras defaults: momentum
//! 0.99, eps 1e-3).
//!
//! # Shapes
//! x, y, dy, dx: (rows, features) row-major. gamma, beta, running_mean,
//! running_var: (features) views into the flat parameter buffer; dgamma,
//! dbeta: (features) views into the flat gradient buffer. mean, rstd:
//! (features), written by `forward_train` and read by `backward`.
//!
//! # Dispatch plan
//! The reductions split the rows into chunks of R rows: a partial pass (one
//! invocation per (chunk, feature), neighbouring invocations on neighbouring
//! features so loads coalesce), a finish pass (one workgroup per feature),
//! then an elementwise pass over the same (chunk, feature) grid. R is picked
//! per adapter by [`Chunking::for_gpu`]: on CPU drivers a few thousand long-running
//! invocations are plenty and per-invocation work is what counts; GPUs want
//! tens of thousands of short ones. [`Chunking`] holds both choices; the
//! `*_chunked` launchers take it explicitly so tests cover both variants on
//! any adapter.

use crate::gpu::{groups, groups_2d, Binding, Gpu, KernelSpec, View};

mod backward;
mod forward;
pub use backward::{backward, backward_chunked};
pub use forward::{forward_infer, forward_train, forward_train_chunked, Epilogue};

/// Keras' default momentum: the weight of the old running statistics.
pub const MOMENTUM: f32 = 0.99;
/// Keras' default epsilon, added to the variance before its square root.
pub const EPS: f32 = 1e-3;

/// Workgroup size of every batchnorm shader.
const WG: usize = 64;

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    ("batchnorm_forward_partial.wgsl", FORWARD_PARTIAL.1),
    (
        "batchnorm_forward_partial_vec4.wgsl",
        FORWARD_PARTIAL_VEC4.1,
    ),
    ("batchnorm_forward_finish.wgsl", FORWARD_FINISH),
    ("batchnorm_forward_normalize.wgsl", NORMALIZE.1),
    ("batchnorm_forward_normalize_vec4.wgsl", NORMALIZE_VEC4.1),
    ("batchnorm_backward_partial.wgsl", BACKWARD_PARTIAL.1),
    (
        "batchnorm_backward_partial_vec4.wgsl",
        BACKWARD_PARTIAL_VEC4.1,
    ),
    ("batchnorm_backward_finish.wgsl", BACKWARD_FINISH),
    ("batchnorm_backward_dx.wgsl", BACKWARD_DX.1),
    ("batchnorm_backward_dx_vec4.wgsl", BACKWARD_DX_VEC4.1),
];

type Source = (&'static str, &'static str);
const FORWARD_PARTIAL: Source = (
    "batchnorm_forward_partial",
    include_str!("../../../shaders/batchnorm_forward_partial.wgsl"),
);
const FORWARD_PARTIAL_VEC4: Source = (
    "batchnorm_forward_partial_vec4",
    include_str!("../../../shaders/batchnorm_forward_partial_vec4.wgsl"),
);
const FORWARD_FINISH: &str = include_str!("../../../shaders/batchnorm_forward_finish.wgsl");
const NORMALIZE: Source = (
    "batchnorm_forward_normalize",
    include_str!("../../../shaders/batchnorm_forward_normalize.wgsl"),
);
const NORMALIZE_VEC4: Source = (
    "batchnorm_forward_normalize_vec4",
    include_str!("../../../shaders/batchnorm_forward_normalize_vec4.wgsl"),
);
const BACKWARD_PARTIAL: Source = (
    "batchnorm_backward_partial",
    include_str!("../../../shaders/batchnorm_backward_partial.wgsl"),
);
const BACKWARD_PARTIAL_VEC4: Source = (
    "batchnorm_backward_partial_vec4",
    include_str!("../../../shaders/batchnorm_backward_partial_vec4.wgsl"),
);
const BACKWARD_FINISH: &str = include_str!("../../../shaders/batchnorm_backward_finish.wgsl");
const BACKWARD_DX: Source = (
    "batchnorm_backward_dx",
    include_str!("../../../shaders/batchnorm_backward_dx.wgsl"),
);
const BACKWARD_DX_VEC4: Source = (
    "batchnorm_backward_dx_vec4",
    include_str!("../../../shaders/batchnorm_backward_dx_vec4.wgsl"),
);

/// The scalar or vec4 variant of a streaming pass with `n_bindings` bindings:
/// read-only inputs, then one output, then the params uniform.
fn streaming_spec(c: Chunking, scalar: Source, vec4: Source, n_bindings: usize) -> KernelSpec {
    let (name, src) = if c.vec4 { vec4 } else { scalar };
    let mut b = vec![Binding::ReadOnly; n_bindings];
    b[n_bindings - 2] = Binding::ReadWrite;
    b[n_bindings - 1] = Binding::Uniform;
    KernelSpec::new(name, src, &b)
}

/// How the rows are split into chunks for one (rows, features) problem,
/// and which variants of the passes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunking {
    /// Rows each chunk's partial sums cover.
    pub rows_per_chunk: usize,
    /// Number of chunks: rows / rows_per_chunk, rounded up.
    pub chunks: usize,
    /// One workgroup per feature reducing in workgroup memory (GPUs with
    /// many chunks), instead of one invocation per feature looping over
    /// every chunk (CPU drivers, where barriers are expensive).
    pub tree_finish: bool,
    /// Four features per invocation through vec4 loads (needs features and
    /// every view offset to be multiples of 4).
    pub vec4: bool,
}

impl Chunking {
    /// The variant for this adapter; vec4 where `aligned` (features and every
    /// view offset multiples of 4) allows it.
    pub fn for_gpu(gpu: &Gpu, rows: usize, features: usize, aligned: bool) -> Chunking {
        if gpu.is_cpu() {
            Chunking::cpu(rows, features, aligned)
        } else {
            Chunking::gpu(rows, features, aligned)
        }
    }

    /// CPU drivers: about 2,048 long-running invocations (a few per SIMD
    /// lane of each core) and a serial finish.
    pub fn cpu(rows: usize, features: usize, vec4: bool) -> Chunking {
        Chunking::split(rows, features, 2048, 1, vec4)
    }

    /// GPUs: about 65,536 invocations of at least 8 rows each; a tree finish
    /// once there are more chunks than a workgroup has invocations.
    pub fn gpu(rows: usize, features: usize, vec4: bool) -> Chunking {
        let c = Chunking::split(rows, features, 65_536, 8, vec4);
        Chunking {
            tree_finish: c.chunks > 64,
            ..c
        }
    }

    fn split(
        rows: usize,
        features: usize,
        target_invocations: usize,
        min_rows: usize,
        vec4: bool,
    ) -> Chunking {
        let vec4 = vec4 && features.is_multiple_of(4);
        let lanes = if vec4 { features / 4 } else { features };
        let chunks_wanted = target_invocations.div_ceil(lanes.max(1)).max(1);
        let r = rows.div_ceil(chunks_wanted).max(min_rows).min(rows.max(1));
        Chunking {
            rows_per_chunk: r,
            chunks: rows.div_ceil(r),
            tree_finish: false,
            vec4,
        }
    }

    /// Invocations per chunk in the streaming passes.
    fn lanes(&self, features: usize) -> usize {
        if self.vec4 {
            features / 4
        } else {
            features
        }
    }

    /// A word offset in the units the chosen variant indexes by.
    fn unit(&self, offset: usize) -> u32 {
        if self.vec4 {
            (offset / 4) as u32
        } else {
            offset as u32
        }
    }
}

/// Whether the vec4 variants can address every view: features and all
/// offsets multiples of 4 words (parameter offsets are multiples of 64).
fn aligned(features: usize, views: &[View]) -> bool {
    features.is_multiple_of(4) && views.iter().all(|v| v.offset.is_multiple_of(4))
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GridParams {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
}
const _: () = assert!(std::mem::size_of::<GridParams>() == 16);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ForwardFinishParams {
    grid: GridParams,
    off_running_mean: u32,
    off_running_var: u32,
    momentum: f32,
    eps: f32,
}
const _: () = assert!(std::mem::size_of::<ForwardFinishParams>() == 32);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormalizeParams {
    grid: GridParams,
    mode: u32,
    off_a: u32,
    off_b: u32,
    off_gamma: u32,
    off_beta: u32,
    eps: f32,
    act_kind: u32,
    act_alpha: f32,
    has_drop: u32,
    drop_stream: u32,
    drop_rate: f32,
    drop_scale: f32,
}
const _: () = assert!(std::mem::size_of::<NormalizeParams>() == 64);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BackwardFinishParams {
    grid: GridParams,
    off_dgamma: u32,
    off_dbeta: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<BackwardFinishParams>() == 32);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DxParams {
    grid: GridParams,
    off_gamma: u32,
    off_dgamma: u32,
    off_dbeta: u32,
    slope_kind: u32,
    slope_alpha: f32,
    _pad: [u32; 3],
}
const _: () = assert!(std::mem::size_of::<DxParams>() == 48);

fn check(what: &str, len: usize, offset: usize, needed: usize) {
    assert!(
        offset + needed <= len,
        "batchnorm: {what} needs words {offset}..{} but its buffer holds {len}",
        offset + needed
    );
}

fn grid(c: Chunking, rows: usize, features: usize, views: &[View]) -> (GridParams, [u32; 3]) {
    assert!(
        rows >= 1 && features >= 1,
        "batchnorm: empty input ({rows} rows x {features} features)"
    );
    assert!(
        c.rows_per_chunk >= 1 && c.chunks == rows.div_ceil(c.rows_per_chunk),
        "batchnorm: {c:?} does not split {rows} rows"
    );
    assert!(
        !c.vec4 || aligned(features, views),
        "batchnorm: the vec4 variant needs features and view offsets that are multiples of 4"
    );
    let p = GridParams {
        rows: rows as u32,
        features: features as u32,
        rows_per_chunk: c.rows_per_chunk as u32,
        chunks: c.chunks as u32,
    };
    (p, groups_2d(groups(c.chunks * c.lanes(features), WG)))
}

/// The finish pass's entry point and grid: a workgroup per feature for the
/// tree reduction, an invocation per feature for the serial one.
fn finish_variant(spec: KernelSpec, c: Chunking, features: usize) -> (KernelSpec, [u32; 3]) {
    if c.tree_finish {
        (spec, groups_2d(features as u32))
    } else {
        (spec.entry("serial"), groups_2d(groups(features, WG)))
    }
}
