//! Layers, model specifications, presets and the flat parameter layout.
//!
//! A model is a [`ModelSpec`]: an input shape and a list of [`Layer`]s. The
//! scheduler in `train` turns it into pre-built GPU dispatches. Tensors are
//! row-major; an image batch is NHWC (batch, h, w, c), so a dense layer sees
//! a flattened image without any copy.

pub mod params;
pub mod presets;
pub mod summary;

use crate::kernels::activation::Activation;
use crate::kernels::noise::Noise;
use crate::optim::Optimizer;

use serde::{Deserialize, Serialize};

/// Per-sample shape (h, w, c). Dense activations are (1, 1, features).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub fn flat(n: usize) -> Shape {
        Shape { h: 1, w: 1, c: n }
    }

    pub fn image(h: usize, w: usize, c: usize) -> Shape {
        Shape { h, w, c }
    }

    pub fn size(&self) -> usize {
        self.h * self.w * self.c
    }

    pub fn is_flat(&self) -> bool {
        self.h == 1 && self.w == 1
    }

    /// Keras-style `(None, 512)` or `(None, 28, 28, 1)`.
    pub fn keras(&self) -> String {
        if self.is_flat() {
            format!("(None, {})", self.c)
        } else {
            format!("(None, {}, {}, {})", self.h, self.w, self.c)
        }
    }
}

/// How a dense layer's kernel is initialised (biases start at zero).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// Keras' default: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
    GlorotUniform,
    /// Keras' `RandomNormal`: N(0, std²) (Keras' default std is 0.05).
    Normal { std: f32 },
}

/// An activation as stored in a spec (serialisable mirror of
/// [`Activation`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Act {
    Linear,
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    /// Only as the last layer of a classifier: fused into the loss.
    Softmax,
}

impl Act {
    /// The kernel activation; softmax is applied by the loss, so the layer
    /// itself stays linear.
    pub fn kernel(self) -> Activation {
        match self {
            Act::Linear | Act::Softmax => Activation::Identity,
            Act::Relu => Activation::Relu,
            Act::LeakyRelu(a) => Activation::LeakyRelu(a),
            Act::Sigmoid => Activation::Sigmoid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Act::Linear => "linear",
            Act::Relu => "relu",
            Act::LeakyRelu(_) => "leaky_relu",
            Act::Sigmoid => "sigmoid",
            Act::Softmax => "softmax",
        }
    }
}

/// One layer of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    /// y = act(x·W + b), W: (in, units).
    Dense { units: usize, act: Act, init: Init },
    /// Normalises each feature (or channel) over the batch.
    BatchNorm { momentum: f32, eps: f32 },
    /// Zeroes units with probability `rate` in training, scaling the rest by
    /// 1/(1-rate); the identity in inference.
    Dropout { rate: f32 },
    /// A standalone activation (e.g. LeakyReLU after BatchNorm).
    Activation(Act),
    /// 2-D convolution over NHWC images, stride 1: y = act(conv(x, W) + b),
    /// W: (k, k, in_channels, filters).
    Conv2d {
        filters: usize,
        kernel: usize,
        same: bool,
        act: Act,
    },
    /// Max-pooling with a square window; `same` pads at the end (Keras).
    MaxPool {
        pool: usize,
        stride: usize,
        same: bool,
    },
    /// Nearest-neighbour upsampling by an integer factor.
    UpSample { factor: usize },
    /// (h, w, c) -> (h·w·c): a view, no copy.
    Flatten,
    /// (n) -> (h, w, c): a view, no copy.
    Reshape { h: usize, w: usize, c: usize },
    /// Corrupts its input in training only (Keras' GaussianNoise and
    /// friends); the identity in inference.
    Noise(Noise),
}

impl Layer {
    pub fn dense(units: usize, act: Act) -> LayerSpec {
        LayerSpec::new(Layer::Dense {
            units,
            act,
            init: Init::GlorotUniform,
        })
    }

    pub fn batchnorm() -> LayerSpec {
        LayerSpec::new(Layer::BatchNorm {
            momentum: 0.99,
            eps: 1e-3,
        })
    }

    pub fn dropout(rate: f32) -> LayerSpec {
        LayerSpec::new(Layer::Dropout { rate })
    }

