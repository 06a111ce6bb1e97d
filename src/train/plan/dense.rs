//! Recording a Dense layer's forward pass (matmul with fused bias and
//! activation) and its backward pass (activation gradient, weight and bias
//! gradients, input gradient).

use crate::gpu::{Dispatch, GpuError, Program, Tensor};
use crate::kernels::activation::Activation;
use crate::kernels::matmul::{self, Form, Matmul};
use crate::nn::params::Role;
use crate::nn::{Act, Loss};

use super::Site;

/// y = act(x·W + b).
pub(super) fn forward(s: &Site, units: usize, act: Act) -> Result<Dispatch, GpuError> {
    let m = s.m;
    let i = s.i;
    matmul::matmul(
        s.gpu,
        s.y.view(),
        s.x.view(),
        m.params.at(m.layout.offset(i, Role::Kernel)),
        Some(m.params.at(m.layout.offset(i, Role::Bias))),
        Matmul {
            m: s.b.batch,
            k: m.resolved.inputs[i].size(),
            n: units,
            form: Form::NN,
            act: act.kernel(),
        },
    )
}

/// From the output gradient `dy`: the kernel and bias gradients if the
/// layer trains, and the input gradient into `dx` if something before needs
/// it.
pub(super) fn backward<'a>(
    p: &mut Program,
    s: &Site<'a>,
    dy: &'a Tensor,
    dx: Option<&Tensor>,
    units: usize,
    act: Act,
) -> Result<(), GpuError> {
    let (gpu, m, b, i) = (s.gpu, s.m, s.b, s.i);
    let batch = b.batch;
    let last = m.spec.layers.len() - 1;
    // The loss already differentiated through a fused sigmoid (BCE) or
    // softmax (cross-entropy), or applied the activation's slope (MSE).
    let fused = i == last
        && (matches!(
            (m.spec.loss, act),
            (Loss::Bce, Act::Sigmoid) | (Loss::SoftmaxCrossEntropy, _)
        ) || super::loss::mse_slope(m).is_some());
    let dz = s.pre_activation_grad(p, dy, act, fused)?;
    let fan_in = m.resolved.inputs[i].size();
    let w = m.layout.offset(i, Role::Kernel);
    if s.l.trainable {
        p.push(matmul::matmul(
            gpu,
            m.grads.at(w),
            s.x.view(),
            dz.view(),
            None,
            Matmul {
                m: fan_in,
                k: batch,
                n: units,
                form: Form::TN,
                act: Activation::Identity,
            },
        )?);
        p.extend(matmul::bias_grad(
            gpu,
            m.grads.at(m.layout.offset(i, Role::Bias)),
            dz.view(),
            batch,
            units,
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
                k: units,
                n: fan_in,
                form: Form::NT,
                act: Activation::Identity,
            },
        )?);
    }
    Ok(())
}
