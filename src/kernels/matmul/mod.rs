//! Matrix products C = act(op(A)·op(B) + bias) in three forms, so that the
//! backward pass of a dense layer needs no transposes, and the bias gradient.
//!
//! Dense layer y = x·W + b with W (in, out): forward is [`Form::NN`] with
//! m = batch; backward input dx = dy·Wᵀ is [`Form::NT`]; the weight gradient
//! dW = xᵀ·dy is [`Form::TN`] with k = batch; db = [`bias_grad`]`(dy)`.
//!
//! Four implementations sit behind [`matmul`] (see [`Variant`]): a
//! register-blocked kernel that shares A through `subgroupBroadcast`, for
//! CPU drivers such as lavapipe where workgroup memory and barriers are
//! slow, the classic workgroup-memory tiled kernel for real GPUs, and two
//! wider tilings of it with vec4 loads and double-buffered K slabs
//! ([`wide`]) that the tuner tries on each adapter.

mod bias_grad;
pub mod wide;

pub use bias_grad::{bias_grad, bias_grad_split};

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, View};
use crate::kernels::activation::Activation;

/// Which operands are transposed. All tensors are dense row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// C = A·B with A (m,k), B (k,n).
    NN,
    /// C = A·Bᵀ with A (m,k), B (n,k).
    NT,
    /// C = Aᵀ·B with A (k,m), B (k,n).
    TN,
}

impl Form {
    fn code(self) -> u32 {
        match self {
            Form::NN => 0,
            Form::NT => 1,
            Form::TN => 2,
        }
    }
}

/// The shape of one product: C is (m, n) and the sum runs over k.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Matmul {
    /// Rows of C.
    pub m: usize,
    /// The length of each dot product.
    pub k: usize,
    /// Columns of C.
    pub n: usize,
    /// Which operand is transposed, and so how A and B are laid out.
    pub form: Form,
    /// Applied to each element of C (after the bias, where there is one).
    pub act: Activation,
}

impl Matmul {
    /// Elements of A.
    pub fn a_len(&self) -> usize {
        self.m * self.k
    }
    /// Elements of B.
    pub fn b_len(&self) -> usize {
        self.k * self.n
    }
    /// Elements of C.
    pub fn c_len(&self) -> usize {
        self.m * self.n
    }
    /// Multiply-adds count twice.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// The kernel behind [`matmul`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Register-blocked: each invocation holds 32 rows × 4 columns of C in
    /// named vec4 registers; each lane of an S-wide subgroup loads 32 / S of
    /// the 32 rows of A and `subgroupBroadcast`s them to the rest. Generated
    /// for S = 4, 8 and 16 ([`SUBGROUP_LANES`]); needs an adapter whose
    /// subgroups have exactly one of these sizes. Fastest on lavapipe.
    Subgroup,
    /// 64×64 tiles of C per workgroup of 16×16, K staged through workgroup
    /// memory in slabs of 16. The standard choice on real GPUs.
    Tiled,
    /// 64×64 tiles of C per workgroup of 16×8; each invocation holds 8×4
    /// outputs in vec4 registers, loads vec4s, and K runs through two
    /// workgroup buffers of slabs of 8 (8 KiB). Matmul only; chosen only by
    /// tuning. See [`wide`].
    Tiled64,
    /// As [`Variant::Tiled64`] with 128×64 tiles per workgroup of 16×16
    /// (12 KiB of workgroup memory). Matmul only; chosen only by tuning.
    Tiled128x64,
}

impl Variant {
    /// Every variant, the fixed rule's two families first.
    pub const ALL: [Variant; 4] = [
        Variant::Subgroup,
        Variant::Tiled,
        Variant::Tiled64,
        Variant::Tiled128x64,
    ];

    /// What [`matmul`] uses on this adapter.
    pub fn best(gpu: &Gpu) -> Variant {
        if Variant::Subgroup.supported(gpu) && gpu.is_cpu() {
            Variant::Subgroup
        } else {
            Variant::Tiled
        }
    }

    /// Whether this adapter can run the variant.
    pub fn supported(self, gpu: &Gpu) -> bool {
        match self {
            Variant::Subgroup => {
                gpu.has_subgroups()
                    && gpu.info.subgroup_min_size == gpu.info.subgroup_max_size
                    && SUBGROUP_LANES.contains(&gpu.info.subgroup_min_size)
            }
            Variant::Tiled | Variant::Tiled64 | Variant::Tiled128x64 => true,
        }
    }

