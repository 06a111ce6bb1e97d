//! The step plan: every buffer, pipeline and bind group of a training step
//! and of an evaluation step, built once per run.
//!
//! A training step, as recorded:
//! gather → noise → forward (training mode) → loss + gradient → reduce the
//! per-row losses into the epoch sums → backward → L2 → optimizer.
//! An evaluation step: gather (test split) → noise → forward (inference
//! mode) → loss → reduce. Per-step values come from the step uniform.

mod batchnorm;
mod buffers;
mod conv;
mod dense;
mod elementwise;
mod fuse;
mod limits;
mod loss;
mod optimizer;
mod pool;
mod step;

pub use buffers::Buffers;
pub(crate) use fuse::subpixel_at;
pub use loss::{input_program, loss_program};
pub use step::StepPlan;

use crate::data::gpu::GpuDataset;
use crate::gpu::{Dispatch, Gpu, GpuError, Program, Tensor};
use crate::kernels::activation::{self, Activation};
use crate::kernels::batchnorm::Epilogue;
use crate::kernels::dropout;
use crate::kernels::reduce;
use crate::nn::params::ParamLayout;
use crate::nn::{Act, Layer, LayerSpec, ModelSpec, Resolved};
use crate::optim::Optimizer;

/// Metric slots of the accumulator buffer: the sum of the training
/// samples' losses over the epoch.
pub const TRAIN_LOSS: usize = 0;
/// The number of training samples classified correctly.
pub const TRAIN_CORRECT: usize = 1;
/// The sum of the test samples' losses.
pub const TEST_LOSS: usize = 2;
/// The number of test samples classified correctly.
pub const TEST_CORRECT: usize = 3;
/// Divergence flags (1.0 once set; cleared only with the sums): a
/// non-finite model output or per-row loss in a training step, a non-finite
/// parameter or running statistic (checked when the sums are read: a NaN
/// parameter stays NaN through every later update, so one check per
/// checkpoint sees every one a per-step check would, for a 40th of the
/// cost), a non-finite test output or loss.
pub const TRAIN_NONFINITE: usize = 4;
/// Set when a parameter or running statistic is non-finite (see
/// [`TRAIN_NONFINITE`]).
pub const PARAMS_NONFINITE: usize = 5;
/// Set when a test output or loss is non-finite (see [`TRAIN_NONFINITE`]).
pub const TEST_NONFINITE: usize = 6;
/// Slots of the accumulator buffer (one spare keeps it 32 bytes).
pub const METRIC_SLOTS: usize = 8;

/// Random streams: 0 for input noise, 1 + layer index for dropout.
const NOISE_STREAM: u32 = 0;
/// Random streams of noise layers: this + layer index.
const NOISE_LAYER_STREAM: u32 = 1 << 16;

/// The model's state on the GPU: one flat buffer of parameters, the
/// gradients and optimizer state of its trainable prefix.
pub struct GpuModel {
    /// The spec it was built from.
    pub spec: ModelSpec,
    /// Every layer's name and shapes.
    pub resolved: Resolved,
    /// Where each tensor lives in `params`.
    pub layout: ParamLayout,
    /// Every parameter and running statistic, laid out per `layout`.
    pub params: Tensor,
    /// Gradients of the trainable prefix `[0, layout.trainable_len)`.
    pub grads: Tensor,
    /// Adam's m and v, or SGD's velocity.
    pub opt_state: Vec<Tensor>,
}

impl GpuModel {
    /// Uploads `init` (laid out per the spec's [`ParamLayout`]) for a spec that
    /// [resolves](ModelSpec::resolve) against `classes`, with zero gradients and
    /// optimizer state.
    pub fn new(
        gpu: &Gpu,
        spec: ModelSpec,
        classes: usize,
        init: &[f32],
    ) -> Result<GpuModel, String> {
        let resolved = spec.resolve(classes)?;
        Self::with_resolved(gpu, spec, resolved, init)
    }

    /// A model whose output is checked against no loss (part of a model).
    pub fn with_resolved(
        gpu: &Gpu,
        spec: ModelSpec,
        resolved: Resolved,
        init: &[f32],
    ) -> Result<GpuModel, String> {
        let layout = ParamLayout::new(&spec, &resolved);
        if init.len() != layout.total_len {
            return Err(format!(
                "parameter buffer of {} words does not match the layout's {}",
                init.len(),
                layout.total_len
            ));
        }
        let e = |e: GpuError| e.to_string();
        let params = gpu.upload_f32("parameters", init).map_err(e)?;
        let grads = gpu.zeros("gradients", layout.trainable_len).map_err(e)?;
        let n_state = match spec.optimizer {
            Optimizer::Adam { .. } => 2,
            // SGD always binds a velocity buffer, even without momentum.
            Optimizer::Sgd { .. } => 1,
        };
        let opt_state = (0..n_state)
            .map(|i| gpu.zeros(&format!("optimizer state {i}"), layout.trainable_len))
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)?;
        Ok(GpuModel {
            spec,
            resolved,
            layout,
            params,
            grads,
            opt_state,
        })
    }
}

