//! Model files: a [`ModelSpec`] as hand-editable TOML.
//!
//! `dae train --model FILE` trains one, `dae summary --model FILE` prints
//! it, `dae spec --preset NAME` writes a preset as one to start from, and
//! every checkpoint stores its model in this form (metadata key `model`).
//!
//! ```toml
//! name = "small-conv-dae"
//! input = [28, 28, 1]          # h, w, c (or [features])
//! loss = "bce"                 # mse | bce | cross-entropy
//! epochs = 10
//! batch_size = 128
//! noise = "masking:0.2"        # as --noise; default none
//!
//! [optimizer]
//! type = "adam"                # adam | sgd
//! lr = 0.001
//!
//! [[layers]]
//! type = "conv2d"
//! filters = 16
//! kernel = 3
//! padding = "same"
//! activation = "relu"
//! ```
//!
//! [`parse`] checks every field's type and range and names the layer, the
//! field and what is allowed; [`ModelSpec::resolve`] then checks that the
//! shapes fit, so a wrong file fails before the GPU starts.

mod fields;
mod write;

use fields::Fields;
pub use write::to_toml;

use super::{Act, Init, Layer, LayerSpec, Loss, ModelSpec, Shape};
use crate::kernels::noise::Noise;
use crate::optim::Optimizer;

/// Every layer `type` a model file accepts, with its fields (besides the
/// `name` and `trainable` every layer takes).
pub const LAYER_TYPES: &[(&str, &[&str])] = &[
    ("dense", &["units", "activation", "init"]),
    ("conv2d", &["filters", "kernel", "padding", "activation"]),
    ("batch_norm", &["momentum", "eps"]),
    ("dropout", &["rate"]),
    ("activation", &["activation"]),
    ("leaky_relu", &["alpha"]),
    ("max_pool", &["pool", "stride", "padding"]),
    ("upsample", &["factor"]),
    ("flatten", &[]),
    ("reshape", &["shape"]),
    ("noise", &["noise"]),
];

/// The top-level keys of a model file.
const TOP_KEYS: &[&str] = &[
    "name",
    "input",
    "loss",
    "epochs",
    "batch_size",
    "noise",
    "l2",
    "train_limit",
    "optimizer",
    "layers",
    "encoder_layers",
    "encoder_from",
    "target_layer",
];

/// The activations a model file names: `linear`, `relu`, `sigmoid`,
/// `softmax` (last Dense of a classifier only) and `leaky_relu` or
/// `leaky_relu:ALPHA` (Keras' default alpha 0.3).
pub const ACTIVATIONS: &str = "linear, relu, sigmoid, softmax, leaky_relu or leaky_relu:ALPHA";

/// Keras' LeakyReLU default slope.
const DEFAULT_ALPHA: f32 = 0.3;

/// Parses a model file. `default_name` names the model when the file has
/// no `name` (the CLI passes the file's stem). Errors name the layer, the
/// field and what is allowed; shapes are checked by
/// [`ModelSpec::resolve`], not here.
pub fn parse(text: &str, default_name: &str) -> Result<ModelSpec, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.to_string().trim_end()))?;
    let top = Fields::new(&table, "the file".into(), TOP_KEYS)?;
    let name = top
        .opt_str("name")?
        .map(str::to_string)
        .unwrap_or_else(|| default_name.to_string());
    if name.trim().is_empty() {
        return Err("field `name` is empty; give the model a name".into());
    }
    let input = parse_shape(&top, "input")?
        .ok_or("missing field `input`: the per-sample shape, e.g. input = [28, 28, 1] (h, w, c) or input = [784]")?;
    let loss = match top.req_str("loss", "mse, bce or cross-entropy")? {
        "mse" => Loss::Mse,
        "bce" => Loss::Bce,
        "cross-entropy" | "cross_entropy" => Loss::SoftmaxCrossEntropy,
        other => {
            return Err(format!(
                "field `loss` = {other:?} is not a loss; allowed: mse, bce, cross-entropy"
            ))
        }
    };
    let epochs = top.req_usize("epochs", 1)?;
    let batch_size = top.req_usize("batch_size", 1)?;
    let noise = match top.opt_str("noise")? {
        Some(s) => s
            .parse::<Noise>()
            .map_err(|e| format!("field `noise`: {e}"))?,
        None => Noise::None,
    };
    let l2 = top.opt_f32("l2")?.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&l2) {
        return Err(format!("field `l2` must be in [0, 1], got {l2}"));
    }
    let train_limit = top.opt_usize("train_limit", 1)?;
    let optimizer = match top.opt_table("optimizer")? {
        Some(t) => parse_optimizer(t)?,
        None => Optimizer::adam(1e-3),
    };
    let layer_tables = top.req_tables(
        "layers",
        "one [[layers]] table per layer, each with a `type`",
    )?;
    let mut layers = Vec::with_capacity(layer_tables.len());
    for (i, t) in layer_tables.iter().enumerate() {
        layers.push(parse_layer(i, t)?);
    }
    if layers.is_empty() {
        return Err("the model has no [[layers]]".into());
    }
    let encoder_layers = top.opt_usize("encoder_layers", 0)?.unwrap_or(0);
    if encoder_layers > layers.len() {
        return Err(format!(
            "field `encoder_layers` = {encoder_layers}, but the model has {} layers",
            layers.len()
        ));
    }
    let encoder_from = top.opt_str("encoder_from")?.map(str::to_string);
    let target_layer = top.opt_usize("target_layer", 0)?;
    Ok(ModelSpec {
        name,
        input,
        layers,
        loss,
        optimizer,
        l2,
        noise,
        epochs,
        batch_size,
        train_limit,
        encoder_layers,
        encoder_from,
        target_layer,
    })
}

