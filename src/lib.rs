//! Denoising autoencoders and classifiers trained entirely on the GPU.
//!
//! `gpu` is the runtime, `kernels` the host side of every WGSL shader,
//! `reference` the CPU oracle of every kernel, `nn` the layers and presets,
//! `optim` the optimizers, `train` the scheduler, `data` the datasets
//! (shipped, IDX folders, NumPy), `report` what a run writes, `run` a whole
//! training run, `experiment` the studies, `export` a checkpoint as a
//! PyTorch or Keras model, `check` every kernel against the reference on
//! the user's adapter, `tune` the per-adapter kernel choices and `bench`
//! the benchmarks. Model files (TOML) are `nn::file`.

// Every public item is documented; CI also builds the docs with -D warnings.
#![deny(missing_docs)]

pub mod bench;
pub mod check;
pub mod data;
pub mod experiment;
pub mod export;
pub mod gpu;
pub mod kernels;
pub mod nn;
pub mod optim;
pub mod reference;
pub mod report;
pub mod run;
pub mod train;
pub mod tune;