    pub fn act(a: Act) -> LayerSpec {
        LayerSpec::new(Layer::Activation(a))
    }

    pub fn conv(filters: usize, kernel: usize, same: bool, act: Act) -> LayerSpec {
        LayerSpec::new(Layer::Conv2d {
            filters,
            kernel,
            same,
            act,
        })
    }

    pub fn maxpool(pool: usize, same: bool) -> LayerSpec {
        LayerSpec::new(Layer::MaxPool {
            pool,
            stride: pool,
            same,
        })
    }

    pub fn upsample(factor: usize) -> LayerSpec {
        LayerSpec::new(Layer::UpSample { factor })
    }

    pub fn flatten() -> LayerSpec {
        LayerSpec::new(Layer::Flatten)
    }

    pub fn noise(n: Noise) -> LayerSpec {
        LayerSpec::new(Layer::Noise(n))
    }

    pub fn reshape(h: usize, w: usize, c: usize) -> LayerSpec {
        LayerSpec::new(Layer::Reshape { h, w, c })
    }

    /// True for layers whose output is their input under another shape.
    pub fn is_view(&self) -> bool {
        matches!(self, Layer::Flatten | Layer::Reshape { .. })
    }

    pub fn has_params(&self) -> bool {
        matches!(
            self,
            Layer::Dense { .. } | Layer::BatchNorm { .. } | Layer::Conv2d { .. }
        )
    }

    /// Keras' class name, for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense { .. } => "Dense",
            Layer::BatchNorm { .. } => "BatchNormalization",
            Layer::Dropout { .. } => "Dropout",
            Layer::Activation(Act::LeakyRelu(_)) => "LeakyReLU",
            Layer::Activation(_) => "Activation",
            Layer::Conv2d { .. } => "Conv2D",
            Layer::MaxPool { .. } => "MaxPooling2D",
            Layer::UpSample { .. } => "UpSampling2D",
            Layer::Flatten => "Flatten",
            Layer::Reshape { .. } => "Reshape",
            Layer::Noise(_) => "Noise",
        }
    }

    /// Keras' default instance-name stem.
    pub fn stem(&self) -> &'static str {
        match self {
            Layer::Dense { .. } => "dense",
            Layer::BatchNorm { .. } => "batch_normalization",
            Layer::Dropout { .. } => "dropout",
            Layer::Activation(Act::LeakyRelu(_)) => "leaky_re_lu",
            Layer::Activation(_) => "activation",
            Layer::Conv2d { .. } => "conv2d",
            Layer::MaxPool { .. } => "max_pooling2d",
            Layer::UpSample { .. } => "up_sampling2d",
            Layer::Flatten => "flatten",
            Layer::Reshape { .. } => "reshape",
            Layer::Noise(_) => "noise",
        }
    }

    /// The shape this layer produces from `input`, or why it cannot.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, String> {
        match self {
            Layer::Dense { units, .. } => {
                if *units == 0 {
                    return Err("a Dense layer needs at least one unit".into());
                }
                Ok(Shape::flat(*units))
            }
            Layer::BatchNorm { momentum, eps } => {
                if !(0.0..1.0).contains(momentum) || *eps <= 0.0 {
                    return Err(format!(
                        "BatchNorm needs 0 <= momentum < 1 and eps > 0 (got {momentum}, {eps})"
                    ));
                }
                Ok(input)
            }
            Layer::Dropout { rate } => {
                if !(0.0..1.0).contains(rate) {
                    return Err(format!("Dropout rate must be in [0, 1), got {rate}"));
                }
                Ok(input)
            }
            Layer::Activation(Act::Softmax) => {
                Err("softmax is only supported as the last Dense layer's activation".into())
            }
            Layer::Activation(_) => Ok(input),
            Layer::Conv2d {
                filters,
                kernel,
                same,
                ..
            } => {
                if input.is_flat() && input.h * input.w == 1 && input.c > 1 && *kernel > 1 {
                    return Err(format!(
                        "Conv2D needs an image input, got {} (add a Reshape)",
                        input.keras()
                    ));
                }
                if *filters == 0 || *kernel == 0 || kernel % 2 == 0 {
                    return Err(format!(
                        "Conv2D needs filters >= 1 and an odd kernel size, got {filters} filters of {kernel}x{kernel}"
                    ));
                }
                if *same {
                    Ok(Shape::image(input.h, input.w, *filters))
                } else if input.h < *kernel || input.w < *kernel {
                    Err(format!(
                        "a valid {kernel}x{kernel} convolution does not fit a {}x{} input",
                        input.h, input.w
                    ))
                } else {
                    Ok(Shape::image(
                        input.h - kernel + 1,
                        input.w - kernel + 1,
                        *filters,
                    ))
                }
            }
            Layer::MaxPool { pool, stride, same } => {
                if *pool == 0 || *stride != *pool {
                    return Err(format!(
                        "MaxPooling2D supports pool == stride >= 1, got pool {pool}, stride {stride}"
                    ));
                }
                if *same {
                    Ok(Shape::image(
                        input.h.div_ceil(*stride),
                        input.w.div_ceil(*stride),
                        input.c,
                    ))
                } else if input.h < *pool || input.w < *pool {
                    Err(format!(
                        "a {pool}x{pool} pool does not fit a {}x{} input",
                        input.h, input.w
                    ))
                } else {
                    Ok(Shape::image(
                        (input.h - pool) / stride + 1,
                        (input.w - pool) / stride + 1,
                        input.c,
                    ))
                }
            }
            Layer::UpSample { factor } => {
                if *factor == 0 {
                    return Err("UpSampling2D needs a factor >= 1".into());
                }
                Ok(Shape::image(input.h * factor, input.w * factor, input.c))
            }
            Layer::Flatten => Ok(Shape::flat(input.size())),
            Layer::Noise(_) => Ok(input),
            Layer::Reshape { h, w, c } => {
                if h * w * c != input.size() {
                    return Err(format!(
                        "cannot reshape {} ({} values) to ({h}, {w}, {c})",
                        input.keras(),
                        input.size()
                    ));
                }
                Ok(Shape::image(*h, *w, *c))
            }
        }
    }
}

