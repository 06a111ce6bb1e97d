//! Host launchers: one file per op family. Each function builds a
//! [`Dispatch`](crate::gpu::Dispatch) once (pipeline, bind group, grid) for
//! the scheduler to replay every step. Arguments follow llm.c's order:
//! outputs first, then inputs, then sizes.

pub mod activation;

/// The WGSL sources, by file name, for validation and the pipeline cache.
pub const SHADERS: &[(&str, &str)] = &[(
    "activation_forward.wgsl",
    include_str!("../../shaders/activation_forward.wgsl"),
)];
