//! The GPU runtime: adapter and device selection, buffers, the pipeline cache
//! and the dispatch records that the scheduler replays every step.
//!
//! Every kernel binds its tensors in group 0 (read-only storage, read-write
//! storage, then one `Params` uniform last) and, when it needs per-step values
//! (batch offset, seed, Adam's step), the shared step uniform in group 1 at a
//! dynamic offset. Per-step values therefore never need a host round-trip.

mod buffers;
mod choices;
mod context;
mod describe;
mod kernel;
pub mod limits;
mod mesa_cache;
mod precompile;
mod timestamps;

pub use buffers::{Readback, Tensor, View, STEP_STRIDE};
pub use context::{Gpu, GpuError};
pub use kernel::{step_offset, Binding, Dispatch, Kernel, KernelSpec, Program};
pub use limits::{LimitError, Needs};
pub use precompile::Precompiled;
pub use timestamps::{elapsed_ns, DispatchTimer, HostReason, TimestampMode, Timing, TimingChoice};

/// Values that change from one training step to the next. The scheduler writes
/// one per step into the step buffer (256-byte stride, read with a dynamic
/// offset) before the epoch starts; kernels read it as `var<storage, read> s: Step`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable, PartialEq)]
pub struct StepInfo {
    /// Global step counter (seeds dropout and noise together with `seed`).
    pub step: u32,
    /// First row of this batch in the epoch's shuffled index buffer.
    pub batch_start: u32,
    /// Run seed mixed with the step into every random draw.
    pub seed: u32,
    /// Rows of the batch that hold real samples (the rest are padding and
    /// are excluded from losses and metrics).
    pub valid_rows: u32,
    /// Learning rate for this step.
    pub lr: f32,
    /// Adam's first-moment bias correction for this step: 1 - beta1^t.
    pub bias_correction1: f32,
    /// Adam's second-moment bias correction for this step: 1 - beta2^t.
    pub bias_correction2: f32,
    /// Zero; pads the struct to 32 bytes.
    pub _pad: u32,
}
const _: () = assert!(std::mem::size_of::<StepInfo>() == 32);

/// The WGSL declaration matching [`StepInfo`], for shaders that read it.
pub const STEP_WGSL: &str = "struct Step {
    step: u32,
    batch_start: u32,
    seed: u32,
    valid_rows: u32,
    lr: f32,
    bias_correction1: f32,
    bias_correction2: f32,
    _pad: u32,
}";

/// Number of workgroups of `size` invocations needed to cover `n` items.
pub fn groups(n: usize, size: usize) -> u32 {
    n.div_ceil(size) as u32
}

/// Splits a 1-D workgroup count over x and y so that neither exceeds the
/// 65,535 limit; shaders rebuild the linear index as `id.x + id.y * nx * wg`.
pub fn groups_2d(total_groups: u32) -> [u32; 3] {
    const MAX: u32 = 65_535;
    if total_groups <= MAX {
        [total_groups.max(1), 1, 1]
    } else {
        let y = total_groups.div_ceil(MAX);
        [total_groups.div_ceil(y), y, 1]
    }
}
