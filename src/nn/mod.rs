//! Layers, model specifications, presets, the flat parameter layout and
//! the memory budget of a run.
//!
//! A model is a [`ModelSpec`]: an input shape and a list of [`Layer`]s. The
//! scheduler in `train` turns it into pre-built GPU dispatches. Tensors are
//! row-major; an image batch is NHWC (batch, h, w, c), so a dense layer sees
//! a flattened image without any copy.

pub mod budget;
pub mod file;
mod layer;
pub mod params;
pub mod presets;
mod resolve;
pub mod summary;

pub use layer::Layer;
pub use resolve::Resolved;

use crate::kernels::activation::Activation;
use crate::kernels::noise::Noise;
use crate::optim::Optimizer;

use serde::{Deserialize, Serialize};

/// The most 32-bit words one GPU tensor may hold: u32::MAX / 4, so that its
/// size in bytes fits in 32 bits (a storage binding's range is a 32-bit
/// quantity on Vulkan and D3D12) and the shaders' u32 element indices, vec4
/// lane indices (4 × word index) and padded grids never wrap. Packed u8 data
/// (the dataset) is indexed by byte, which this bound keeps under 2^32 too.
/// Every per-sample shape, every parameter tensor and the whole parameter
/// buffer of a resolved spec stay within it; [`budget::check`] holds every
/// batch-sized buffer to it.
pub const MAX_TENSOR_WORDS: u64 = u32::MAX as u64 / 4;

/// Per-sample shape (h, w, c). Dense activations are (1, 1, features).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Height in pixels (1 for dense activations).
    pub h: usize,
    /// Width in pixels (1 for dense activations).
    pub w: usize,
    /// Channels, or features of a flat shape.
    pub c: usize,
}

impl Shape {
    /// A vector of `n` features: (1, 1, n).
    pub fn flat(n: usize) -> Shape {
        Shape { h: 1, w: 1, c: n }
    }

    /// An image of `h` × `w` pixels and `c` channels.
    pub fn image(h: usize, w: usize, c: usize) -> Shape {
        Shape { h, w, c }
    }

    /// Values per sample. Saturates instead of overflowing: shapes that
    /// [`ModelSpec::resolve`] accepted hold at most [`MAX_TENSOR_WORDS`].
    pub fn size(&self) -> usize {
        self.h.saturating_mul(self.w).saturating_mul(self.c)
    }

    /// Values per sample, or `None` if the product overflows 64 bits.
    pub fn elements(&self) -> Option<u64> {
        let d = |x: usize| u64::try_from(x).ok();
        d(self.h)?.checked_mul(d(self.w)?)?.checked_mul(d(self.c)?)
    }

    /// True for (1, 1, c): a vector rather than an image.
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
    Normal {
        /// Standard deviation of the draws.
        std: f32,
    },
}

/// An activation as stored in a spec (serialisable mirror of
/// [`Activation`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Act {
    /// The identity.
    Linear,
    /// max(0, x).
    Relu,
    /// x for x > 0, alpha·x otherwise, with alpha the value held.
    LeakyRelu(f32),
    /// 1 / (1 + e^-x), in (0, 1): the output of a BCE autoencoder.
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

    /// Keras' name of the activation (`leaky_relu`), for summaries.
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

/// A layer with its name and whether its parameters train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// What the layer computes.
    pub layer: Layer,
    /// Empty: named automatically, Keras-style (`dense_1`).
    pub name: String,
    /// Its parameters get gradients and optimizer updates; `false` freezes
    /// them (e.g. a pretrained encoder).
    pub trainable: bool,
}

impl LayerSpec {
    /// `layer`, trainable and named automatically.
    pub fn new(layer: Layer) -> LayerSpec {
        LayerSpec {
            layer,
            name: String::new(),
            trainable: true,
        }
    }

    /// Sets how a Dense layer's kernel is initialised; other layers are
    /// returned unchanged.
    pub fn init(mut self, init: Init) -> LayerSpec {
        if let Layer::Dense { init: i, .. } = &mut self.layer {
            *i = init;
        }
        self
    }

    /// Freezes the layer: its parameters keep their values while training.
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
    /// True for a classification loss (the target is a label, not an image).
    pub fn is_classifier(self) -> bool {
        matches!(self, Loss::SoftmaxCrossEntropy)
    }

    /// Short name for logs and reports (`mse`, `bce`, `cross-entropy`).
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
    /// Name of the model (a preset's name), shown in summaries and logs and
    /// stored in checkpoints.
    pub name: String,
    /// Per-sample input shape.
    pub input: Shape,
    /// The layers in order, input to output.
    pub layers: Vec<LayerSpec>,
    /// What the model is trained to do.
    pub loss: Loss,
    /// The optimizer and its hyper-parameters.
    pub optimizer: Optimizer,
    /// Keras l2(factor) on every Dense kernel (0 for none).
    pub l2: f32,
    /// The corruption applied to the inputs of each training batch (a
    /// denoising autoencoder's noise); [`Noise::None`] for none.
    pub noise: Noise,
    /// Default number of passes over the training set.
    pub epochs: usize,
    /// Default images per training step.
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
