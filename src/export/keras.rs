//! The Keras 3 target: a `keras.Sequential` over NHWC tensors with dae's
//! layer names; `model.safetensors` holds the checkpoint's tensors as they
//! are, since dae already stores them in Keras' layout and names
//! (`dense_1/kernel` as (in, out), conv kernels HWIO, BatchNorm's
//! `gamma`, `beta`, `moving_mean`, `moving_variance`).

use super::{check_unique, provenance, py_float, Files, Model, Target};
use crate::kernels::noise::Noise;
use crate::nn::params::Role;
use crate::nn::{Act, Layer, Shape};
use crate::report::NamedTensor;

/// The Keras layers, in order, each as a Python expression.
struct Builder {
    layers: Vec<String>,
    tensors: Vec<NamedTensor>,
}

impl Builder {
    fn push(&mut self, expr: String) {
        self.layers.push(expr);
    }

    /// The layer's tensors of `roles`, under their Keras names.
    fn tensors(&mut self, m: &Model, i: usize, name: &str, roles: &[Role]) {
        for &role in roles {
            let (shape, v) = m.tensor(i, role);
            self.tensors.push((
                format!("{name}/{}", role.keras_name()),
                shape.to_vec(),
                v.to_vec(),
            ));
        }
    }

    /// Before an image layer: dae treats plain features as a 1x1 image.
    fn ensure_image(&mut self, name: &str, input: Shape) {
        if input.is_flat() {
            self.push(format!(
                "layers.Reshape((1, 1, {}), name=\"{name}_unflatten\")",
                input.c
            ));
        }
    }

    /// After an image layer: a 1x1 image is plain features again.
    fn leave_image(&mut self, name: &str, output: Shape) {
        if output.is_flat() {
            self.push(format!("layers.Flatten(name=\"{name}_flatten\")"));
        }
    }
}

/// The `activation=` argument of a Dense or Conv2D layer, and a separate
/// layer for a LeakyReLU (whose slope Keras' activation string cannot
/// carry).
fn activation(name: &str, act: Act) -> (&'static str, Option<String>) {
    match act {
        Act::Linear => ("None", None),
        Act::Relu => ("\"relu\"", None),
        Act::Sigmoid => ("\"sigmoid\"", None),
        Act::Softmax => ("\"softmax\"", None),
        Act::LeakyRelu(a) => (
            "None",
            Some(format!(
                "layers.LeakyReLU(negative_slope={}, name=\"{name}_act\")",
                py_float(a)
            )),
        ),
    }
}

/// `model.py` and the weights of `m`.
pub(super) fn files(m: &Model, source: &str) -> anyhow::Result<Files> {
    let mut b = Builder {
        layers: Vec::new(),
        tensors: Vec::new(),
    };
    let i = m.spec.input;
    b.push(if i.is_flat() {
        format!("keras.Input(shape=({},))", i.c)
    } else {
        format!("keras.Input(shape=({}, {}, {}))", i.h, i.w, i.c)
    });
    for (idx, l) in m.spec.layers.iter().enumerate() {
        let name = m.resolved.names[idx].clone();
        let (si, so) = (m.resolved.inputs[idx], m.resolved.outputs[idx]);
        match l.layer {
            Layer::Dense { units, act, .. } => {
                if !si.is_flat() {
                    // Keras' Dense on an image acts on its last axis only.
                    b.push(format!("layers.Flatten(name=\"{name}_flatten\")"));
                }
                let (a, extra) = activation(&name, act);
                b.push(format!(
                    "layers.Dense({units}, activation={a}, name=\"{name}\")"
                ));
                b.layers.extend(extra);
                b.tensors(m, idx, &name, &[Role::Kernel, Role::Bias]);
            }
            Layer::BatchNorm { momentum, eps } => {
                b.push(format!(
                    "layers.BatchNormalization(momentum={}, epsilon={}, name=\"{name}\")",
                    py_float(momentum),
                    py_float(eps)
                ));
                let roles = [
                    Role::Gamma,
                    Role::Beta,
                    Role::MovingMean,
                    Role::MovingVariance,
                ];
                b.tensors(m, idx, &name, &roles);
            }
            Layer::Dropout { rate } => b.push(format!(
                "layers.Dropout({}, name=\"{name}\")",
                py_float(rate)
            )),
            Layer::Activation(Act::LeakyRelu(a)) => b.push(format!(
                "layers.LeakyReLU(negative_slope={}, name=\"{name}\")",
                py_float(a)
            )),
            Layer::Activation(act) => b.push(format!(
                "layers.Activation(\"{}\", name=\"{name}\")",
                act.name()
            )),
            Layer::Conv2d {
                filters,
                kernel,
                same,
                act,
            } => {
                b.ensure_image(&name, si);
                let (a, extra) = activation(&name, act);
                let padding = if same { "same" } else { "valid" };
                b.push(format!(
                    "layers.Conv2D({filters}, {kernel}, padding=\"{padding}\", activation={a}, \
                     name=\"{name}\")"
                ));
                b.layers.extend(extra);
                b.tensors(m, idx, &name, &[Role::Kernel, Role::Bias]);
                b.leave_image(&name, so);
            }
            Layer::MaxPool { pool, stride, same } => {
                b.ensure_image(&name, si);
                let padding = if same { "same" } else { "valid" };
                b.push(format!(
                    "layers.MaxPooling2D({pool}, strides={stride}, padding=\"{padding}\", \
                     name=\"{name}\")"
                ));
                b.leave_image(&name, so);
            }
            Layer::UpSample { factor } => {
                b.ensure_image(&name, si);
                b.push(format!(
                    "layers.UpSampling2D({factor}, interpolation=\"nearest\", name=\"{name}\")"
                ));
                b.leave_image(&name, so);
            }
            Layer::Flatten | Layer::Reshape { h: 1, w: 1, .. } => {
                b.push(format!("layers.Flatten(name=\"{name}\")"))
            }
            Layer::Reshape { h, w, c } => {
                b.push(format!("layers.Reshape(({h}, {w}, {c}), name=\"{name}\")"))
            }
            Layer::Noise(n) => b.push(noise(&name, n)),
        }
    }
    // Every generated layer but the Input is `layers.X(..., name="NAME")`.
    let names = b.layers.iter().filter_map(|l| {
        let (_, rest) = l.split_once("name=\"")?;
        rest.split('"').next()
    });
    check_unique(names, Target::Keras)?;
    Ok(Files {
        python: python(m, source, &b.layers),
        tensors: b.tensors,
    })
}

