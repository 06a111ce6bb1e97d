//! Denoising autoencoders and classifiers trained entirely on the GPU.
//!
//! `gpu` is the runtime, `kernels` the host side of every WGSL shader,
//! `reference` the CPU oracle of every kernel, `nn` the layers and presets,
//! `optim` the optimizers, `train` the scheduler, `data` the datasets and
//! `report` what a run writes.

pub mod gpu;
pub mod kernels;
pub mod reference;
pub mod data;
pub mod optim;
pub mod report;
pub mod bench;