/// Which pass a program is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Training: noise layers on; trainable Dropout and BatchNorm layers in
    /// training mode (BatchNorm on the batch's statistics, updating the
    /// running ones). Frozen ones run as in inference, as Keras does.
    Train,
    /// Inference: noise layers and Dropout are the identity, BatchNorm uses
    /// its running statistics. The input corruption of
    /// [`ModelSpec::noise`] is the caller's, not a layer's.
    Eval,
}

/// One layer as a pass sees it: the model, the batch's buffers, the
/// layer's index and spec, its input and output, and the output's length.
struct Site<'a> {
    gpu: &'a Gpu,
    m: &'a GpuModel,
    b: &'a Buffers,
    i: usize,
    l: &'a LayerSpec,
    x: &'a Tensor,
    y: &'a Tensor,
    n_out: usize,
}

impl<'a> Site<'a> {
    /// The gradient before this layer's fused activation: `dy` through the
    /// activation's backward into the layer's `dz` buffer, or `dy` itself
    /// when there is no activation or the loss already differentiated
    /// through it (`fused`).
    fn pre_activation_grad(
        &self,
        p: &mut Program,
        dy: &'a Tensor,
        act: Act,
        fused: bool,
    ) -> Result<&'a Tensor, GpuError> {
        match (&self.b.dz[self.i], fused) {
            // The pooling after this layer wrote dz in its backward pass.
            (Some(dz), false)
                if fuse::slope_by_next(self.gpu, self.m, self.b.batch, self.i).is_some() =>
            {
                Ok(dz)
            }
            (Some(dz), false) => {
                p.push(activation::backward(
                    self.gpu,
                    dz,
                    dy,
                    self.y,
                    self.n_out,
                    act.kernel(),
                )?);
                Ok(dz)
            }
            _ => Ok(dy),
        }
    }

    /// `y = x` (a layer that is the identity in this mode).
    fn identity_forward(&self) -> Result<Dispatch, GpuError> {
        activation::forward(self.gpu, self.y, self.x, self.n_out, Activation::Identity)
    }

    /// `dx = dy` (the gradient of an identity), if `dx` is needed.
    fn identity_backward(
        &self,
        p: &mut Program,
        dy: &Tensor,
        dx: Option<&Tensor>,
    ) -> Result<(), GpuError> {
        if let Some(dx) = dx {
            p.push(activation::backward(
                self.gpu,
                dx,
                dy,
                self.y,
                self.n_out,
                Activation::Identity,
            )?);
        }
        Ok(())
    }
}

/// The forward pass of every layer, in training or inference mode.
/// The forward pass. With `fuse`, a BatchNorm followed by a Dropout and an
/// Activation runs as one pass (see the `fuse` module) and the outputs of the layers
/// it absorbs are not written; without, every layer writes its output.
pub fn forward_program(
    gpu: &Gpu,
    m: &GpuModel,
    b: &Buffers,
    mode: Mode,
    fuse: bool,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    let r = &m.resolved;
    let batch = b.batch;
    let mut skip_to = 0;
    // The sub-pixel form of the convolution after UpSample i.
    let sub = |i: usize| fuse.then(|| fuse::subpixel(gpu, m, batch, i)).flatten();
    for (i, l) in m.spec.layers.iter().enumerate() {
        if i < skip_to {
            continue;
        }
        let x = if i == 0 { &b.x_in } else { &b.acts[i - 1] };
        let y = &b.acts[i];
        let n_out = batch * r.outputs[i].size();
        let s = Site {
            gpu,
            m,
            b,
            i,
            l,
            x,
            y,
            n_out,
        };
        limits::checked(
            gpu,
            &mut p,
            || limits::layer(m, i, "forward"),
            |p| {
                let d: Dispatch = match &l.layer {
                    Layer::Dense { units, act, .. } => dense::forward(&s, *units, *act)?,
                    Layer::BatchNorm { momentum, eps } => {
                        let fused = fuse
                            .then(|| fuse::batchnorm_epilogue(&m.spec, i, mode))
                            .flatten();
                        let (last, epi) = fused.unwrap_or((i, Epilogue::NONE));
                        let s = Site {
                            y: &b.acts[last],
                            ..s
                        };
                        batchnorm::forward(p, &s, mode, *momentum, *eps, epi)?;
                        skip_to = last + 1;
                        return Ok(());
                    }
                    Layer::Dropout { rate } => elementwise::dropout_forward(&s, mode, *rate)?,
                    Layer::Activation(a) => elementwise::activation_forward(&s, *a)?,
                    Layer::Conv2d { act, .. } => match i.checked_sub(1).and_then(sub) {
                        Some(sp) => {
                            let x = if i == 1 { &b.x_in } else { &b.acts[i - 2] };
                            p.extend(conv::forward_subpixel(&Site { x, ..s }, *act, sp)?);
                            return Ok(());
                        }
                        None => conv::forward(&s, *act)?,
                    },
                    Layer::MaxPool { .. } => pool::maxpool_forward(&s)?,
                    // Absorbed by the convolution after it.
                    Layer::UpSample { .. } if sub(i).is_some() => return Ok(()),
                    Layer::UpSample { factor } => pool::upsample_forward(&s, *factor)?,
                    Layer::Flatten | Layer::Reshape { .. } => return Ok(()),
                    Layer::Noise(n) => elementwise::noise_forward(&s, mode, *n)?,
                };
                p.push(d);
                Ok(())
            },
        )?;
    }
    Ok(p)
}