/// The `DaeNoise` layer of a Noise layer.
fn noise(name: &str, n: Noise) -> String {
    let (kind, level, clip) = match n {
        Noise::None => ("none", 0.0, false),
        Noise::Gaussian { sigma, clip } => ("gaussian", sigma, clip),
        Noise::Uniform { level } => ("uniform", level, true),
        Noise::SaltPepper { p } => ("salt-pepper", p, false),
        Noise::Masking { p } => ("masking", p, false),
    };
    let clip = if clip { "True" } else { "False" };
    format!(
        "DaeNoise(\"{kind}\", {}, {clip}, name=\"{name}\")",
        py_float(level)
    )
}

/// The text of model.py.
fn python(m: &Model, source: &str, layers: &[String]) -> String {
    let i = m.spec.input;
    let input = if i.is_flat() {
        format!("(N, {}) features", i.c)
    } else {
        format!("(N, {}, {}, {}) NHWC images", i.h, i.w, i.c)
    };
    let o = m.resolved.outputs.last().copied().unwrap_or(i);
    let output = if m.spec.loss.is_classifier() {
        format!("(N, {}) softmax probabilities", o.c)
    } else {
        o.keras().replace("None", "N")
    };
    let body: String = layers.iter().map(|l| format!("        {l},\n")).collect();
    format!(
        r#""""{prov}

Keras 3 model: `build()` returns it untrained, `load(path=None)` with the
trained weights (default path: model.safetensors beside this file). Needs
keras 3 (any backend), numpy and safetensors.

Input: {input}, float32 in [0, 1] (pixel / 255).
Output: {output}.

dae stores its weights in Keras' layout and names (Dense kernels (in, out),
conv kernels HWIO, BatchNorm gamma, beta, moving_mean, moving_variance), so
they load unchanged, by layer name. Dropout and noise layers (DaeNoise) act
in training only.
"""
import os

import keras
from keras import layers


class DaeNoise(layers.Layer):
    """dae's Noise layer: corrupts its input in training only."""

    def __init__(self, kind, level, clip, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.level, self.clip = kind, level, clip
        self.seed = keras.random.SeedGenerator()

    def call(self, x, training=False):
        if not training or self.kind == "none":
            return x
        ops, rnd = keras.ops, keras.random
        if self.kind == "gaussian":
            x = x + self.level * rnd.normal(ops.shape(x), seed=self.seed)
        elif self.kind == "uniform":
            x = x + rnd.uniform(ops.shape(x), -self.level, self.level, seed=self.seed)
        elif self.kind == "salt-pepper":
            hit = rnd.uniform(ops.shape(x), seed=self.seed) < self.level
            salt = ops.cast(rnd.uniform(ops.shape(x), seed=self.seed) < 0.5, x.dtype)
            x = ops.where(hit, salt, x)
        elif self.kind == "masking":
            x = x * ops.cast(rnd.uniform(ops.shape(x), seed=self.seed) >= self.level, x.dtype)
        return ops.clip(x, 0.0, 1.0) if self.clip else x


def build():
    """The model with Keras' default initialisation."""
    return keras.Sequential([
{body}    ], name="{name}")


def load(path=None):
    """The trained model from `path` (default: model.safetensors beside this file)."""
    from safetensors.numpy import load_file

    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.safetensors")
    model = build()
    tensors = load_file(str(path))
    used = set()
    for layer in model.layers:
        for v in layer.weights:
            key = f"{{layer.name}}/{{v.name}}"
            if key not in tensors:
                raise KeyError(f"{{path}} has no tensor {{key}}")
            v.assign(tensors[key])
            used.add(key)
    unused = sorted(set(tensors) - used)
    if unused:
        raise RuntimeError(f"{{path}}: tensors no layer took: {{unused}}")
    return model
"#,
        prov = provenance(m, source),
        name = keras_model_name(&m.spec.name),
    )
}

/// The Sequential's name: the spec's, with characters Keras rejects
/// replaced.
fn keras_model_name(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if n.is_empty() {
        "model".into()
    } else {
        n
    }
}