/// `[h, w, c]` or `[features]`, every entry >= 1.
fn parse_shape(f: &Fields, key: &str) -> Result<Option<Shape>, String> {
    let Some(dims) = f.opt_usize_list(key)? else {
        return Ok(None);
    };
    match dims[..] {
        [n] => Ok(Some(Shape::flat(n))),
        [h, w, c] => Ok(Some(Shape::image(h, w, c))),
        _ => Err(format!(
            "{}: field `{key}` has {} entries; give [h, w, c] or [features]",
            f.ctx(),
            dims.len()
        )),
    }
}

fn parse_optimizer(t: &toml::Table) -> Result<Optimizer, String> {
    let kind = t.get("type").and_then(|v| v.as_str()).unwrap_or("");
    let (keys, adam): (&[&str], bool) = match kind {
        "adam" => (&["type", "lr", "beta1", "beta2", "eps"], true),
        "sgd" => (&["type", "lr", "momentum"], false),
        _ => {
            return Err(format!(
                "[optimizer]: field `type` must be \"adam\" or \"sgd\", got {}",
                t.get("type").map_or("nothing".into(), |v| v.to_string())
            ))
        }
    };
    let f = Fields::new(t, format!("[optimizer] ({kind})"), keys)?;
    let unit = |f: &Fields, key: &str, v: f32| -> Result<f32, String> {
        if (0.0..1.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "{}: field `{key}` must be in [0, 1), got {v}",
                f.ctx()
            ))
        }
    };
    // Keras' defaults: Adam(0.001, 0.9, 0.999, 1e-7), SGD(0.01, momentum 0).
    let lr = f.opt_f32("lr")?.unwrap_or(if adam { 1e-3 } else { 0.01 });
    if !(lr > 0.0 && lr <= 10.0) {
        return Err(format!(
            "{}: field `lr` must be in (0, 10], got {lr}",
            f.ctx()
        ));
    }
    if adam {
        let beta1 = unit(&f, "beta1", f.opt_f32("beta1")?.unwrap_or(0.9))?;
        let beta2 = unit(&f, "beta2", f.opt_f32("beta2")?.unwrap_or(0.999))?;
        let eps = f.opt_f32("eps")?.unwrap_or(1e-7);
        if eps <= 0.0 {
            return Err(format!("{}: field `eps` must be > 0, got {eps}", f.ctx()));
        }
        Ok(Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        })
    } else {
        let momentum = unit(&f, "momentum", f.opt_f32("momentum")?.unwrap_or(0.0))?;
        Ok(Optimizer::Sgd { lr, momentum })
    }
}

