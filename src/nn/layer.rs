//! The layers a model is built from, and the shape each one produces.

use serde::{Deserialize, Serialize};

use super::{Act, Init, LayerSpec, Shape, MAX_TENSOR_WORDS};
use crate::kernels::noise::Noise;

/// One layer of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    /// y = act(x·W + b), W: (in, units).
    Dense {
        /// Output features per sample.
        units: usize,
        /// Applied to x·W + b.
        act: Act,
        /// How W is initialised (b starts at zero).
        init: Init,
    },
    /// Normalises each feature (or channel) over the batch.
    BatchNorm {
        /// Weight of the old running statistics in each update, in [0, 1)
        /// (Keras' default 0.99).
        momentum: f32,
        /// Added to the variance before its square root, > 0 (Keras'
        /// default 1e-3).
        eps: f32,
    },
    /// Zeroes units with probability `rate` in training, scaling the rest by
    /// 1/(1-rate); the identity in inference.
    Dropout {
        /// Probability of zeroing each unit, in [0, 1).
        rate: f32,
    },
    /// A standalone activation (e.g. LeakyReLU after BatchNorm).
    Activation(Act),
    /// 2-D convolution over NHWC images, stride 1: y = act(conv(x, W) + b),
    /// W: (k, k, in_channels, filters).
    Conv2d {
        /// Output channels.
        filters: usize,
        /// Side of the square window in pixels; odd.
        kernel: usize,
        /// Zero-pads so the output keeps the input's height and width
        /// (Keras' `padding="same"`); `false` is `"valid"`, which shrinks
        /// each side by `kernel - 1`.
        same: bool,
        /// Applied to conv(x, W) + b.
        act: Act,
    },
    /// Max-pooling with a square window (Keras `MaxPooling2D`).
    MaxPool {
        /// Side of the square window in pixels.
        pool: usize,
        /// Step between windows in pixels; must equal `pool`.
        stride: usize,
        /// Keras' `padding="same"`: output ceil(h / stride) ×
        /// ceil(w / stride), the incomplete windows at the edges padded with
        /// values that never win; `false` (`"valid"`) drops them.
        same: bool,
    },
    /// Nearest-neighbour upsampling by an integer factor.
    UpSample {
        /// Each pixel becomes a factor × factor block; >= 1.
        factor: usize,
    },
    /// (h, w, c) -> (h·w·c): a view, no copy.
    Flatten,
    /// (n) -> (h, w, c): a view, no copy.
    Reshape {
        /// Output height in pixels.
        h: usize,
        /// Output width in pixels.
        w: usize,
        /// Output channels.
        c: usize,
    },
    /// Corrupts its input in training only (Keras' GaussianNoise and
    /// friends); the identity in inference.
    Noise(Noise),
}

impl Layer {
    /// A trainable [`Layer::Dense`] of `units` outputs with Glorot-uniform
    /// initialisation (change it with [`LayerSpec::init`]).
    pub fn dense(units: usize, act: Act) -> LayerSpec {
        LayerSpec::new(Layer::Dense {
            units,
            act,
            init: Init::GlorotUniform,
        })
    }

    /// A [`Layer::BatchNorm`] with Keras' defaults: momentum 0.99, eps 1e-3.
    pub fn batchnorm() -> LayerSpec {
        LayerSpec::new(Layer::BatchNorm {
            momentum: 0.99,
            eps: 1e-3,
        })
    }

    /// A [`Layer::Dropout`] zeroing each unit with probability `rate`.
    pub fn dropout(rate: f32) -> LayerSpec {
        LayerSpec::new(Layer::Dropout { rate })
    }

    /// A standalone [`Layer::Activation`].
    pub fn act(a: Act) -> LayerSpec {
        LayerSpec::new(Layer::Activation(a))
    }

    /// A [`Layer::Conv2d`] of `filters` output channels and a `kernel` × `kernel`
    /// window, "same" or "valid" padded.
    pub fn conv(filters: usize, kernel: usize, same: bool, act: Act) -> LayerSpec {
        LayerSpec::new(Layer::Conv2d {
            filters,
            kernel,
            same,
            act,
        })
    }

