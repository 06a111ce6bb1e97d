//! The PyTorch target: an `nn.Sequential` over NCHW tensors, its
//! `state_dict` in `model.safetensors`.
//!
//! dae works in Keras' conventions on NHWC tensors, so every tensor is put
//! in PyTorch's layout: Dense kernels (in, out) -> `weight` (out, in),
//! conv kernels HWIO -> OIHW, and where a flat tensor is an image in
//! disguise (after a Flatten, before a Reshape) its features are in CHW
//! order in PyTorch and HWC order in dae: the rows of the Dense reading it
//! (and a BatchNorm between) or the columns of the Dense writing it are
//! permuted so that plain `nn.Flatten` and `nn.Unflatten` work. Where no
//! Dense can absorb the permutation, a small module reorders the features.

use super::{check_unique, chw_to_hwc, provenance, py_float, reorders, Files, Model, Target};
use crate::kernels::noise::Noise;
use crate::nn::params::Role;
use crate::nn::{Act, Layer, Shape};
use crate::report::NamedTensor;

/// The order of a 2-D (N, features) tensor's features in the model.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Order {
    /// dae's own order (an NHWC image flattened, or plain features).
    Hwc,
    /// An NCHW image of this (h, w, c) shape flattened.
    Chw(Shape),
}

/// The order of image `s` flattened by `nn.Flatten`.
fn order_of(s: Shape) -> Order {
    if reorders(s) {
        Order::Chw(s)
    } else {
        Order::Hwc
    }
}

/// `p[q]` = dae's index of feature `q` of `n` in order `o`.
fn perm(o: Order, n: usize) -> Vec<usize> {
    match o {
        Order::Hwc => (0..n).collect(),
        Order::Chw(s) => chw_to_hwc(s),
    }
}

/// The modules of the Sequential, in order, and the tensors of its
/// state_dict.
struct Builder {
    modules: Vec<(String, String)>,
    tensors: Vec<NamedTensor>,
    /// The feature order of the current tensor, when it is 2-D.
    order: Order,
}

impl Builder {
    fn push(&mut self, name: String, expr: impl Into<String>) {
        self.modules.push((name, expr.into()));
    }

    fn tensor(&mut self, name: &str, field: &str, shape: Vec<usize>, values: Vec<f32>) {
        self.tensors
            .push((format!("{name}.{field}"), shape, values));
    }

    /// An activation module called `name` (none for linear).
    fn act(&mut self, name: String, act: Act) {
        let expr = match act {
            Act::Linear => return,
            Act::Relu => "nn.ReLU()".to_string(),
            Act::LeakyRelu(a) => format!("nn.LeakyReLU({})", py_float(a)),
            Act::Sigmoid => "nn.Sigmoid()".to_string(),
            Act::Softmax => "nn.Softmax(dim=1)".to_string(),
        };
        self.push(name, expr);
    }

    /// Puts a 2-D tensor's features back in dae's order.
    fn ensure_hwc(&mut self, name: &str) {
        if let Order::Chw(s) = self.order {
            self.push(
                format!("{name}_hwc"),
                format!("ChwToHwc({}, {}, {})", s.c, s.h, s.w),
            );
            self.order = Order::Hwc;
        }
    }

    /// Before an image layer: a 2-D (N, c) input becomes (N, c, 1, 1).
    fn ensure_image(&mut self, name: &str, input: Shape) {
        if input.is_flat() {
            self.ensure_hwc(name);
            self.push(
                format!("{name}_unflatten"),
                format!("nn.Unflatten(1, ({}, 1, 1))", input.c),
            );
        }
    }

    /// After an image layer: a (N, c, 1, 1) output becomes (N, c), as dae
    /// treats a 1x1 image as plain features.
    fn leave_image(&mut self, name: &str, output: Shape) {
        if output.is_flat() {
            self.push(format!("{name}_flatten"), "nn.Flatten()");
            self.order = Order::Hwc;
        }
    }
}

/// For each Dense layer whose output a Reshape turns into an image (maybe
/// through BatchNorm, Dropout, activations or noise): that image's shape,
/// so that its columns are written in CHW order.
fn reshape_targets(m: &Model) -> Vec<Option<Shape>> {
    let layers = &m.spec.layers;
    let mut targets = vec![None; layers.len()];
    for (j, l) in layers.iter().enumerate() {
        let Layer::Reshape { h, w, c } = l.layer else {
            continue;
        };
        let s = Shape::image(h, w, c);
        if !reorders(s) || !m.resolved.inputs[j].is_flat() {
            continue;
        }
        for k in (0..j).rev() {
            match layers[k].layer {
                Layer::BatchNorm { .. }
                | Layer::Dropout { .. }
                | Layer::Activation(_)
                | Layer::Noise(_) => continue,
                Layer::Dense { .. } => targets[k] = Some(s),
                _ => {}
            }
            break;
        }
    }
    targets
}

