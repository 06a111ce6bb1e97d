//! Every part of a plan held to the device's limits as it is recorded, so
//! that a model that does not fit fails when its plan is built, naming the
//! layer (or the step), the kernel, what it needs and the limit.

use crate::gpu::{Gpu, GpuError, Program};

use super::GpuModel;

/// Records one part of a plan (`record` pushes its dispatches onto `p`),
/// then holds the dispatches it added to the device's workgroup counts (see
/// `Dispatch::check`). A limit error, from those or from building one of
/// their kernels (workgroup size and memory, storage buffers: see
/// `Kernel::build`), is named by `site`.
pub(super) fn checked(
    gpu: &Gpu,
    p: &mut Program,
    site: impl FnOnce() -> String,
    record: impl FnOnce(&mut Program) -> Result<(), GpuError>,
) -> Result<(), GpuError> {
    let start = p.dispatches.len();
    record(p)
        .and_then(|()| p.dispatches[start..].iter().try_for_each(|d| d.check(gpu)))
        .map_err(|e| e.at(site))
}

/// How a limit error names layer `i` of the model in `pass`: `model sp-mlp,
/// layer 2 (dense_1), forward`.
pub(super) fn layer(m: &GpuModel, i: usize, pass: &str) -> String {
    format!(
        "model {}, layer {i} ({}), {pass}",
        m.spec.name, m.resolved.names[i]
    )
}

/// How a limit error names a step of the model's plan that is no layer's:
/// `model sp-mlp, loss`.
pub(super) fn step(m: &GpuModel, what: &str) -> String {
    format!("model {}, {what}", m.spec.name)
}
