//! Divergence: reading the GPU's non-finite flags at a checkpoint, and the
//! message that names when it happened, the settings that likely caused it
//! (those changed from the preset first) and what was kept.

use anyhow::bail;

use crate::nn::presets;
use crate::train::{EpochMetrics, METRIC_SLOTS, PARAMS_NONFINITE, TEST_NONFINITE, TRAIN_NONFINITE};

use super::Ctx;

impl Ctx<'_> {
    /// Stops the run if the GPU flagged a non-finite value this epoch.
    pub(super) fn check_flags(
        &self,
        sums: &[f32; METRIC_SLOTS],
        m: Option<&EpochMetrics>,
        epoch: usize,
        history: &[EpochMetrics],
    ) -> anyhow::Result<()> {
        let what = if sums[TRAIN_NONFINITE] != 0.0 {
            "a training step's output or loss was not finite (NaN or infinite)"
        } else if sums[PARAMS_NONFINITE] != 0.0 {
            "a parameter became NaN or infinite"
        } else if sums[TEST_NONFINITE] != 0.0 {
            "the model's test outputs or loss were not finite"
        } else if m.is_some_and(|m| !(m.train_loss.is_finite() && m.test_loss.is_finite())) {
            "the loss overflowed"
        } else {
            return Ok(());
        };
        bail!(self.divergence(epoch, what, history))
    }

    /// The divergence message: when, what, the settings that likely caused
    /// it (those changed from the preset first), and what was kept.
    pub(super) fn divergence(&self, epoch: usize, what: &str, history: &[EpochMetrics]) -> String {
        let spec = self.spec;
        let base = presets::preset(&spec.name).ok();
        let mut changed = Vec::new();
        let mut others = Vec::new();
        let lr = spec.optimizer.lr();
        let mut note = |differs: bool, text: String| {
            if differs {
                changed.push(text)
            } else {
                others.push(text)
            }
        };
        note(
            base.as_ref().is_some_and(|b| b.optimizer.lr() != lr),
            format!("learning rate --lr {lr}"),
        );
        note(
            base.as_ref().is_some_and(|b| b.noise != spec.noise),
            format!("input noise --noise {}", spec.noise),
        );
        if spec.l2 > 0.0 || base.as_ref().is_some_and(|b| b.l2 != spec.l2) {
            note(
                base.as_ref().is_some_and(|b| b.l2 != spec.l2),
                format!("L2 --l2 {}", spec.l2),
            );
        }
        note(
            base.as_ref()
                .is_some_and(|b| b.batch_size != spec.batch_size),
            format!("batch size --batch-size {}", spec.batch_size),
        );
        let causes = if changed.is_empty() {
            format!(
                "The settings were the preset's ({}); lower the learning rate first",
                others.join(", ")
            )
        } else {
            format!(
                "Likely cause, changed from the preset: {}; also in effect: {}",
                changed.join(", "),
                others.join(", ")
            )
        };
        let kept = if history.is_empty() {
            "No checkpoint was written (the first epoch diverged).".to_string()
        } else {
            format!(
                "The last finite checkpoint (epoch {}) is kept in {}.",
                history.len(),
                self.o.out.display()
            )
        };
        format!("training diverged in epoch {epoch}: {what}. {causes}. {kept}")
    }
}