/// A layer with its name and whether its parameters train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    pub layer: Layer,
    /// Empty: named automatically, Keras-style (`dense_1`).
    pub name: String,
    pub trainable: bool,
}

impl LayerSpec {
    pub fn new(layer: Layer) -> LayerSpec {
        LayerSpec {
            layer,
            name: String::new(),
            trainable: true,
        }
    }

    pub fn init(mut self, init: Init) -> LayerSpec {
        if let Layer::Dense { init: i, .. } = &mut self.layer {
            *i = init;
        }
        self
    }

    pub fn frozen(mut self) -> LayerSpec {
        self.trainable = false;
        self
    }
}

/// What the model is trained to do and with which loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Reconstruct the clean input; mean squared error.
    Mse,
    /// Reconstruct the clean input; binary cross-entropy on a sigmoid output.
    Bce,
    /// Classify into the output units; softmax cross-entropy.
    SoftmaxCrossEntropy,
}

impl Loss {
    pub fn is_classifier(self) -> bool {
        matches!(self, Loss::SoftmaxCrossEntropy)
    }

    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Bce => "bce",
            Loss::SoftmaxCrossEntropy => "cross-entropy",
        }
    }
}

/// A whole training configuration: architecture, loss, optimizer and the
/// defaults of its study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub name: String,
    pub input: Shape,
    pub layers: Vec<LayerSpec>,
    pub loss: Loss,
    pub optimizer: Optimizer,
    /// Keras l2(factor) on every Dense kernel (0 for none).
    pub l2: f32,
    pub noise: Noise,
    pub epochs: usize,
    pub batch_size: usize,
    /// Train on only the first N training images (the stacked study uses
    /// 50,000); `None` for all.
    pub train_limit: Option<usize>,
    /// The first `encoder_layers` layers come from an autoencoder's
    /// checkpoint (matched by layer name), e.g. a classifier on a trained
    /// encoder; 0 for none.
    pub encoder_layers: usize,
    /// The preset whose checkpoint provides the encoder.
    pub encoder_from: Option<String>,
    /// For an autoencoder: reconstruct the output of this layer (e.g. a
    /// frozen encoder's codes, in layer-wise pretraining) instead of the
    /// clean input.
    pub target_layer: Option<usize>,
}

