//! Running a trained model, or part of one, forward in inference mode on
//! inputs that are already on the GPU (codes to decode, images a kernel
//! wrote), for the studies' analyses.

use crate::gpu::{Gpu, Program, StepInfo, Tensor};
use crate::nn::params::ParamLayout;
use crate::nn::ModelSpec;

use super::plan::{forward_program, Buffers, GpuModel, Mode};

/// A model's forward pass in inference mode, for one batch size, on inputs
/// already on the GPU.
pub struct Inference<'g> {
    gpu: &'g Gpu,
    /// The model, every layer frozen.
    pub model: GpuModel,
    /// The activations of one batch.
    pub buffers: Buffers,
    forward: Program,
}

impl<'g> Inference<'g> {
    /// Builds the forward pass of `spec` (every layer frozen, inference
    /// mode) for batches of `batch` rows, with parameters `params` laid out
    /// per [`ParamLayout`] of the spec.
    pub fn new(
        gpu: &'g Gpu,
        spec: &ModelSpec,
        params: &[f32],
        batch: usize,
    ) -> anyhow::Result<Inference<'g>> {
        let mut spec = spec.clone();
        for l in &mut spec.layers {
            l.trainable = false;
        }
        let resolved = spec.resolve_layers().map_err(anyhow::Error::msg)?;
        let model =
            GpuModel::with_resolved(gpu, spec, resolved, params).map_err(anyhow::Error::msg)?;
        let buffers = Buffers::new(gpu, &model, batch)?;
        let forward = forward_program(gpu, &model, &buffers, Mode::Eval, false)?;
        Ok(Inference {
            gpu,
            model,
            buffers,
            forward,
        })
    }

    /// The layout `params` must follow.
    pub fn layout(spec: &ModelSpec) -> anyhow::Result<ParamLayout> {
        let r = spec.resolve_layers().map_err(anyhow::Error::msg)?;
        Ok(ParamLayout::new(spec, &r))
    }

    /// The input batch (batch, input features): fill it with a kernel or
    /// an upload before [`Inference::run`].
    pub fn input(&self) -> &Tensor {
        &self.buffers.x_in
    }

    /// The last layer's output, (batch, output features), after
    /// [`Inference::run`].
    pub fn output(&self) -> &Tensor {
        self.buffers.output()
    }

    /// Output of layer `i`.
    pub fn layer_output(&self, i: usize) -> &Tensor {
        &self.buffers.acts[i]
    }

    /// Rows per batch.
    pub fn batch(&self) -> usize {
        self.buffers.batch
    }

    /// Runs the forward pass once and waits.
    pub fn run(&self) -> anyhow::Result<()> {
        self.forward.run(self.gpu, &StepInfo::default())?;
        Ok(())
    }

    /// Uploads `rows` (at most one batch; the rest of the batch is zero) and
    /// runs; returns the output rows.
    pub fn run_on(&self, rows: &[f32]) -> anyhow::Result<Vec<f32>> {
        let f = self.model.spec.input.size();
        let n = rows.len() / f.max(1);
        anyhow::ensure!(
            n <= self.batch(),
            "{n} rows exceed the batch of {}",
            self.batch()
        );
        let mut padded = rows.to_vec();
        padded.resize(self.batch() * f, 0.0);
        self.gpu.write_f32(&self.buffers.x_in, &padded);
        self.run()?;
        let out_f = self
            .model
            .resolved
            .outputs
            .last()
            .map(|s| s.size())
            .unwrap_or(0);
        let out = self.gpu.read_f32(self.output())?;
        Ok(out[..n * out_f].to_vec())
    }
}
