//! Denoising autoencoders and classifiers trained entirely on the GPU.
//!
//! `gpu` is the runtime, `kernels` the host side of every WGSL shader,
//! `reference` the CPU oracle of every kernel, `nn` the layers and presets,
//! `optim` the optimizers, `train` the scheduler, `data` the datasets,
//! `report` what a run writes, `run` a whole training run, `export` a
//! checkpoint as a PyTorch or Keras model and `bench` the benchmarks.

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
