//! The step plan: every buffer, pipeline and bind group of a training step
//! and of an evaluation step, built once per run.
//!
//! A training step, as recorded:
//! gather → noise → forward (training mode) → loss + gradient → reduce the
//! per-row losses into the epoch sums → backward → L2 → optimizer.
//! An evaluation step: gather (test split) → noise → forward (inference
//! mode) → loss → reduce. Per-step values come from the step uniform.

use crate::data::gpu::{GpuDataset, GpuSplit};
use crate::gpu::{Dispatch, Gpu, GpuError, Program, Tensor};
use crate::kernels::activation::{self, Activation};
use crate::kernels::conv2d::{self, Conv2d, Padding};
use crate::kernels::matmul::{self, Form, Matmul};
use crate::kernels::noise::Noise;
use crate::kernels::pool::{self, Pool2d, PoolPadding, Upsample};
use crate::kernels::{batchnorm, dropout, gather, loss, noise, reduce};
use crate::nn::params::{ParamLayout, Role};
use crate::nn::Shape;
use crate::nn::{Act, Layer, Loss, ModelSpec, Resolved};
use crate::optim::{self, Optimizer};

/// Metric slots of the accumulator buffer.
pub const TRAIN_LOSS: usize = 0;
pub const TRAIN_CORRECT: usize = 1;
pub const TEST_LOSS: usize = 2;
pub const TEST_CORRECT: usize = 3;
/// Divergence flags (1.0 once set; cleared only with the sums): a
/// non-finite model output or per-row loss in a training step, a non-finite
/// parameter after a training step's update, a non-finite test output or loss.
pub const TRAIN_NONFINITE: usize = 4;
pub const PARAMS_NONFINITE: usize = 5;
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
    pub spec: ModelSpec,
    pub resolved: Resolved,
    pub layout: ParamLayout,
    pub params: Tensor,
    pub grads: Tensor,
    /// Adam's m and v, or SGD's velocity.
    pub opt_state: Vec<Tensor>,
}

impl GpuModel {
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

/// Activations and scratch of one batch size.
pub struct Buffers {
    pub batch: usize,
    pub x_clean: Tensor,
    pub x_in: Tensor,
    pub labels: Tensor,
    /// Output of each layer.
    pub acts: Vec<Tensor>,
    /// Gradient with respect to each layer's output.
    pub dacts: Vec<Tensor>,
    /// Gradient before a Dense layer's fused activation.
    pub dz: Vec<Option<Tensor>>,
    /// BatchNorm's saved batch mean and 1/std, per layer.
    pub bn_saved: Vec<Option<(Tensor, Tensor)>>,
    /// Max-pooling's winning input index per output, per layer.
    pub argmax: Vec<Option<Tensor>>,
    pub row_loss: Tensor,
    pub row_correct: Tensor,
    /// Softmax probabilities of a classifier's output.
    pub probs: Tensor,
    /// Gradient sink for frozen BatchNorm layers' gamma and beta.
    pub scratch: Tensor,
    /// Input-gradient sink for a BatchNorm layer that nothing before needs.
    pub sink: Tensor,
}

impl Buffers {
    pub fn new(gpu: &Gpu, model: &GpuModel, batch: usize) -> Result<Buffers, GpuError> {
        let inp = model.spec.input.size();
        let r = &model.resolved;
        let mut acts: Vec<Tensor> = Vec::new();
        let mut dacts: Vec<Tensor> = Vec::new();
        let mut dz = Vec::new();
        let mut bn_saved = Vec::new();
        let mut argmax = Vec::new();
        let x_in = gpu.zeros("noisy batch", batch * inp)?;
        let d_in = gpu.zeros("input gradient", batch * inp)?;
        for (i, l) in model.spec.layers.iter().enumerate() {
            let n = batch * r.outputs[i].size();
            if l.layer.is_view() {
                // Flatten and Reshape: the same buffer under another shape.
                acts.push(if i == 0 {
                    x_in.clone()
                } else {
                    acts[i - 1].clone()
                });
                dacts.push(if i == 0 {
                    d_in.clone()
                } else {
                    dacts[i - 1].clone()
                });
            } else {
                acts.push(gpu.zeros(&format!("{} output", r.names[i]), n)?);
                dacts.push(gpu.zeros(&format!("{} output gradient", r.names[i]), n)?);
            }
            dz.push(match &l.layer {
                Layer::Dense { act, .. } | Layer::Conv2d { act, .. }
                    if act.kernel() != Activation::Identity =>
                {
                    Some(gpu.zeros(&format!("{} pre-activation gradient", r.names[i]), n)?)
                }
                _ => None,
            });
            argmax.push(match &l.layer {
                Layer::MaxPool { .. } => Some(gpu.zeros(&format!("{} argmax", r.names[i]), n)?),
                _ => None,
            });
            bn_saved.push(match &l.layer {
                Layer::BatchNorm { .. } => {
                    let c = r.inputs[i].c;
                    Some((
                        gpu.zeros(&format!("{} batch mean", r.names[i]), c)?,
                        gpu.zeros(&format!("{} batch rstd", r.names[i]), c)?,
                    ))
                }
                _ => None,
            });
        }
        let widest = r.inputs.iter().map(|s| s.c).max().unwrap_or(1);
        let largest = r.inputs.iter().map(|s| s.size()).max().unwrap_or(1);
        let out = r.outputs.last().map(|s| s.size()).unwrap_or(1);
        Ok(Buffers {
            batch,
            x_clean: gpu.zeros("clean batch", batch * inp)?,
            x_in,
            labels: gpu.zeros("batch labels", batch)?,
            acts,
            dacts,
            dz,
            bn_saved,
            argmax,
            row_loss: gpu.zeros("per-row loss", batch)?,
            row_correct: gpu.zeros("per-row correct", batch)?,
            probs: gpu.zeros("probabilities", batch * out)?,
            scratch: gpu.zeros("frozen gradient sink", 2 * widest)?,
            sink: gpu.zeros("input gradient sink", batch * largest)?,
        })
    }