/// Half the padding TensorFlow's "same" pooling adds, rounded down, goes
/// before the image: what PyTorch's symmetric `padding` must be, with
/// `ceil_mode=True` adding the rest at the end.
fn pad_before(n: usize, pool: usize, stride: usize) -> usize {
    ((n.div_ceil(stride) - 1) * stride + pool).saturating_sub(n) / 2
}

/// `1 - momentum` (PyTorch weighs the new batch, Keras the running value),
/// without f32 noise: Keras' 0.99 is written 0.01.
fn torch_momentum(m: f32) -> String {
    let keras: f64 = format!("{m:?}").parse().unwrap_or(m as f64);
    format!("{}", ((1.0 - keras) * 1e9).round() / 1e9)
}

/// `model.py` and the state_dict of `m`.
pub(super) fn files(m: &Model, source: &str) -> anyhow::Result<Files> {
    let mut b = Builder {
        modules: Vec::new(),
        tensors: Vec::new(),
        order: Order::Hwc,
    };
    let input = m.spec.input;
    if input.is_flat() {
        b.push("input_flatten".into(), "nn.Flatten()");
    }
    let targets = reshape_targets(m);
    for (i, l) in m.spec.layers.iter().enumerate() {
        let name = m.resolved.names[i].clone();
        let (si, so) = (m.resolved.inputs[i], m.resolved.outputs[i]);
        match l.layer {
            Layer::Dense { units, act, .. } => {
                if !si.is_flat() {
                    b.push(format!("{name}_flatten"), "nn.Flatten()");
                    b.order = order_of(si);
                }
                let n_in = si.size();
                let pin = perm(b.order, n_in);
                let out_order = targets[i].map_or(Order::Hwc, order_of);
                let pout = perm(out_order, units);
                let (_, k) = m.tensor(i, Role::Kernel);
                let (_, bias) = m.tensor(i, Role::Bias);
                let mut w = Vec::with_capacity(n_in * units);
                for &p in &pout {
                    w.extend(pin.iter().map(|&q| k[q * units + p]));
                }
                let bias: Vec<f32> = pout.iter().map(|&p| bias[p]).collect();
                b.push(name.clone(), format!("nn.Linear({n_in}, {units})"));
                b.tensor(&name, "weight", vec![units, n_in], w);
                b.tensor(&name, "bias", vec![units], bias);
                b.order = out_order;
                b.act(format!("{name}_act"), act);
            }
            Layer::BatchNorm { momentum, eps } => {
                let c = si.c;
                let (dim, p) = if si.is_flat() {
                    (1, perm(b.order, c))
                } else {
                    (2, (0..c).collect())
                };
                b.push(
                    name.clone(),
                    format!(
                        "nn.BatchNorm{dim}d({c}, eps={}, momentum={})",
                        py_float(eps),
                        torch_momentum(momentum)
                    ),
                );
                for (role, field) in [
                    (Role::Gamma, "weight"),
                    (Role::Beta, "bias"),
                    (Role::MovingMean, "running_mean"),
                    (Role::MovingVariance, "running_var"),
                ] {
                    let (_, v) = m.tensor(i, role);
                    b.tensor(&name, field, vec![c], p.iter().map(|&q| v[q]).collect());
                }
            }
            Layer::Dropout { rate } => b.push(name, format!("nn.Dropout({})", py_float(rate))),
            Layer::Activation(act) => b.act(name, act),
            Layer::Conv2d {
                filters,
                kernel,
                same,
                act,
            } => {
                b.ensure_image(&name, si);
                let cin = si.c;
                let (_, k) = m.tensor(i, Role::Kernel);
                let (_, bias) = m.tensor(i, Role::Bias);
                let mut w = Vec::with_capacity(k.len());
                for o in 0..filters {
                    for ci in 0..cin {
                        for y in 0..kernel {
                            for x in 0..kernel {
                                w.push(k[((y * kernel + x) * cin + ci) * filters + o]);
                            }
                        }
                    }
                }
                let pad = if same { kernel / 2 } else { 0 };
                b.push(
                    name.clone(),
                    format!("nn.Conv2d({cin}, {filters}, {kernel}, padding={pad})"),
                );
                b.tensor(&name, "weight", vec![filters, cin, kernel, kernel], w);
                b.tensor(&name, "bias", vec![filters], bias.to_vec());
                b.act(format!("{name}_act"), act);
                b.leave_image(&name, so);
            }
            Layer::MaxPool { pool, stride, same } => {
                b.ensure_image(&name, si);
                let expr = if same {
                    let ph = pad_before(si.h, pool, stride);
                    let pw = pad_before(si.w, pool, stride);
                    format!("nn.MaxPool2d({pool}, {stride}, padding=({ph}, {pw}), ceil_mode=True)")
                } else {
                    format!("nn.MaxPool2d({pool}, {stride})")
                };
                b.push(name.clone(), expr);
                b.leave_image(&name, so);
            }
            Layer::UpSample { factor } => {
                b.ensure_image(&name, si);
                b.push(
                    name.clone(),
                    format!("nn.Upsample(scale_factor={factor}, mode=\"nearest\")"),
                );
                b.leave_image(&name, so);
            }
            // Reshape to plain features is a Flatten too.
            Layer::Flatten | Layer::Reshape { h: 1, w: 1, .. } => {
                if si.is_flat() {
                    b.push(name, "nn.Identity()");
                } else {
                    b.push(name, "nn.Flatten()");
                    b.order = order_of(si);
                }
            }
            Layer::Reshape { h, w, c } => {
                let t = Shape::image(h, w, c);
                if si.is_flat() && b.order == order_of(t) {
                    b.push(name, format!("nn.Unflatten(1, ({c}, {h}, {w}))"));
                } else {
                    if si.is_flat() {
                        b.ensure_hwc(&name);
                    }
                    b.push(name, format!("HwcReshape({c}, {h}, {w})"));
                }
            }
            Layer::Noise(n) => b.push(name, noise(n)),
        }
    }
    if m.resolved.outputs.last().is_some_and(|s| s.is_flat()) {
        b.ensure_hwc("output");
    }
    check_unique(b.modules.iter().map(|(n, _)| n.as_str()), Target::Pytorch)?;
    Ok(Files {
        python: python(m, source, &b.modules),
        tensors: b.tensors,
    })
}

