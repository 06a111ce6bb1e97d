//! The resumable state of a run (`state.safetensors`): everything needed to
//! continue it bit for bit — the parameter buffer with BatchNorm's running
//! statistics, the optimizer state, the optimizer's step count, epochs and
//! steps done, the partial metric sums of an unfinished epoch, the finished
//! epochs' figures and the run's settings. It is the one file a checkpoint
//! commits (written atomically, before `model.safetensors` and
//! `metrics.csv`, which are rewritten from it on resume).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::data::DataSource;
use crate::nn::ModelSpec;
use crate::report;
use crate::train::{EpochMetrics, METRIC_SLOTS};

const FORMAT: &str = "dae-state-1";

/// The settings that make a run what it is; a run can only be continued
/// with the same ones (the epoch count may grow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The whole model with its training settings.
    pub spec: ModelSpec,
    /// The data it trains on. A shipped dataset is stored as its plain name
    /// (as states written before custom data hold it), other data by the
    /// absolute paths it was given (see [`DataSource`]).
    pub dataset: DataSource,
    /// The run's seed.
    pub seed: u64,
    /// The `--test-limit` every epoch evaluated with.
    pub test_limit: Option<usize>,
    /// Not part of the run's identity: may change on resume.
    pub checkpoint_every: Option<usize>,
    /// Where the data came from (the default for `--resume`).
    pub data_root: PathBuf,
}

impl RunConfig {
    /// Whether a run of `self` continues as one of `other` would, with any
    /// epoch count.
    pub fn same_run(&self, other: &RunConfig) -> bool {
        let mut a = self.spec.clone();
        a.epochs = other.spec.epochs;
        a == other.spec
            && self.dataset == other.dataset
            && self.seed == other.seed
            && self.test_limit == other.test_limit
    }

    /// The first setting in which `self` and `other` differ, for messages.
    pub fn difference(&self, other: &RunConfig) -> String {
        if self.dataset != other.dataset {
            return format!("dataset {} vs {}", self.dataset, other.dataset);
        }
        if self.seed != other.seed {
            return format!("seed {} vs {}", self.seed, other.seed);
        }
        if self.test_limit != other.test_limit {
            return format!("test limit {:?} vs {:?}", self.test_limit, other.test_limit);
        }
        if self.spec.epochs != other.spec.epochs {
            return format!("epochs {} vs {}", self.spec.epochs, other.spec.epochs);
        }
        format!(
            "model or training settings of {} (batch, learning rate, noise, L2, layers or train limit)",
            self.spec.name
        )
    }
}

/// See the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    /// The run's settings.
    pub config: RunConfig,
    /// Finished epochs.
    pub epochs_done: usize,
    /// Training steps done of epoch `epochs_done + 1`.
    pub steps_done: usize,
    /// Optimizer steps in a whole epoch.
    pub steps_per_epoch: usize,
    /// Optimizer steps taken (Adam's t).
    pub global_step: u32,
    /// The GPU's metric sums of the unfinished epoch (zeros at a boundary).
    pub sums: [f32; METRIC_SLOTS],
    /// The finished epochs' figures.
    pub history: Vec<EpochMetrics>,
    /// The whole parameter buffer ([`crate::nn::params::ParamLayout`]'s
    /// order), BatchNorm's running statistics included.
    pub params: Vec<f32>,
    /// The optimizer's state buffers over the trainable range: Adam's m
    /// and v, or SGD's velocity.
    pub optimizer: Vec<Vec<f32>>,
}

impl RunState {
    /// Whether the run has trained all `epochs`.
    pub fn finished(&self, epochs: usize) -> bool {
        self.epochs_done >= epochs && self.steps_done == 0
    }

    /// Writes the state to `path` atomically (a temporary file, then a
    /// rename).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut tensors = vec![
            (
                "params".to_string(),
                vec![self.params.len()],
                self.params.clone(),
            ),
            (
                "metric_sums".to_string(),
                vec![METRIC_SLOTS],
                self.sums.to_vec(),
            ),
        ];
        for (i, s) in self.optimizer.iter().enumerate() {
            tensors.push((format!("optimizer/{i}"), vec![s.len()], s.clone()));
        }
        let mut meta = BTreeMap::new();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("config".into(), serde_json::to_string(&self.config)?);
        meta.insert("history".into(), serde_json::to_string(&self.history)?);
        meta.insert("epochs_done".into(), self.epochs_done.to_string());
        meta.insert("steps_done".into(), self.steps_done.to_string());
        meta.insert("steps_per_epoch".into(), self.steps_per_epoch.to_string());
        meta.insert("global_step".into(), self.global_step.to_string());
        meta.insert("optimizer_buffers".into(), self.optimizer.len().to_string());
        report::save_checkpoint(path, &tensors, meta)
            .with_context(|| format!("writing the run state {}", path.display()))
    }

    /// Reads a state [`RunState::save`] wrote; a damaged file or one from
    /// another version of dae is an error that says how to start again.
    pub fn load(path: &Path) -> anyhow::Result<RunState> {
        let ck = report::load_checkpoint(path)?;
        let bad = |what: &str| {
            anyhow::anyhow!(
                "run state {} is damaged or from another version of dae ({what}). Fix: \
                 start the run again with --overwrite (its model.safetensors stays usable \
                 with dae eval until then)",
                path.display()
            )
        };
        let meta = &ck.metadata;
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad("no dae-state-1 format tag"));
        }
        let num = |k: &str| -> anyhow::Result<u64> {
            meta.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(&format!("field {k}")))
        };
        let json = |k: &str| meta.get(k).ok_or_else(|| bad(&format!("field {k}")));
        let config: RunConfig =
            serde_json::from_str(json("config")?).map_err(|e| bad(&format!("config: {e}")))?;
        let history: Vec<EpochMetrics> =
            serde_json::from_str(json("history")?).map_err(|e| bad(&format!("history: {e}")))?;
        let tensor = |name: &str| {
            ck.get(name)
                .map(|(_, _, v)| v.clone())
                .ok_or_else(|| bad(&format!("tensor {name}")))
        };
        let sums_v = tensor("metric_sums")?;
        if sums_v.len() != METRIC_SLOTS {
            return Err(bad("metric sums"));
        }
        let mut sums = [0.0; METRIC_SLOTS];
        sums.copy_from_slice(&sums_v);
        let n_opt = num("optimizer_buffers")? as usize;
        let optimizer = (0..n_opt.min(8))
            .map(|i| tensor(&format!("optimizer/{i}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let state = RunState {
            config,
            epochs_done: num("epochs_done")? as usize,
            steps_done: num("steps_done")? as usize,
            steps_per_epoch: num("steps_per_epoch")? as usize,
            global_step: u32::try_from(num("global_step")?).map_err(|_| bad("global_step"))?,
            sums,
            history,
            params: tensor("params")?,
            optimizer,
        };
        if state.history.len() != state.epochs_done {
            bail!(bad("history length"));
        }
        Ok(state)
    }
}
