//! CPU references of every kernel: plain loops with f64 accumulation. They
//! are the oracle the GPU kernels are tested and benchmarked against.

pub mod activation;
