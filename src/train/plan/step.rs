//! The recorded programs of a training run: one training step, one
//! evaluation step and the parameter check.

use super::*;

/// Everything one run needs, for training and for evaluation.
pub struct StepPlan {
    /// The activations and gradients of one batch, shared by both programs.
    pub train_buffers: Buffers,
    /// The epoch's shuffled training-sample order, one u32 per sample,
    /// written by [`Trainer::prepare_epoch`](crate::train::Trainer::prepare_epoch).
    pub train_indices: Tensor,
    /// The test samples in order, 0..count, u32.
    pub test_indices: Tensor,
    /// The metric sums and divergence flags, [`METRIC_SLOTS`] f32 (see
    /// [`TRAIN_LOSS`] and the slots after it).
    pub acc: Tensor,
    /// One training step: gather and corrupt the batch, forward, loss,
    /// backward and the optimizer update.
    pub train: Program,
    /// One evaluation step: gather and corrupt a test batch, forward in
    /// inference mode and the loss.
    pub eval: Program,
    /// Flags a non-finite parameter or running statistic in
    /// `acc[PARAMS_NONFINITE]`; run before the sums are read.
    pub check_params: Program,
}

impl StepPlan {
    /// Allocates the batch buffers and index buffers and records the training
    /// step, the evaluation step and the parameter check of `m` on `data`.
    pub fn build(
        gpu: &Gpu,
        m: &GpuModel,
        data: &GpuDataset,
        batch: usize,
    ) -> Result<StepPlan, GpuError> {
        let b = Buffers::new(gpu, m, batch)?;
        let train_indices = gpu.zeros("train indices", data.train.count)?;
        let test_order: Vec<u32> = (0..data.test.count as u32).collect();
        let test_indices = gpu.upload_u32("test indices", &test_order)?;
        let acc = gpu.zeros("metric sums", METRIC_SLOTS)?;
        let noise = m.spec.noise;
        let mut train = input_program(gpu, &b, &data.train, &train_indices, data.features, noise)?;
        train.extend(forward_program(gpu, m, &b, Mode::Train, true)?);
        train.extend(loss_program(
            gpu,
            m,
            &b,
            &acc,
            TRAIN_LOSS,
            TRAIN_CORRECT,
            TRAIN_NONFINITE,
        )?);
        train.extend(backward_program(gpu, m, &b)?);
        let mut eval = input_program(gpu, &b, &data.test, &test_indices, data.features, noise)?;
        eval.extend(forward_program(gpu, m, &b, Mode::Eval, true)?);
        eval.extend(loss_program(
            gpu,
            m,
            &b,
            &acc,
            TEST_LOSS,
            TEST_CORRECT,
            TEST_NONFINITE,
        )?);
        let mut check_params = Program::default();
        limits::checked(
            gpu,
            &mut check_params,
            || limits::step(m, "parameter check"),
            |p| {
                p.push(reduce::flag_nonfinite(
                    gpu,
                    &acc,
                    PARAMS_NONFINITE,
                    &m.params,
                    m.layout.total_len,
                )?);
                Ok(())
            },
        )?;
        Ok(StepPlan {
            train_buffers: b,
            train_indices,
            test_indices,
            acc,
            train,
            eval,
            check_params,
        })
    }
}