    /// A [`Layer::MaxPool`] with a `pool` × `pool` window and stride `pool`.
    pub fn maxpool(pool: usize, same: bool) -> LayerSpec {
        LayerSpec::new(Layer::MaxPool {
            pool,
            stride: pool,
            same,
        })
    }

    /// A [`Layer::UpSample`] by `factor` along height and width.
    pub fn upsample(factor: usize) -> LayerSpec {
        LayerSpec::new(Layer::UpSample { factor })
    }

    /// A [`Layer::Flatten`]: (h, w, c) images to (h·w·c) vectors.
    pub fn flatten() -> LayerSpec {
        LayerSpec::new(Layer::Flatten)
    }

    /// A [`Layer::Noise`] applying `n` in training only.
    pub fn noise(n: Noise) -> LayerSpec {
        LayerSpec::new(Layer::Noise(n))
    }

    /// A [`Layer::Reshape`] to (h, w, c); the input must hold h·w·c values.
    pub fn reshape(h: usize, w: usize, c: usize) -> LayerSpec {
        LayerSpec::new(Layer::Reshape { h, w, c })
    }

    /// True for layers whose output is their input under another shape.
    pub fn is_view(&self) -> bool {
        matches!(self, Layer::Flatten | Layer::Reshape { .. })
    }

    /// True for layers with entries in the parameter buffer (Dense, Conv2d and
    /// BatchNorm, whose running statistics count too).
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

    /// The shape this layer produces from `input`, or why it cannot: a
    /// bad field, or an output of more than [`MAX_TENSOR_WORDS`] values per
    /// sample. Never overflows or panics, whatever the field values.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, String> {
        let out = self.raw_output_shape(input)?;
        match out.elements() {
            Some(n) if (1..=MAX_TENSOR_WORDS).contains(&n) => Ok(out),
            _ => Err(format!(
                "its output {} holds {} values per sample, over the {} one GPU tensor can \
                 hold (shaders index 32-bit words with u32). Fix: reduce {}",
                out.keras(),
                out.elements()
                    .map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                MAX_TENSOR_WORDS,
                self.size_field()
            )),
        }
    }

    /// The field that sets the size of this layer's output.
    fn size_field(&self) -> &'static str {
        match self {
            Layer::Dense { .. } => "its units",
            Layer::Conv2d { .. } => "its filters or the input size",
            Layer::UpSample { .. } => "its factor",
            Layer::Reshape { .. } => "its h, w and c",
            _ => "the size of its input",
        }
    }

    fn raw_output_shape(&self, input: Shape) -> Result<Shape, String> {
        match self {
            Layer::Dense { units, .. } => {
                if *units == 0 {
                    return Err("a Dense layer needs at least one unit".into());
                }
                Ok(Shape::flat(*units))
            }
            Layer::BatchNorm { momentum, eps } => {
                if !((0.0..1.0).contains(momentum) && eps.is_finite() && *eps > 0.0) {
                    return Err(format!(
                        "BatchNorm needs 0 <= momentum < 1 and a finite eps > 0 (got {momentum}, {eps})"
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
                if input.is_flat() && input.c > 1 && *kernel > 1 {
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
                match (input.h.checked_mul(*factor), input.w.checked_mul(*factor)) {
                    (Some(h), Some(w)) => Ok(Shape::image(h, w, input.c)),
                    _ => Err(format!(
                        "UpSampling2D by a factor of {factor} overflows a {}x{} input. Fix: reduce its factor",
                        input.h, input.w
                    )),
                }
            }
            Layer::Flatten => Ok(Shape::flat(input.size())),
            Layer::Noise(_) => Ok(input),
            Layer::Reshape { h, w, c } => {
                let target = Shape::image(*h, *w, *c);
                if target.elements().is_none() || target.elements() != input.elements() {
                    return Err(format!(
                        "cannot reshape {} ({} values) to ({h}, {w}, {c})",
                        input.keras(),
                        input.size()
                    ));
                }
                Ok(target)
            }
        }
    }
}