/// The `DaeNoise` module of a Noise layer.
fn noise(n: Noise) -> String {
    let (kind, level, clip) = match n {
        Noise::None => ("none", 0.0, false),
        Noise::Gaussian { sigma, clip } => ("gaussian", sigma, clip),
        Noise::Uniform { level } => ("uniform", level, true),
        Noise::SaltPepper { p } => ("salt-pepper", p, false),
        Noise::Masking { p } => ("masking", p, false),
    };
    let clip = if clip { "True" } else { "False" };
    format!("DaeNoise(\"{kind}\", {}, {clip})", py_float(level))
}

/// The helper modules model.py may use (ChwToHwc, HwcReshape, DaeNoise).
const MODULES: &str = include_str!("pytorch_modules.py");

/// The text of model.py.
fn python(m: &Model, source: &str, modules: &[(String, String)]) -> String {
    let i = m.spec.input;
    let input = if i.is_flat() {
        format!(
            "(N, {}) features in dae's order (any (N, ...) batch that flattens to {} values \
             row-major, e.g. (N, 1, H, W) images, works too)",
            i.c, i.c
        )
    } else {
        format!("(N, {}, {}, {}) NCHW images", i.c, i.h, i.w)
    };
    let o = m.resolved.outputs.last().copied().unwrap_or(i);
    let output = if m.spec.loss.is_classifier() {
        format!("(N, {}) softmax probabilities", o.c)
    } else if o.is_flat() {
        format!("(N, {}) features in dae's order", o.c)
    } else {
        format!("(N, {}, {}, {}) NCHW images", o.c, o.h, o.w)
    };
    let body: String = modules
        .iter()
        .map(|(n, e)| format!("        (\"{n}\", {e}),\n"))
        .collect();
    format!(
        r#""""{prov}

PyTorch model: `build()` returns it untrained, `load(path=None)` with the
trained weights, in eval mode (default path: model.safetensors beside this
file). Needs torch and safetensors.

Input: {input}, float32 in [0, 1] (pixel / 255).
Output: {output}.

Conventions (dae trains in Keras' conventions on NHWC tensors):
- Dense kernels are transposed to (out, in) and conv kernels HWIO -> OIHW.
- dae flattens NHWC: the rows of a Dense after a Flatten are reordered from
  HWC to CHW, and the columns of a Dense feeding a Reshape to (h, w, c)
  likewise, so that nn.Flatten and nn.Unflatten work on NCHW.
- BatchNorm keeps dae's eps (Keras' 1e-3, not torch's 1e-5); its momentum
  is 1 - Keras' momentum (0.99 -> 0.01).
- LeakyReLU keeps dae's slope (Keras' default 0.3, not torch's 0.01).
- "same" max-pooling pads as TensorFlow does (ceil_mode=True, with
  padding= where TensorFlow pads before the image too); "same"
  convolutions pad kernel // 2 on each side.
- Dropout and noise layers (DaeNoise) act in training only: they are the
  identity in eval mode.
"""
import os
from collections import OrderedDict

import torch
from torch import nn


{modules}

def build():
    """The model with PyTorch's default initialisation."""
    return nn.Sequential(OrderedDict([
{body}    ]))


def load(path=None, device="cpu"):
    """The trained model from `path` (default: model.safetensors beside this file), in eval mode."""
    from safetensors.torch import load_file

    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.safetensors")
    model = build()
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"{{path}}: missing tensors {{missing}}, unexpected tensors {{unexpected}}")
    return model.to(device).eval()
"#,
        prov = provenance(m, source),
        // Without the file's own header comment.
        modules = MODULES.split_once("\n\n").map_or(MODULES, |(_, body)| body),
    )
}
