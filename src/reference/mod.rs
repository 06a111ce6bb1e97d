//! CPU references of every kernel: plain loops with f64 accumulation. They
//! are the oracle the GPU kernels are tested and benchmarked against.

pub mod activation;
pub mod analysis;
pub mod batchnorm;
pub mod conv2d;
pub mod dropout;
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod noise;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod softmax;
