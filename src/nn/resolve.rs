//! Resolving a spec: naming every layer, computing its shapes and checking
//! that every size fits the GPU's 32-bit indexing, so that nothing sized by
//! the spec can overflow later.

use super::params::ParamLayout;
use super::{Act, Layer, Loss, ModelSpec, Shape, MAX_TENSOR_WORDS};

/// A spec with every layer's name and shapes resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Every layer's name, given or automatic (`dense_1`).
    pub names: Vec<String>,
    /// Every layer's per-sample input shape.
    pub inputs: Vec<Shape>,
    /// Every layer's per-sample output shape.
    pub outputs: Vec<Shape>,
}

impl ModelSpec {
    /// Names every layer and checks that each accepts its input, that the
    /// last layer fits the loss and that the output matches the target.
    pub fn resolve(&self, classes: usize) -> Result<Resolved, String> {
        let r = self.resolve_layers()?;
        let Some(&shape) = r.outputs.last() else {
            return Err(format!("model {} has no layers", self.name));
        };
        let last = self.layers.last().map(|l| &l.layer);
        self.check_loss(classes, shape, &r.outputs, last)?;
        Ok(r)
    }

    /// Names and shapes only, without checking the output against a loss:
    /// for running part of a model (an encoder, a decoder).
    ///
    /// Whatever the field values (zero, `usize::MAX`), this returns an error
    /// naming the layer rather than overflowing: every per-sample shape,
    /// every parameter tensor and the whole parameter buffer must hold at
    /// most [`MAX_TENSOR_WORDS`] values, so [`ParamLayout::new`] and every
    /// per-sample size computed from the result fit in `usize`.
    pub fn resolve_layers(&self) -> Result<Resolved, String> {
        if self.layers.is_empty() {
            return Err(format!("model {} has no layers", self.name));
        }
        check_input(self.input).map_err(|e| format!("model {}: {e}", self.name))?;
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
        let r = Resolved {
            names,
            inputs,
            outputs,
        };
        // The parameter tensors and their flat buffer: checked here so that
        // ParamLayout::new cannot fail on anything this accepted.
        ParamLayout::try_new(self, &r)?;
        Ok(r)
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
                    Some(k) if k >= outputs.len().saturating_sub(1) => {
                        return Err(format!(
                            "target layer {k} must come before the last layer {}",
                            outputs.len().saturating_sub(1)
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

/// The model's input: every dimension at least 1, at most
/// [`MAX_TENSOR_WORDS`] values per sample.
fn check_input(s: Shape) -> Result<(), String> {
    if s.h == 0 || s.w == 0 || s.c == 0 {
        return Err(format!(
            "input shape ({}, {}, {}) has a zero dimension; every one of h, w and c must be at least 1",
            s.h, s.w, s.c
        ));
    }
    match s.elements() {
        Some(n) if n <= MAX_TENSOR_WORDS => Ok(()),
        n => Err(format!(
            "input shape ({}, {}, {}) holds {} values per sample, over the {MAX_TENSOR_WORDS} one \
             GPU tensor can hold (shaders index 32-bit words with u32). Fix: a smaller input h, w or c",
            s.h,
            s.w,
            s.c,
            n.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
        )),
    }
}
