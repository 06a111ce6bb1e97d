//! The flat parameter layout: every parameter of a model lives in one GPU
//! buffer, with named views into it (llm.c style).
//!
//! Order: the trainable parameters of trainable layers first, so that the
//! gradient buffer, the optimizer state and the one optimizer dispatch cover
//! exactly `[0, trainable_len)`; then the parameters of frozen layers; then
//! BatchNorm's running statistics (state, not parameters: no gradient).
//! Each tensor starts on a multiple of [`ALIGN`] words so kernels may use
//! vector loads; the gaps hold zeros and get zero gradients.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr_lite::normal;

use super::{Init, Layer, ModelSpec, Resolved, MAX_TENSOR_WORDS};

/// Alignment of every parameter tensor, in 32-bit words (256 bytes).
pub const ALIGN: usize = 64;

/// What a parameter tensor is to its layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A Dense (in, units) or Conv2d (k, k, in_channels, filters) weight.
    Kernel,
    /// A Dense or Conv2d bias, one per output unit or channel.
    Bias,
    /// BatchNorm's scale, one per channel.
    Gamma,
    /// BatchNorm's shift, one per channel.
    Beta,
    /// BatchNorm's running mean, one per channel: state, used in inference.
    MovingMean,
    /// BatchNorm's running variance, one per channel: state, used in
    /// inference.
    MovingVariance,
}

impl Role {
    /// Keras' weight name (`kernel`, `moving_mean`), the part after the `/`
    /// in a [`ParamEntry::name`].
    pub fn keras_name(self) -> &'static str {
        match self {
            Role::Kernel => "kernel",
            Role::Bias => "bias",
            Role::Gamma => "gamma",
            Role::Beta => "beta",
            Role::MovingMean => "moving_mean",
            Role::MovingVariance => "moving_variance",
        }
    }

    /// Running statistics are state, never trained.
    pub fn is_state(self) -> bool {
        matches!(self, Role::MovingMean | Role::MovingVariance)
    }
}

/// One named tensor inside the flat buffer.
#[derive(Clone, Debug)]
pub struct ParamEntry {
    /// Index of its layer in the spec.
    pub layer: usize,
    /// `dense_1/kernel`.
    pub name: String,
    /// What it is to its layer.
    pub role: Role,
    /// Its shape, row-major (a Dense kernel is (in, units)).
    pub shape: Vec<usize>,
    /// Where it starts in the flat buffer, in 32-bit words; a multiple of
    /// [`ALIGN`].
    pub offset: usize,
    /// Its values: the product of `shape`.
    pub len: usize,
    /// Gets a gradient and an optimizer update.
    pub trainable: bool,
}

/// Where every parameter tensor of a model lives in the one flat f32
/// buffer, in the order the module documentation gives.
#[derive(Clone, Debug)]
pub struct ParamLayout {
    /// Every tensor, in buffer order.
    pub entries: Vec<ParamEntry>,
    /// Words covered by gradients and optimizer state.
    pub trainable_len: usize,
    /// Words of the whole parameter buffer.
    pub total_len: usize,
}

impl ParamLayout {
    /// The layout of a spec that [`ModelSpec::resolve`] (or
    /// `resolve_layers`) accepted: cheap, it allocates one entry per tensor,
    /// never per parameter.
    ///
    /// # Panics
    /// If `resolved` is not the resolution of `spec`; resolve already ran
    /// [`ParamLayout::try_new`], so for its result this cannot fail.
    pub fn new(spec: &ModelSpec, resolved: &Resolved) -> ParamLayout {
        Self::try_new(spec, resolved)
            .unwrap_or_else(|e| panic!("ParamLayout::new on a spec resolve did not accept: {e}"))
    }