    /// The output of the whole model.
    pub fn output(&self) -> &Tensor {
        self.acts.last().expect("a model has layers")
    }
}

/// Which pass a program is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Train,
    Eval,
}

/// gather + noise: fills `b.x_clean`, `b.labels` and `b.x_in`.
pub fn input_program(
    gpu: &Gpu,
    b: &Buffers,
    split: &GpuSplit,
    indices: &Tensor,
    features: usize,
    noise: Noise,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    p.push(gather::gather(
        gpu,
        &b.x_clean,
        &b.labels,
        &split.images,
        &split.labels,
        indices,
        indices.len,
        b.batch,
        features,
    )?);
    p.push(noise::apply(
        gpu,
        &b.x_in,
        &b.x_clean,
        b.batch * features,
        noise,
        NOISE_STREAM,
    )?);
    Ok(p)
}

/// The forward pass of every layer, in training or inference mode.
pub fn forward_program(
    gpu: &Gpu,
    m: &GpuModel,
    b: &Buffers,
    mode: Mode,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    let r = &m.resolved;
    let batch = b.batch;
    for (i, l) in m.spec.layers.iter().enumerate() {
        let x = if i == 0 { &b.x_in } else { &b.acts[i - 1] };
        let y = &b.acts[i];
        let n_out = batch * r.outputs[i].size();
        let d: Dispatch = match &l.layer {
            Layer::Dense { units, act, .. } => matmul::matmul(
                gpu,
                y.view(),
                x.view(),
                m.params.at(m.layout.offset(i, Role::Kernel)),
                Some(m.params.at(m.layout.offset(i, Role::Bias))),
                Matmul {
                    m: batch,
                    k: r.inputs[i].size(),
                    n: *units,
                    form: Form::NN,
                    act: act.kernel(),
                },
            )?,
            Layer::BatchNorm { momentum, eps } => {
                let rows = batch * r.inputs[i].h * r.inputs[i].w;
                let c = r.inputs[i].c;
                let gamma = m.params.at(m.layout.offset(i, Role::Gamma));
                let beta = m.params.at(m.layout.offset(i, Role::Beta));
                let rm = m.params.at(m.layout.offset(i, Role::MovingMean));
                let rv = m.params.at(m.layout.offset(i, Role::MovingVariance));
                // Keras runs a frozen BatchNorm in inference mode.
                if mode == Mode::Train && l.trainable {
                    let (mean, rstd) = b.bn_saved[i].as_ref().expect("BatchNorm buffers");
                    p.extend(batchnorm::forward_train(
                        gpu, y, mean, rstd, rm, rv, x, gamma, beta, rows, c, *momentum, *eps,
                    )?);
                } else {
                    p.extend(batchnorm::forward_infer(
                        gpu, y, x, gamma, beta, rm, rv, rows, c, *eps,
                    )?);
                }
                continue;
            }
            Layer::Dropout { rate } => {
                // A frozen (encoder) dropout runs in inference mode, as the
                // studies' encoders did when they computed codes.
                if mode == Mode::Train && l.trainable {
                    dropout::forward(gpu, y, x, n_out, *rate, 1 + i as u32)?
                } else {
                    activation::forward(gpu, y, x, n_out, Activation::Identity)?
                }
            }
            Layer::Activation(a) => activation::forward(gpu, y, x, n_out, a.kernel())?,
            Layer::Conv2d { act, .. } => conv2d::forward(
                gpu,
                y,
                x,
                m.params.at(m.layout.offset(i, Role::Kernel)),
                m.params.at(m.layout.offset(i, Role::Bias)),
                conv_shape(&l.layer, r.inputs[i], batch),
                act.kernel(),
            )?,
            Layer::MaxPool { .. } => {
                let argmax = b.argmax[i].as_ref().expect("max-pool buffers");
                pool::maxpool_forward(gpu, y, argmax, x, pool_shape(&l.layer, r.inputs[i], batch))?
            }
            Layer::UpSample { factor } => {
                let s = r.inputs[i];
                pool::upsample_forward(
                    gpu,
                    y,
                    x,
                    Upsample {
                        batch,
                        h: s.h,
                        w: s.w,
                        c: s.c,
                        factor: *factor,
                    },
                )?
            }
            Layer::Flatten | Layer::Reshape { .. } => continue,
            Layer::Noise(n) => {
                if mode == Mode::Train {
                    noise::apply(gpu, y, x, n_out, *n, NOISE_LAYER_STREAM + i as u32)?
                } else {
                    activation::forward(gpu, y, x, n_out, Activation::Identity)?
                }
            }
        };
        p.push(d);
    }
    Ok(p)
}

