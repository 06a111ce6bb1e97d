//! Losses with their gradients fused in (MSE, BCE on sigmoid outputs,
//! softmax cross-entropy), and argmax accuracy.
//!
//! Every kernel here reads `valid_rows` from the step uniform: rows at or
//! beyond it are padding of the last batch and get zero loss, zero gradient
//! and zero correctness, and gradients are normalised by `valid_rows`, so the
//! batch loss is `Σ_r row_loss[r] / valid_rows` (sum `row_loss` with
//! `reduce::sum_into`).

use crate::gpu::{groups, groups_2d, Binding, Dispatch, Gpu, GpuError, KernelSpec, Tensor};
use crate::kernels::activation::Activation;

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[
    ("loss_mse.wgsl", include_str!("../../shaders/loss_mse.wgsl")),
    ("loss_bce.wgsl", include_str!("../../shaders/loss_bce.wgsl")),
    (
        "loss_softmax_xent.wgsl",
        include_str!("../../shaders/loss_softmax_xent.wgsl"),
    ),
    ("accuracy.wgsl", include_str!("../../shaders/accuracy.wgsl")),
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    /// loss_mse.wgsl: the code and alpha of the activation whose slope the
    /// gradient is multiplied by ([`Activation::code`]); 0 elsewhere.
    slope_kind: u32,
    slope_alpha: f32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

fn check(what: &str, rows: usize, cols: usize, matrices: &[&Tensor], vectors: &[&Tensor]) {
    for t in matrices {
        assert!(
            t.len >= rows * cols,
            "{what}: ({rows}, {cols}) but a matrix has {} elements",
            t.len
        );
    }
    for t in vectors {
        assert!(
            t.len >= rows,
            "{what}: {rows} rows but a per-row vector has {} elements",
            t.len
        );
    }
}

/// One kernel launch: `inputs` then `outputs` bound in order, `Params` last.
/// `per_row_workgroup` dispatches one workgroup per row, else one invocation
/// per row in workgroups of 64.
#[allow(clippy::too_many_arguments)]
fn launch(
    gpu: &Gpu,
    name: &'static str,
    source: &'static str,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    rows: usize,
    cols: usize,
    per_row_workgroup: bool,
    slope: Activation,
) -> Result<Dispatch, GpuError> {
    let mut layout = vec![Binding::ReadOnly; inputs.len()];
    layout.extend(std::iter::repeat_n(Binding::ReadWrite, outputs.len()));
    layout.push(Binding::Uniform);
    let spec = KernelSpec::new(name, source, &layout).with_step();
    let kernel = gpu.kernel(&spec)?;
    let (slope_kind, slope_alpha) = slope.code();
    let params = Params {
        rows: rows as u32,
        cols: cols as u32,
        slope_kind,
        slope_alpha,
    };
    let params = gpu.uniform(name, &params);
    let mut resources: Vec<wgpu::BindingResource> =
        inputs.iter().chain(outputs).map(|t| t.binding()).collect();
    resources.push(params.as_entire_binding());
    let group = kernel.bind(gpu, &resources);
    let workgroups = if per_row_workgroup {
        groups_2d(rows as u32)
    } else {
        groups_2d(groups(rows, 64))
    };
    Ok(Dispatch {
        kernel,
        group,
        workgroups,
        params: Some(params),
    })
}

/// Mean squared error: `row_loss[r] = mean_c (pred − target)²` and
/// `dpred = 2·(pred − target) / (valid_rows·cols)`; padding rows get 0.
///
/// # Shapes
/// pred, target, dpred: (rows, cols); row_loss: (rows). Both outputs are
/// overwritten; dpred may not alias pred or target.
pub fn mse(
    gpu: &Gpu,
    dpred: &Tensor,
    row_loss: &Tensor,
    pred: &Tensor,
    target: &Tensor,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    mse_slope(
        gpu,
        dpred,
        row_loss,
        pred,
        target,
        rows,
        cols,
        Activation::Identity,
    )
}

/// [`mse`] with the gradient multiplied by the slope of `slope` at `pred`
/// (the output of the layer that applied it): the pre-activation gradient of
/// the last layer, bit for bit [`mse`] followed by
/// [`activation::backward`](crate::kernels::activation::backward), in one
/// pass.
#[allow(clippy::too_many_arguments)]
pub fn mse_slope(
    gpu: &Gpu,
    dpred: &Tensor,
    row_loss: &Tensor,
    pred: &Tensor,
    target: &Tensor,
    rows: usize,
    cols: usize,
    slope: Activation,
) -> Result<Dispatch, GpuError> {
    check("loss::mse", rows, cols, &[dpred, pred, target], &[row_loss]);
    launch(
        gpu,
        "loss_mse",
        include_str!("../../shaders/loss_mse.wgsl"),
        &[pred, target],
        &[dpred, row_loss],
        rows,
        cols,
        true,
        slope,
    )
}

/// Binary cross-entropy on the output of a sigmoid layer, Keras semantics:
/// `row_loss[r] = mean_c −(t·ln p̂ + (1−t)·ln(1−p̂))` with p̂ = p clipped to
/// [1e-7, 1 − 1e-7], and the gradient with respect to the LOGITS (the
/// sigmoid's input), `dlogits = (p − t) / (valid_rows·cols)`, so the sigmoid
/// layer's own backward is skipped. Padding rows get 0.
///
/// # Shapes
/// probs (= sigmoid(logits)), target, dlogits: (rows, cols); row_loss: (rows).
/// Both outputs are overwritten; dlogits may not alias probs or target.
pub fn bce(
    gpu: &Gpu,
    dlogits: &Tensor,
    row_loss: &Tensor,
    probs: &Tensor,
    target: &Tensor,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    check(
        "loss::bce",
        rows,
        cols,
        &[dlogits, probs, target],
        &[row_loss],
    );
    launch(
        gpu,
        "loss_bce",
        include_str!("../../shaders/loss_bce.wgsl"),
        &[probs, target],
        &[dlogits, row_loss],
        rows,
        cols,
        true,
        Activation::Identity,
    )
}

/// Softmax cross-entropy over integer labels, fused: writes
/// `probs = softmax(logits)` (every row), `row_loss = −ln(max(p[label], 1e-7))`,
/// `dlogits = (probs − onehot(label)) / valid_rows` and `row_correct = 1.0`
/// where the first argmax of the logits is the label. Padding rows get 0 loss,
/// gradient and correctness.
///
/// # Shapes
/// logits, probs, dlogits: (rows, classes); labels: (rows) u32; row_loss,
/// row_correct: (rows). All outputs are overwritten.
#[allow(clippy::too_many_arguments)]
pub fn softmax_xent(
    gpu: &Gpu,
    dlogits: &Tensor,
    row_loss: &Tensor,
    row_correct: &Tensor,
    probs: &Tensor,
    logits: &Tensor,
    labels: &Tensor,
    rows: usize,
    classes: usize,
) -> Result<Dispatch, GpuError> {
    check(
        "loss::softmax_xent",
        rows,
        classes,
        &[dlogits, probs, logits],
        &[row_loss, row_correct, labels],
    );
    launch(
        gpu,
        "loss_softmax_xent",
        include_str!("../../shaders/loss_softmax_xent.wgsl"),
        &[logits, labels],
        &[probs, dlogits, row_loss, row_correct],
        rows,
        classes,
        false,
        Activation::Identity,
    )
}

/// `row_correct[r] = 1.0` where the first argmax of `scores[r, :]` equals
/// `labels[r]`, else 0.0; padding rows get 0.0.
///
/// # Shapes
/// scores: (rows, cols); labels: (rows) u32; row_correct: (rows), overwritten.
pub fn accuracy(
    gpu: &Gpu,
    row_correct: &Tensor,
    scores: &Tensor,
    labels: &Tensor,
    rows: usize,
    cols: usize,
) -> Result<Dispatch, GpuError> {
    check(
        "loss::accuracy",
        rows,
        cols,
        &[scores],
        &[row_correct, labels],
    );
    launch(
        gpu,
        "accuracy",
        include_str!("../../shaders/accuracy.wgsl"),
        &[scores, labels],
        &[row_correct],
        rows,
        cols,
        false,
        Activation::Identity,
    )
}