    /// Whether the convolutions have a kernel of this variant (the wide
    /// tiles are matmul-only).
    pub fn has_conv(self) -> bool {
        matches!(self, Variant::Subgroup | Variant::Tiled)
    }

    /// The name `dae check`, `dae info` and the tuning cache show.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Subgroup => "subgroup",
            Variant::Tiled => "tiled",
            Variant::Tiled64 => "tiled-64x64",
            Variant::Tiled128x64 => "tiled-128x64",
        }
    }
}

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "matmul_subgroup_x4.wgsl",
        include_str!("../../../shaders/matmul_subgroup_x4.wgsl"),
    ),
    (
        "matmul_subgroup_x8.wgsl",
        include_str!("../../../shaders/matmul_subgroup_x8.wgsl"),
    ),
    (
        "matmul_subgroup_x16.wgsl",
        include_str!("../../../shaders/matmul_subgroup_x16.wgsl"),
    ),
    (
        "matmul_subgroup_ragged_x4.wgsl",
        include_str!("../../../shaders/matmul_subgroup_ragged_x4.wgsl"),
    ),
    (
        "matmul_subgroup_ragged_x8.wgsl",
        include_str!("../../../shaders/matmul_subgroup_ragged_x8.wgsl"),
    ),
    (
        "matmul_subgroup_ragged_x16.wgsl",
        include_str!("../../../shaders/matmul_subgroup_ragged_x16.wgsl"),
    ),
    ("matmul_tiled.wgsl", TILED_WGSL),
    ("bias_grad.wgsl", BIAS_GRAD_WGSL),
    ("bias_grad_vec4.wgsl", BIAS_GRAD_VEC4_WGSL),
    wide::SHADERS[0],
    wide::SHADERS[1],
    wide::SHADERS[2],
    wide::SHADERS[3],
];

const TILED_WGSL: &str = include_str!("../../../shaders/matmul_tiled.wgsl");
const BIAS_GRAD_WGSL: &str = include_str!("../../../shaders/bias_grad.wgsl");
const BIAS_GRAD_VEC4_WGSL: &str = include_str!("../../../shaders/bias_grad_vec4.wgsl");

/// Subgroup sizes the subgroup kernels are generated for (by
/// `tools/gen_matmul.py` and `tools/gen_conv2d.py`).
pub const SUBGROUP_LANES: [u32; 3] = [4, 8, 16];
/// Rows of C one subgroup of the subgroup kernels computes; its columns are
/// 4 per lane.
const SG_ROWS: usize = 32;
/// Invocations per workgroup of the subgroup kernels.
const SG_WORKGROUP: usize = 64;

/// The generated file of a subgroup kernel family for this adapter's lane
/// count: `shaders` lists (name, source) of the whole module, `stem` is the
/// family (`matmul_subgroup`), the result `stem_xS.wgsl`'s entry.
pub(crate) fn lanes_file(
    shaders: &'static [(&'static str, &'static str)],
    stem: &str,
    lanes: u32,
) -> (&'static str, &'static str) {
    let want = format!("{stem}_x{lanes}.wgsl");
    let (name, src) = shaders
        .iter()
        .find(|(n, _)| *n == want)
        .unwrap_or_else(|| panic!("no generated kernel {want}"));
    (name.trim_end_matches(".wgsl"), src)
}
/// Side of the square C tile of one workgroup of the tiled kernel.
const TILE: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    act: u32,
    a_off: u32,
    b_off: u32,
    bias_off: u32,
    c_off: u32,
    has_bias: u32,
    alpha: f32,
    tiles_n: u32,
    tiles: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 48);

/// C = act(op(A)·op(B) + bias), overwritten, with the fastest variant for
/// this adapter.
///
/// # Shapes
/// NN: A (m,k), B (k,n). NT: A (m,k), B (n,k). TN: A (k,m), B (k,n).
/// C (m,n), bias (n). Each operand starts at its view's element offset.
pub fn matmul(
    gpu: &Gpu,
    c: View,
    a: View,
    b: View,
    bias: Option<View>,
    shape: Matmul,
) -> Result<Dispatch, GpuError> {
    let variant = Variant::choose(gpu, crate::kernels::choice::Op::Matmul(shape));
    matmul_variant(gpu, c, a, b, bias, shape, variant)
}

