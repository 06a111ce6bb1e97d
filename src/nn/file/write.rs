//! A [`ModelSpec`] written as a model file, in the order a person reads it.

use std::fmt::Write;

use super::super::{Act, Init, Layer, Loss, ModelSpec, Shape};
use crate::optim::Optimizer;

/// The model file of `spec`; [`super::parse`] reads it back to an equal
/// spec (tested for every preset).
pub fn to_toml(spec: &ModelSpec) -> String {
    let mut s = String::new();
    let o = &mut s;
    o.push_str(
        "# A dae model file. Train it: dae train --model FILE; print it: dae summary --model FILE.\n\
         # Layer types and their fields: docs/model-files.md\n",
    );
    line(o, "name", &quote(&spec.name));
    line(o, "input", &shape(spec.input));
    let loss = match spec.loss {
        Loss::Mse => "mse",
        Loss::Bce => "bce",
        Loss::SoftmaxCrossEntropy => "cross-entropy",
    };
    line(o, "loss", &quote(loss));
    line(o, "epochs", &spec.epochs.to_string());
    line(o, "batch_size", &spec.batch_size.to_string());
    line(o, "noise", &quote(&spec.noise.to_string()));
    line(o, "l2", &float(spec.l2));
    if let Some(n) = spec.train_limit {
        line(o, "train_limit", &n.to_string());
    }
    if spec.encoder_layers > 0 {
        line(o, "encoder_layers", &spec.encoder_layers.to_string());
    }
    if let Some(from) = &spec.encoder_from {
        line(o, "encoder_from", &quote(from));
    }
    if let Some(k) = spec.target_layer {
        line(o, "target_layer", &k.to_string());
    }
    o.push_str("\n[optimizer]\n");
    match spec.optimizer {
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => {
            line(o, "type", "\"adam\"");
            line(o, "lr", &float(lr));
            line(o, "beta1", &float(beta1));
            line(o, "beta2", &float(beta2));
            line(o, "eps", &float(eps));
        }
        Optimizer::Sgd { lr, momentum } => {
            line(o, "type", "\"sgd\"");
            line(o, "lr", &float(lr));
            line(o, "momentum", &float(momentum));
        }
    }
    for l in &spec.layers {
        o.push_str("\n[[layers]]\n");
        let padding = |same: bool| quote(if same { "same" } else { "valid" });
        match &l.layer {
            Layer::Dense { units, act, init } => {
                line(o, "type", "\"dense\"");
                line(o, "units", &units.to_string());
                line(o, "activation", &quote(&act_name(*act)));
                if let Init::Normal { std } = init {
                    line(o, "init", &quote(&format!("normal:{std}")));
                }
            }
            Layer::Conv2d {
                filters,
                kernel,
                same,
                act,
            } => {
                line(o, "type", "\"conv2d\"");
                line(o, "filters", &filters.to_string());
                line(o, "kernel", &kernel.to_string());
                line(o, "padding", &padding(*same));
                line(o, "activation", &quote(&act_name(*act)));
            }
            Layer::BatchNorm { momentum, eps } => {
                line(o, "type", "\"batch_norm\"");
                line(o, "momentum", &float(*momentum));
                line(o, "eps", &float(*eps));
            }
            Layer::Dropout { rate } => {
                line(o, "type", "\"dropout\"");
                line(o, "rate", &float(*rate));
            }
            Layer::Activation(Act::LeakyRelu(a)) => {
                line(o, "type", "\"leaky_relu\"");
                line(o, "alpha", &float(*a));
            }
            Layer::Activation(a) => {
                line(o, "type", "\"activation\"");
                line(o, "activation", &quote(&act_name(*a)));
            }
            Layer::MaxPool { pool, stride, same } => {
                line(o, "type", "\"max_pool\"");
                line(o, "pool", &pool.to_string());
                if stride != pool {
                    line(o, "stride", &stride.to_string());
                }
                line(o, "padding", &padding(*same));
            }
            Layer::UpSample { factor } => {
                line(o, "type", "\"upsample\"");
                line(o, "factor", &factor.to_string());
            }
            Layer::Flatten => line(o, "type", "\"flatten\""),
            Layer::Reshape { h, w, c } => {
                line(o, "type", "\"reshape\"");
                line(o, "shape", &format!("[{h}, {w}, {c}]"));
            }
            Layer::Noise(n) => {
                line(o, "type", "\"noise\"");
                line(o, "noise", &quote(&n.to_string()));
            }
        }
        if !l.name.is_empty() {
            line(o, "name", &quote(&l.name));
        }
        if !l.trainable {
            line(o, "trainable", "false");
        }
    }
    s
}

fn line(o: &mut String, key: &str, value: &str) {
    let _ = writeln!(o, "{key} = {value}");
}

/// A TOML basic string, escaped.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The shortest decimal that reads back as the same f32, always with a
/// decimal point so TOML reads a float.
fn float(v: f32) -> String {
    let s = v.to_string();
    if s.contains(['.', 'e', 'E']) || !v.is_finite() {
        s
    } else {
        format!("{s}.0")
    }
}

fn shape(s: Shape) -> String {
    if s.is_flat() {
        format!("[{}]", s.c)
    } else {
        format!("[{}, {}, {}]", s.h, s.w, s.c)
    }
}

/// The `activation` value that [`super::parse_act`] reads back.
fn act_name(a: Act) -> String {
    match a {
        Act::LeakyRelu(alpha) => format!("leaky_relu:{alpha}"),
        other => other.name().to_string(),
    }
}