/// A spec with every layer's name and shapes resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub names: Vec<String>,
    pub inputs: Vec<Shape>,
    pub outputs: Vec<Shape>,
}

impl ModelSpec {
    /// Names every layer and checks that each accepts its input, that the
    /// last layer fits the loss and that the output matches the target.
    pub fn resolve(&self, classes: usize) -> Result<Resolved, String> {
        let r = self.resolve_layers()?;
        let shape = *r.outputs.last().expect("resolve_layers checks for layers");
        let outputs = &r.outputs;
        let last = self.layers.last().map(|l| &l.layer);
        self.check_loss(classes, shape, outputs, last)?;
        Ok(r)
    }

    /// Names and shapes only, without checking the output against a loss:
    /// for running part of a model (an encoder, a decoder).
    pub fn resolve_layers(&self) -> Result<Resolved, String> {
        if self.layers.is_empty() {
            return Err(format!("model {} has no layers", self.name));
        }
        let mut counts = std::collections::HashMap::new();
        let mut names = Vec::new();
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut shape = self.input;
        for (i, l) in self.layers.iter().enumerate() {
            let n = counts.entry(l.layer.stem()).or_insert(0usize);
            let name = if l.name.is_empty() {
                if *n == 0 {
                    l.layer.stem().to_string()
                } else {
                    format!("{}_{}", l.layer.stem(), n)
                }
            } else {
                l.name.clone()
            };
            *n += 1;
            let out = l
                .layer
                .output_shape(shape)
                .map_err(|e| format!("layer {i} ({name}): {e}"))?;
            if let Layer::Dense {
                act: Act::Softmax, ..
            } = l.layer
            {
                if i + 1 != self.layers.len() || self.loss != Loss::SoftmaxCrossEntropy {
                    return Err(format!(
                        "layer {i} ({name}): softmax is only supported on the last layer of a cross-entropy classifier"
                    ));
                }
            }
            names.push(name);
            inputs.push(shape);
            outputs.push(out);
            shape = out;
        }
        Ok(Resolved {
            names,
            inputs,
            outputs,
        })
    }

    fn check_loss(
        &self,
        classes: usize,
        shape: Shape,
        outputs: &[Shape],
        last: Option<&Layer>,
    ) -> Result<(), String> {
        match self.loss {
            Loss::SoftmaxCrossEntropy => {
                if shape.size() != classes {
                    return Err(format!(
                        "a classifier must end in {classes} units, but {} ends in {}",
                        self.name,
                        shape.size()
                    ));
                }
                if !matches!(
                    last,
                    Some(Layer::Dense {
                        act: Act::Softmax,
                        ..
                    })
                ) {
                    return Err(
                        "a cross-entropy classifier must end in a Dense softmax layer".into(),
                    );
                }
            }
            Loss::Mse | Loss::Bce => {
                let target = match self.target_layer {
                    Some(k) if k + 1 >= self.layers.len() => {
                        return Err(format!(
                            "target layer {k} must come before the last layer {}",
                            self.layers.len() - 1
                        ))
                    }
                    Some(k) => outputs[k],
                    None => self.input,
                };
                if shape.size() != target.size() {
                    return Err(format!(
                        "an autoencoder must reconstruct its {} targets, but {} ends in {}",
                        target.size(),
                        self.name,
                        shape.size()
                    ));
                }
                if shape.size() != self.input.size() && self.target_layer.is_none() {
                    return Err(format!(
                        "an autoencoder must reconstruct its {} inputs, but {} ends in {}",
                        self.input.size(),
                        self.name,
                        shape.size()
                    ));
                }
                if self.loss == Loss::Bce
                    && !matches!(
                        last,
                        Some(Layer::Dense {
                            act: Act::Sigmoid,
                            ..
                        }) | Some(Layer::Conv2d {
                            act: Act::Sigmoid,
                            ..
                        })
                    )
                {
                    return Err("binary cross-entropy needs a sigmoid output layer".into());
                }
            }
        }
        Ok(())
    }
}