    /// The layout, with every size computed in checked u64 arithmetic: an
    /// error naming the layer and the field when a tensor or the whole
    /// buffer would exceed [`MAX_TENSOR_WORDS`] (parameter offsets reach the
    /// shaders as u32 word indices).
    pub fn try_new(spec: &ModelSpec, resolved: &Resolved) -> Result<ParamLayout, String> {
        if resolved.inputs.len() != spec.layers.len() || resolved.names.len() != spec.layers.len() {
            return Err(format!(
                "model {}: its resolution has {} layers, the spec {}",
                spec.name,
                resolved.inputs.len(),
                spec.layers.len()
            ));
        }
        let mut wanted = Vec::new();
        for (i, l) in spec.layers.iter().enumerate() {
            let input = resolved.inputs[i];
            let name = &resolved.names[i];
            let mut want = |role: Role, shape: Vec<usize>, trainable: bool, field: &str| {
                let len = shape
                    .iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?));
                match len {
                    Some(n) if n <= MAX_TENSOR_WORDS => {
                        wanted.push((i, name, role, shape, trainable));
                        Ok(())
                    }
                    _ => Err(format!(
                        "layer {i} ({name}): its {} of {} = {} values exceeds the {MAX_TENSOR_WORDS} \
                         one GPU tensor can hold (shaders index 32-bit words with u32). Fix: reduce {field}",
                        role.keras_name(),
                        shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" × "),
                        len.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                    )),
                }
            };
            match &l.layer {
                Layer::Dense { units, .. } => {
                    let field = "its units (or the size of its input)";
                    want(Role::Kernel, vec![input.size(), *units], l.trainable, field)?;
                    want(Role::Bias, vec![*units], l.trainable, field)?;
                }
                Layer::BatchNorm { .. } => {
                    let c = input.c;
                    let field = "the channels of its input";
                    want(Role::Gamma, vec![c], l.trainable, field)?;
                    want(Role::Beta, vec![c], l.trainable, field)?;
                    want(Role::MovingMean, vec![c], false, field)?;
                    want(Role::MovingVariance, vec![c], false, field)?;
                }
                Layer::Conv2d {
                    filters, kernel, ..
                } => {
                    let field = "its filters or kernel size (or its input's channels)";
                    let shape = vec![*kernel, *kernel, input.c, *filters];
                    want(Role::Kernel, shape, l.trainable, field)?;
                    want(Role::Bias, vec![*filters], l.trainable, field)?;
                }
                _ => {}
            }
        }
        let mut entries = Vec::new();
        let mut at: u64 = 0;
        // Three passes give the documented order.
        for pass in 0..3 {
            for (layer, name, role, shape, trainable) in &wanted {
                let this_pass = if role.is_state() {
                    2
                } else if *trainable {
                    0
                } else {
                    1
                };
                if this_pass != pass {
                    continue;
                }
                // Each len is at most MAX_TENSOR_WORDS (checked above), so it
                // and the running offset (checked below) fit in usize.
                let len: usize = shape.iter().product();
                entries.push(ParamEntry {
                    layer: *layer,
                    name: format!("{name}/{}", role.keras_name()),
                    role: *role,
                    shape: shape.clone(),
                    offset: at as usize,
                    len,
                    trainable: *trainable && !role.is_state(),
                });
                at += (len as u64).div_ceil(ALIGN as u64) * ALIGN as u64;
                if at > MAX_TENSOR_WORDS {
                    let widest = entries.iter().max_by_key(|e| e.len).map_or("", |e| &e.name);
                    return Err(format!(
                        "model {}: its parameters need more than {MAX_TENSOR_WORDS} words in one \
                         GPU buffer (shaders address it with u32 word offsets). Fix: reduce the \
                         units or filters of the largest layers (the largest tensor so far is {widest})",
                        spec.name
                    ));
                }
            }
        }
        let trainable_len = entries
            .iter()
            .filter(|e| e.trainable)
            .map(|e| e.offset + e.len.div_ceil(ALIGN) * ALIGN)
            .max()
            .unwrap_or(0);
        Ok(ParamLayout {
            entries,
            trainable_len,
            total_len: at as usize,
        })
    }

    /// The tensor of `role` in layer `layer`, if that layer has one.
    pub fn find(&self, layer: usize, role: Role) -> Option<&ParamEntry> {
        self.entries
            .iter()
            .find(|e| e.layer == layer && e.role == role)
    }

    /// Offset of a parameter the caller knows exists (built from the same
    /// spec).
    pub fn offset(&self, layer: usize, role: Role) -> usize {
        self.find(layer, role)
            .unwrap_or_else(|| panic!("layer {layer} has no {role:?}"))
            .offset
    }

    /// (total, trainable, non-trainable) parameter counts as Keras reports
    /// them: frozen layers' weights and running statistics are
    /// non-trainable.
    pub fn counts(&self) -> (usize, usize, usize) {
        let total: usize = self.entries.iter().map(|e| e.len).sum();
        let trainable: usize = self
            .entries
            .iter()
            .filter(|e| e.trainable)
            .map(|e| e.len)
            .sum();
        (total, trainable, total - trainable)
    }

    /// Parameters of one layer (Keras' "Param #").
    pub fn layer_count(&self, layer: usize) -> usize {
        self.entries
            .iter()
            .filter(|e| e.layer == layer)
            .map(|e| e.len)
            .sum()
    }

    /// Initial values: kernels per their [`Init`], biases and beta zero,
    /// gamma and moving variance one, moving mean zero.
    pub fn init(&self, spec: &ModelSpec, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = vec![0.0f32; self.total_len];
        // Draw in layer order so the values do not depend on the layout.
        let mut order: Vec<&ParamEntry> = self.entries.iter().collect();
        order.sort_by_key(|e| (e.layer, e.role as u8));
        for e in order {
            let dst = &mut out[e.offset..e.offset + e.len];
            match e.role {
                Role::Kernel => {
                    let init = match &spec.layers[e.layer].layer {
                        Layer::Dense { init, .. } => *init,
                        _ => Init::GlorotUniform,
                    };
                    // Keras' fans: for a (k, k, cin, cout) kernel, fan_in =
                    // k·k·cin and fan_out = k·k·cout.
                    let receptive: usize =
                        e.shape[..e.shape.len().saturating_sub(2)].iter().product();
                    let fan_in = receptive * e.shape[e.shape.len() - 2];
                    let fan_out = receptive * e.shape[e.shape.len() - 1];
                    match init {
                        Init::GlorotUniform => {
                            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
                            for v in dst {
                                *v = rng.random_range(-limit..limit);
                            }
                        }
                        Init::Normal { std } => {
                            for v in dst {
                                *v = normal(&mut rng) * std;
                            }
                        }
                    }
                }
                Role::Gamma | Role::MovingVariance => dst.fill(1.0),
                Role::Bias | Role::Beta | Role::MovingMean => dst.fill(0.0),
            }
        }
        out
    }
}

/// A standard normal draw without another dependency.
mod rand_distr_lite {
    use rand::Rng;

    pub fn normal(rng: &mut impl Rng) -> f32 {
        // Box-Muller; 1 - u keeps the log finite.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}
