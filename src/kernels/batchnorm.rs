//! (in progress)

/// WGSL sources of this module, by file name.
pub const SHADERS: &[(&str, &str)] = &[];