/// [`matmul`] with a chosen variant, for tests and benchmarks. Asking for
/// [`Variant::Subgroup`] on an adapter without 8-wide subgroups panics.
pub fn matmul_variant(
    gpu: &Gpu,
    c: View,
    a: View,
    b: View,
    bias: Option<View>,
    shape: Matmul,
    variant: Variant,
) -> Result<Dispatch, GpuError> {
    let Matmul { m, k, n, form, act } = shape;
    assert!(m >= 1 && k >= 1 && n >= 1, "matmul: empty shape {shape:?}");
    check_view("A", &a, shape.a_len());
    check_view("B", &b, shape.b_len());
    check_view("C", &c, shape.c_len());
    if let Some(bias) = &bias {
        check_view("bias", bias, n);
    }
    assert!(
        variant.supported(gpu),
        "matmul variant {variant:?} needs subgroups of one of {SUBGROUP_LANES:?} lanes; adapter has {}..{}",
        gpu.info.subgroup_min_size,
        gpu.info.subgroup_max_size
    );
    let (kind, alpha) = act.code();
    let mut params = Params {
        m: m as u32,
        k: k as u32,
        n: n as u32,
        act: kind,
        a_off: a.offset as u32,
        b_off: b.offset as u32,
        bias_off: bias.map_or(0, |v| v.offset as u32),
        c_off: c.offset as u32,
        has_bias: bias.is_some() as u32,
        alpha,
        tiles_n: 0,
        tiles: 0,
    };
    let aligned = vec4_aligned(shape, &a, &b, &c, bias.as_ref());
    let (spec, workgroups) = match variant {
        Variant::Subgroup => {
            let lanes = gpu.info.subgroup_min_size;
            let tiles_n = n.div_ceil(4 * lanes as usize);
            let tiles = m.div_ceil(SG_ROWS) * tiles_n;
            params.tiles_n = tiles_n as u32;
            params.tiles = tiles as u32;
            let stem = if aligned {
                "matmul_subgroup"
            } else {
                "matmul_subgroup_ragged"
            };
            let (name, src) = lanes_file(SHADERS, stem, lanes);
            let spec = KernelSpec::new(name, src, BINDINGS);
            let per_wg = SG_WORKGROUP / lanes as usize;
            (spec, groups_2d(groups(tiles, per_wg)))
        }
        Variant::Tiled => {
            let spec = KernelSpec::new("matmul_tiled", TILED_WGSL, BINDINGS);
            (spec, [groups(n, TILE), groups(m, TILE), 1])
        }
        Variant::Tiled64 | Variant::Tiled128x64 => wide::spec(variant, m, n, aligned),
    };
    let kernel = gpu.kernel(&spec.constant("FORM", form.code() as f64))?;
    let params_buf = gpu.uniform("matmul params", &params);
    // Without a bias the shader never reads binding 2; A stands in for it.
    let bias_tensor = bias.map_or(a.tensor, |v| v.tensor);
    let group = kernel.bind(
        gpu,
        &[
            a.tensor.binding(),
            b.tensor.binding(),
            bias_tensor.binding(),
            c.tensor.binding(),
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

/// Whether the vec4 kernels can take this product: they read whole vec4s,
/// so every row of every operand must start on a 4-element boundary.
fn vec4_aligned(shape: Matmul, a: &View, b: &View, c: &View, bias: Option<&View>) -> bool {
    let Matmul { m, k, n, form, .. } = shape;
    let rows = match form {
        Form::NN | Form::NT => k % 4 == 0 && n % 4 == 0,
        Form::TN => k % 4 == 0 && m % 4 == 0 && n % 4 == 0,
    };
    let offsets = [a.offset, b.offset, c.offset, bias.map_or(0, |v| v.offset)];
    rows && offsets.iter().all(|o| o % 4 == 0)
}

const BINDINGS: &[Binding] = &[
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadOnly,
    Binding::ReadWrite,
    Binding::Uniform,
];

fn check_view(what: &str, v: &View, len: usize) {
    assert!(
        v.offset + len <= v.tensor.len,
        "matmul: {what} needs {len} elements from offset {} but its tensor holds {}",
        v.offset,
        v.tensor.len
    );
    assert!(
        v.tensor.len <= u32::MAX as usize,
        "matmul: {what} is too large for 32-bit indexing"
    );
}