fn parse_layer(i: usize, t: &toml::Table) -> Result<LayerSpec, String> {
    let types: Vec<&str> = LAYER_TYPES.iter().map(|(n, _)| *n).collect();
    let kind = match t.get("type") {
        Some(toml::Value::String(s)) => s.as_str(),
        Some(v) => {
            return Err(format!(
                "layers[{i}]: field `type` must be a string, got {v}; allowed: {}",
                types.join(", ")
            ))
        }
        None => {
            return Err(format!(
                "layers[{i}]: missing field `type`; allowed: {}",
                types.join(", ")
            ))
        }
    };
    let Some((_, own)) = LAYER_TYPES.iter().find(|(n, _)| *n == kind) else {
        return Err(format!(
            "layers[{i}]: unknown layer type {kind:?}; allowed: {}",
            types.join(", ")
        ));
    };
    let mut keys: Vec<&str> = vec!["type", "name", "trainable"];
    keys.extend_from_slice(own);
    let f = Fields::new(t, format!("layers[{i}] ({kind})"), &keys)?;
    let act = |f: &Fields, default: Option<Act>| -> Result<Act, String> {
        match (f.opt_str("activation")?, default) {
            (Some(s), _) => {
                parse_act(s).map_err(|e| format!("{}: field `activation`: {e}", f.ctx()))
            }
            (None, Some(a)) => Ok(a),
            (None, None) => Err(format!(
                "{}: missing field `activation`; allowed: {ACTIVATIONS}",
                f.ctx()
            )),
        }
    };
    let padding = |f: &Fields| -> Result<bool, String> {
        match f.opt_str("padding")? {
            None | Some("valid") => Ok(false),
            Some("same") => Ok(true),
            Some(other) => Err(format!(
                "{}: field `padding` = {other:?}; allowed: \"same\", \"valid\"",
                f.ctx()
            )),
        }
    };
    let layer = match kind {
        "dense" => Layer::Dense {
            units: f.req_usize("units", 1)?,
            act: act(&f, Some(Act::Linear))?,
            init: match f.opt_str("init")? {
                None | Some("glorot_uniform") => Init::GlorotUniform,
                Some(s) => parse_init(s).map_err(|e| format!("{}: field `init`: {e}", f.ctx()))?,
            },
        },
        "conv2d" => Layer::Conv2d {
            filters: f.req_usize("filters", 1)?,
            kernel: f.req_usize("kernel", 1)?,
            same: padding(&f)?,
            act: act(&f, Some(Act::Linear))?,
        },
        "batch_norm" => Layer::BatchNorm {
            momentum: f.opt_f32("momentum")?.unwrap_or(0.99),
            eps: f.opt_f32("eps")?.unwrap_or(1e-3),
        },
        "dropout" => Layer::Dropout {
            rate: f.req_f32("rate")?,
        },
        "activation" => Layer::Activation(act(&f, None)?),
        "leaky_relu" => {
            Layer::Activation(Act::LeakyRelu(f.opt_f32("alpha")?.unwrap_or(DEFAULT_ALPHA)))
        }
        "max_pool" => {
            let pool = f.req_usize("pool", 1)?;
            Layer::MaxPool {
                pool,
                stride: f.opt_usize("stride", 1)?.unwrap_or(pool),
                same: padding(&f)?,
            }
        }
        "upsample" => Layer::UpSample {
            factor: f.opt_usize("factor", 1)?.unwrap_or(2),
        },
        "flatten" => Layer::Flatten,
        "reshape" => {
            let s = parse_shape(&f, "shape")?.ok_or_else(|| {
                format!(
                    "{}: missing field `shape`, e.g. shape = [4, 4, 16]",
                    f.ctx()
                )
            })?;
            Layer::Reshape {
                h: s.h,
                w: s.w,
                c: s.c,
            }
        }
        "noise" => {
            let s = f.req_str("noise", crate::kernels::noise::NOISE_SYNTAX)?;
            Layer::Noise(
                s.parse::<Noise>()
                    .map_err(|e| format!("{}: field `noise`: {e}", f.ctx()))?,
            )
        }
        _ => unreachable!("every LAYER_TYPES entry is handled"),
    };
    let mut spec = LayerSpec::new(layer);
    if let Some(n) = f.opt_str("name")? {
        spec.name = n.to_string();
    }
    if let Some(b) = f.opt_bool("trainable")? {
        spec.trainable = b;
    }
    Ok(spec)
}

/// `relu`, `leaky_relu:0.2`, ...
pub fn parse_act(s: &str) -> Result<Act, String> {
    let (kind, arg) = match s.split_once(':') {
        Some((k, a)) => (k.trim(), Some(a.trim())),
        None => (s.trim(), None),
    };
    let act = match (kind, arg) {
        ("linear", None) => Act::Linear,
        ("relu", None) => Act::Relu,
        ("sigmoid", None) => Act::Sigmoid,
        ("softmax", None) => Act::Softmax,
        ("leaky_relu", None) => Act::LeakyRelu(DEFAULT_ALPHA),
        ("leaky_relu", Some(a)) => match a.parse::<f32>() {
            Ok(a) if a.is_finite() && a >= 0.0 => Act::LeakyRelu(a),
            _ => {
                return Err(format!(
                    "leaky_relu's alpha must be a number >= 0, got {a:?}"
                ))
            }
        },
        _ => {
            return Err(format!(
                "{s:?} is not an activation; allowed: {ACTIVATIONS}"
            ))
        }
    };
    Ok(act)
}

/// `glorot_uniform` or `normal:STD`.
fn parse_init(s: &str) -> Result<Init, String> {
    match s.split_once(':') {
        Some(("normal", std)) => match std.trim().parse::<f32>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Init::Normal { std: v }),
            _ => Err(format!("normal's std must be a number > 0, got {std:?}")),
        },
        _ => Err(format!(
            "{s:?} is not an initialiser; allowed: glorot_uniform, normal:STD (e.g. normal:0.05)"
        )),
    }
}
