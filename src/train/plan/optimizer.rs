//! Recording the end of a training step's backward pass: the L2 penalty's
//! gradient and the optimizer update.

use crate::gpu::{Gpu, GpuError, Program};
use crate::nn::params::Role;
use crate::nn::Layer;
use crate::optim::{self, Optimizer};

use super::GpuModel;

/// Keras l2(f) on each trainable Dense kernel: g += 2·f·w.
pub(super) fn l2(p: &mut Program, gpu: &Gpu, m: &GpuModel) -> Result<(), GpuError> {
    if m.spec.l2 > 0.0 {
        for (i, l) in m.spec.layers.iter().enumerate() {
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
    Ok(())
}

/// The optimizer's update of the trainable prefix of the parameters.
pub(super) fn update(p: &mut Program, gpu: &Gpu, m: &GpuModel) -> Result<(), GpuError> {
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
    Ok(())
}