/// Loss, its gradient, the reduction of per-row values into `acc`, and the
/// divergence flag `acc[nonfinite_slot]` over the model output and the
/// per-row losses (before any clamp in the loss could hide a NaN).
pub fn loss_program(
    gpu: &Gpu,
    m: &GpuModel,
    b: &Buffers,
    acc: &Tensor,
    loss_slot: usize,
    correct_slot: usize,
    nonfinite_slot: usize,
) -> Result<Program, GpuError> {
    let mut p = Program::default();
    let last = m.spec.layers.len() - 1;
    let out = b.output();
    let cols = m.resolved.outputs[last].size();
    let dlast = &b.dacts[last];
    let target = match m.spec.target_layer {
        Some(k) => &b.acts[k],
        None => &b.x_clean,
    };
    match m.spec.loss {
        Loss::Mse => p.push(loss::mse(
            gpu,
            dlast,
            &b.row_loss,
            out,
            target,
            b.batch,
            cols,
        )?),
        Loss::Bce => p.push(loss::bce(
            gpu,
            dlast,
            &b.row_loss,
            out,
            target,
            b.batch,
            cols,
        )?),
        Loss::SoftmaxCrossEntropy => {
            p.push(loss::softmax_xent(
                gpu,
                dlast,
                &b.row_loss,
                &b.row_correct,
                &b.probs,
                out,
                &b.labels,
                b.batch,
                cols,
            )?);
        }
    }
    p.push(reduce::flag_nonfinite(
        gpu,
        acc,
        nonfinite_slot,
        out,
        b.batch * cols,
    )?);
    p.push(reduce::flag_nonfinite(
        gpu,
        acc,
        nonfinite_slot,
        &b.row_loss,
        b.batch,
    )?);
    p.push(reduce::sum_into(gpu, acc, loss_slot, &b.row_loss, b.batch)?);
    if m.spec.loss.is_classifier() {
        p.push(reduce::sum_into(
            gpu,
            acc,
            correct_slot,
            &b.row_correct,
            b.batch,
        )?);
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
    let last = layers.len() - 1;
    // A layer needs its input gradient only if something before it trains.
    let has_params = |l: &Layer| l.has_params();
    let trains_before: Vec<bool> = (0..layers.len())
        .map(|i| {
            layers[..i]
                .iter()
                .any(|l| l.trainable && has_params(&l.layer))
        })
        .collect();
    for i in (0..layers.len()).rev() {
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
        match &l.layer {
            Layer::Dense { units, act, .. } => {
                // The loss already differentiated through a fused sigmoid
                // (BCE) or softmax (cross-entropy).
                let fused = i == last
                    && matches!(
                        (m.spec.loss, act),
                        (Loss::Bce, Act::Sigmoid) | (Loss::SoftmaxCrossEntropy, _)
                    );
                let dz = match (&b.dz[i], fused) {
                    (Some(dz), false) => {
                        p.push(activation::backward(gpu, dz, dy, y, n_out, act.kernel())?);
                        dz
                    }
                    _ => dy,
                };
                let fan_in = r.inputs[i].size();
                let w = m.layout.offset(i, Role::Kernel);
                if l.trainable {
                    p.push(matmul::matmul(
                        gpu,
                        m.grads.at(w),
                        x.view(),
                        dz.view(),
                        None,
                        Matmul {
                            m: fan_in,
                            k: batch,
                            n: *units,
                            form: Form::TN,
                            act: Activation::Identity,
                        },
                    )?);
                    p.push(matmul::bias_grad(
                        gpu,
                        m.grads.at(m.layout.offset(i, Role::Bias)),
                        dz.view(),
                        batch,
                        *units,
                    )?);
                }
                if let Some(dx) = dx {
                    p.push(matmul::matmul(
                        gpu,
                        dx.view(),
                        dz.view(),
                        m.params.at(w),
                        None,
                        Matmul {
                            m: batch,
                            k: *units,
                            n: fan_in,
                            form: Form::NT,
                            act: Activation::Identity,
                        },
                    )?);
                }
            }
            Layer::BatchNorm { .. } => {
                let rows = batch * r.inputs[i].h * r.inputs[i].w;
                let c = r.inputs[i].c;
                let (mean, rstd) = b.bn_saved[i].as_ref().expect("BatchNorm buffers");
                let gamma = m.params.at(m.layout.offset(i, Role::Gamma));
                let (dgamma, dbeta) = if l.trainable {
                    (
                        m.grads.at(m.layout.offset(i, Role::Gamma)),
                        m.grads.at(m.layout.offset(i, Role::Beta)),
                    )
                } else {
                    (b.scratch.at(0), b.scratch.at(c))
                };
                // Nothing before may need dx, but gamma and beta still need
                // their gradients: the kernel writes dx to the sink then.
                let dx = dx.unwrap_or(&b.sink);
                p.extend(batchnorm::backward(
                    gpu, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, rows, c,
                )?);
            }
            Layer::Dropout { rate } => {
                if let Some(dx) = dx {
                    p.push(if l.trainable {
                        dropout::backward(gpu, dx, dy, n_out, *rate, 1 + i as u32)?
                    } else {
                        activation::backward(gpu, dx, dy, y, n_out, Activation::Identity)?
                    });
                }
            }
            Layer::Activation(a) => {
                if let Some(dx) = dx {
                    p.push(activation::backward(gpu, dx, dy, y, n_out, a.kernel())?);
                }
            }
            Layer::Conv2d { act, .. } => {
                let fused = i == last && matches!((m.spec.loss, act), (Loss::Bce, Act::Sigmoid));
                let dz = match (&b.dz[i], fused) {
                    (Some(dz), false) => {
                        p.push(activation::backward(gpu, dz, dy, y, n_out, act.kernel())?);
                        dz
                    }
                    _ => dy,
                };
                let shape = conv_shape(&l.layer, r.inputs[i], batch);
                let w = m.layout.offset(i, Role::Kernel);
                if l.trainable {
                    p.extend(conv2d::backward_weight(gpu, m.grads.at(w), dz, x, shape)?);
                    p.push(conv2d::bias_grad(
                        gpu,
                        m.grads.at(m.layout.offset(i, Role::Bias)),
                        dz,
                        shape,
                    )?);
                }
                if let Some(dx) = dx {
                    p.extend(conv2d::backward_input_program(
                        gpu,
                        dx,
                        dz,
                        m.params.at(w),
                        shape,
                    )?);
                }
            }
            Layer::MaxPool { .. } => {
                if let Some(dx) = dx {
                    let argmax = b.argmax[i].as_ref().expect("max-pool buffers");
                    p.push(pool::maxpool_backward(
                        gpu,
                        dx,
                        dy,
                        argmax,
                        pool_shape(&l.layer, r.inputs[i], batch),
                    )?);
                }
            }
            Layer::UpSample { factor } => {
                if let Some(dx) = dx {
                    let s = r.inputs[i];
                    p.push(pool::upsample_backward(
                        gpu,
                        dx,
                        dy,
                        Upsample {
                            batch,
                            h: s.h,
                            w: s.w,
                            c: s.c,
                            factor: *factor,
                        },
                    )?);
                }
            }
            // Views: the input gradient is the output gradient's buffer.
            Layer::Flatten | Layer::Reshape { .. } => {}
            // Additive noise passes the gradient straight through.
            Layer::Noise(_) => {
                if let Some(dx) = dx {
                    p.push(activation::backward(
                        gpu,
                        dx,
                        dy,
                        y,
                        n_out,
                        Activation::Identity,
                    )?);
                }
            }
        }
    }
    // Keras l2(f) on each trainable Dense kernel: g += 2·f·w.
    if m.spec.l2 > 0.0 {
        for (i, l) in layers.iter().enumerate() {
            if let (Layer::Dense { .. }, true) = (&l.layer, l.trainable) {
                let e = m.layout.find(i, Role::Kernel).expect("dense kernel");
                p.push(optim::l2_grad(
                    gpu,
                    m.grads.at(e.offset),
                    m.params.at(e.offset),
                    e.len,
                    m.spec.l2,
                )?);
            }
        }
    }
    let n = m.layout.trainable_len;
    if n > 0 {
        p.push(match m.spec.optimizer {
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => optim::adam(
                gpu,
                m.params.view(),
                m.grads.view(),
                &m.opt_state[0],
                &m.opt_state[1],
                n,
                beta1,
                beta2,
                eps,
            )?,
            Optimizer::Sgd { momentum, .. } => optim::sgd(
                gpu,
                m.params.view(),
                m.grads.view(),
                &m.opt_state[0],
                n,
                momentum,
            )?,
        });
    }
    Ok(p)
}

/// Everything one run needs, for training and for evaluation.
pub struct StepPlan {
    pub train_buffers: Buffers,
    pub train_indices: Tensor,
    pub test_indices: Tensor,
    pub acc: Tensor,
    pub train: Program,
    pub eval: Program,
}

impl StepPlan {
    pub fn build(
        gpu: &Gpu,
        m: &GpuModel,
        data: &GpuDataset,
        batch: usize,
    ) -> Result<StepPlan, GpuError> {
        let b = Buffers::new(gpu, m, batch)?;
        let train_indices = gpu.zeros("train indices", data.train.count)?;
        let test_order: Vec<u32> = (0..data.test.count as u32).collect();
        let test_indices = gpu.upload_u32("test indices", &test_order)?;
        let acc = gpu.zeros("metric sums", METRIC_SLOTS)?;
        let noise = m.spec.noise;
        let mut train = input_program(gpu, &b, &data.train, &train_indices, data.features, noise)?;
        train.extend(forward_program(gpu, m, &b, Mode::Train)?);
        train.extend(loss_program(
            gpu,
            m,
            &b,
            &acc,
            TRAIN_LOSS,
            TRAIN_CORRECT,
            TRAIN_NONFINITE,
        )?);
        train.extend(backward_program(gpu, m, &b)?);
        // After the update: every parameter and running statistic.
        train.push(reduce::flag_nonfinite(
            gpu,
            &acc,
            PARAMS_NONFINITE,
            &m.params,
            m.layout.total_len,
        )?);
        let mut eval = input_program(gpu, &b, &data.test, &test_indices, data.features, noise)?;
        eval.extend(forward_program(gpu, m, &b, Mode::Eval)?);
        eval.extend(loss_program(
            gpu,
            m,
            &b,
            &acc,
            TEST_LOSS,
            TEST_CORRECT,
            TEST_NONFINITE,
        )?);
        Ok(StepPlan {
            train_buffers: b,
            train_indices,
            test_indices,
            acc,
            train,
            eval,
        })
    }
}

fn conv_shape(l: &Layer, input: Shape, batch: usize) -> Conv2d {
    let Layer::Conv2d {
        filters,
        kernel,
        same,
        ..
    } = *l
    else {
        unreachable!("conv_shape of a {l:?}")
    };
    Conv2d {
        batch,
        h: input.h,
        w: input.w,
        cin: input.c,
        cout: filters,
        k: kernel,
        padding: if same { Padding::Same } else { Padding::Valid },
    }
}

fn pool_shape(l: &Layer, input: Shape, batch: usize) -> Pool2d {
    let Layer::MaxPool { pool, stride, same } = *l else {
        unreachable!("pool_shape of a {l:?}")
    };
    Pool2d {
        batch,
        h: input.h,
        w: input.w,
        c: input.c,
        pool,
        stride,
        padding: if same {
            PoolPadding::Same
        } else {
            PoolPadding::Valid
        },
    }
}
