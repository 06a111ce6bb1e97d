//! Host launchers: one file per op family. Each function builds a
//! [`Dispatch`](crate::gpu::Dispatch) once (pipeline, bind group, grid) for
//! the scheduler to replay every step. Arguments follow llm.c's order:
//! outputs first, then inputs, then sizes.

pub mod activation;
pub mod analysis;
pub mod batchnorm;
pub mod choice;
pub mod conv2d;
pub mod conv2d_direct;
pub mod dropout;
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod noise;
pub mod pool;
pub mod reduce;
pub mod softmax;

/// Every WGSL source of the crate, by file name.
pub fn all_shaders() -> Vec<(&'static str, &'static str)> {
    [
        activation::SHADERS,
        analysis::SHADERS,
        batchnorm::SHADERS,
        conv2d::SHADERS,
        conv2d_direct::SHADERS,
        dropout::SHADERS,
        gather::SHADERS,
        loss::SHADERS,
        matmul::SHADERS,
        noise::SHADERS,
        pool::SHADERS,
        reduce::SHADERS,
        softmax::SHADERS,
        crate::optim::SHADERS,
    ]
    .concat()
}