/// The backward pass from the loss gradient in `dacts[last]`, then L2 and
/// the optimizer update.
pub fn backward_program(gpu: &Gpu, m: &GpuModel, b: &Buffers) -> Result<Program, GpuError> {
    let mut p = Program::default();
    let r = &m.resolved;
    let batch = b.batch;
    let layers = &m.spec.layers;
    // A layer needs its input gradient only if something before it trains.
    let has_params = |l: &Layer| l.has_params();
    let trains_before: Vec<bool> = (0..layers.len())
        .map(|i| {
            layers[..i]
                .iter()
                .any(|l| l.trainable && has_params(&l.layer))
        })
        .collect();
    let mut skip_next = false;
    for i in (0..layers.len()).rev() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let l = &layers[i];
        if !(trains_before[i] || l.trainable && has_params(&l.layer)) {
            break;
        }
        let x = if i == 0 { &b.x_in } else { &b.acts[i - 1] };
        let y = &b.acts[i];
        let dy = &b.dacts[i];
        let dx = if i > 0 && trains_before[i] {
            Some(&b.dacts[i - 1])
        } else {
            None
        };
        let n_out = batch * r.outputs[i].size();
        let s = Site {
            gpu,
            m,
            b,
            i,
            l,
            x,
            y,
            n_out,
        };
        limits::checked(
            gpu,
            &mut p,
            || limits::layer(m, i, "backward"),
            |p| {
                match &l.layer {
                    Layer::Dense { units, act, .. } => {
                        dense::backward(p, &s, dy, dx, *units, *act)?
                    }
                    Layer::BatchNorm { .. } => batchnorm::backward(p, &s, dy, dx)?,
                    Layer::Dropout { rate } => elementwise::dropout_backward(p, &s, dy, dx, *rate)?,
                    Layer::Activation(a) => match fuse::dropout_before(&m.spec, i) {
                        Some((rate, stream)) if i >= 2 && trains_before[i - 1] => {
                            // The Dropout's backward runs here, into its own dx.
                            p.push(dropout::backward_with_activation(
                                gpu,
                                &b.dacts[i - 2],
                                dy,
                                y,
                                n_out,
                                rate,
                                stream,
                                a.kernel(),
                            )?);
                            skip_next = true;
                        }
                        _ => elementwise::activation_backward(p, &s, dy, dx, *a)?,
                    },
                    Layer::Conv2d { act, .. } => {
                        match i
                            .checked_sub(1)
                            .and_then(|u| fuse::subpixel(gpu, m, batch, u))
                        {
                            Some(sp) => {
                                // The UpSample's input and input gradient.
                                let u = i - 1;
                                let x = if u == 0 { &b.x_in } else { &b.acts[u - 1] };
                                let dx = (u > 0 && trains_before[u]).then(|| &b.dacts[u - 1]);
                                conv::backward_subpixel(p, &Site { x, ..s }, dy, dx, *act, sp)?;
                                skip_next = true;
                            }
                            None => conv::backward(p, &s, dy, dx, *act)?,
                        }
                    }
                    Layer::MaxPool { .. } => pool::maxpool_backward(p, &s, dy, dx)?,
                    Layer::UpSample { factor } => pool::upsample_backward(p, &s, dy, dx, *factor)?,
                    // Views: the input gradient is the output gradient's buffer.
                    Layer::Flatten | Layer::Reshape { .. } => {}
                    // Additive noise passes the gradient straight through.
                    Layer::Noise(_) => elementwise::noise_backward(p, &s, dy, dx)?,
                }
                Ok(())
            },
        )?;
    }
    // Keras l2(f) on each trainable Dense kernel: g += 2·f·w.
    limits::checked(
        gpu,
        &mut p,
        || limits::step(m, "L2 penalty"),
        |p| optimizer::l2(p, gpu, m),
    )?;
    limits::checked(
        gpu,
        &mut p,
        || limits::step(m, "optimizer update"),
        |p| optimizer::update(p, gpu, m),
    )?;
    Ok(p)
}
