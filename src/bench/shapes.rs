//! The named shape tables the kernel benchmarks time: every matmul and
//! convolution the presets run, by layer and pass.

use crate::kernels::activation::Activation;
use crate::kernels::conv2d::Conv2d;
use crate::kernels::matmul::Form;

/// The matmul shapes the presets run, by layer and pass, plus 1024³ for
/// comparison with other libraries: (name, m, k, n, form, act, bias).
pub const MATMUL_SHAPES: &[(&str, usize, usize, usize, Form, Activation, bool)] = &[
    (
        "mlp_dae_fwd_256x784x512",
        256,
        784,
        512,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_bwd_input_256x512x784",
        256,
        512,
        784,
        Form::NT,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_bwd_weight_784x256x512",
        784,
        256,
        512,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_fwd_256x512x256",
        256,
        512,
        256,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_fwd_256x256x196",
        256,
        256,
        196,
        Form::NN,
        Activation::Relu,
        true,
    ),
    (
        "mlp_dae_bwd_input_256x196x256",
        256,
        196,
        256,
        Form::NT,
        Activation::Identity,
        false,
    ),
    (
        "mlp_dae_bwd_weight_196x256x256",
        196,
        256,
        256,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "sp_mlp_fwd_128x784x64",
        128,
        784,
        64,
        Form::NN,
        Activation::Sigmoid,
        true,
    ),
    (
        "classifier_head_256x128x10",
        256,
        128,
        10,
        Form::NN,
        Activation::Identity,
        true,
    ),
    (
        "classifier_head_bwd_weight_128x256x10",
        128,
        256,
        10,
        Form::TN,
        Activation::Identity,
        false,
    ),
    (
        "square_1024x1024x1024",
        1024,
        1024,
        1024,
        Form::NN,
        Activation::Identity,
        false,
    ),
];

/// The rows of [`CONV_SHAPES`] whose input is an UpSample's output, with
/// the factor: they are also timed in sub-pixel form (the plans run them so
/// where it applies).
pub const UPSAMPLED: &[(&str, usize)] = &[
    ("conv_dae_8x8x16_16_same", 2),
    ("conv_dae_16x16x16_32_valid", 2),
    ("conv_dae_28x28x32_1_same", 2),
    ("fashion_cae_12x12x64_112_valid", 3),
    ("fashion_cae_30x30x112_112_valid", 3),
];

/// The convolutions the presets run (batch 128), by layer and pass:
/// (name, shape, pass) with pass "forward", "backward_input" or
/// "backward_weight". First layers (cin = 1) need no input gradient.
pub const CONV_SHAPES: &[(&str, Conv2d, &str)] = {
    use crate::kernels::conv2d::Padding;
    const fn c(h: usize, cin: usize, cout: usize, k: usize, padding: Padding) -> Conv2d {
        Conv2d {
            batch: 128,
            h,
            w: h,
            cin,
            cout,
            k,
            padding,
        }
    }
    const S: Padding = Padding::Same;
    const V: Padding = Padding::Valid;
    &[
        (
            "conv_dae_28x28x1_32_same_fwd",
            c(28, 1, 32, 3, S),
            "forward",
        ),
        (
            "conv_dae_28x28x1_32_same_bwd_w",
            c(28, 1, 32, 3, S),
            "backward_weight",
        ),
        (
            "conv_dae_14x14x32_16_same_fwd",
            c(14, 32, 16, 3, S),
            "forward",
        ),
        (
            "conv_dae_14x14x32_16_same_bwd_in",
            c(14, 32, 16, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_14x14x32_16_same_bwd_w",
            c(14, 32, 16, 3, S),
            "backward_weight",
        ),
        ("conv_dae_7x7x16_16_same_fwd", c(7, 16, 16, 3, S), "forward"),
        (
            "conv_dae_7x7x16_16_same_bwd_in",
            c(7, 16, 16, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_7x7x16_16_same_bwd_w",
            c(7, 16, 16, 3, S),
            "backward_weight",
        ),
        ("conv_dae_4x4x16_16_same_fwd", c(4, 16, 16, 3, S), "forward"),
        ("conv_dae_8x8x16_16_same_fwd", c(8, 16, 16, 3, S), "forward"),
        (
            "conv_dae_8x8x16_16_same_bwd_in",
            c(8, 16, 16, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_8x8x16_16_same_bwd_w",
            c(8, 16, 16, 3, S),
            "backward_weight",
        ),
        (
            "conv_dae_16x16x16_32_valid_fwd",
            c(16, 16, 32, 3, V),
            "forward",
        ),
        (
            "conv_dae_16x16x16_32_valid_bwd_in",
            c(16, 16, 32, 3, V),
            "backward_input",
        ),
        (
            "conv_dae_16x16x16_32_valid_bwd_w",
            c(16, 16, 32, 3, V),
            "backward_weight",
        ),
        (
            "conv_dae_28x28x32_1_same_fwd",
            c(28, 32, 1, 3, S),
            "forward",
        ),
        (
            "conv_dae_28x28x32_1_same_bwd_in",
            c(28, 32, 1, 3, S),
            "backward_input",
        ),
        (
            "conv_dae_28x28x32_1_same_bwd_w",
            c(28, 32, 1, 3, S),
            "backward_weight",
        ),
        (
            "fashion_cae_28x28x1_112_valid_fwd",
            c(28, 1, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_28x28x1_112_valid_bwd_w",
            c(28, 1, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_13x13x112_112_valid_fwd",
            c(13, 112, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_13x13x112_112_valid_bwd_in",
            c(13, 112, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_13x13x112_112_valid_bwd_w",
            c(13, 112, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_12x12x64_112_valid_fwd",
            c(12, 64, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_12x12x64_112_valid_bwd_in",
            c(12, 64, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_12x12x64_112_valid_bwd_w",
            c(12, 64, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_30x30x112_112_valid_fwd",
            c(30, 112, 112, 3, V),
            "forward",
        ),
        (
            "fashion_cae_30x30x112_112_valid_bwd_in",
            c(30, 112, 112, 3, V),
            "backward_input",
        ),
        (
            "fashion_cae_30x30x112_112_valid_bwd_w",
            c(30, 112, 112, 3, V),
            "backward_weight",
        ),
        (
            "fashion_cae_28x28x112_1_k1_fwd",
            c(28, 112, 1, 1, S),
            "forward",
        ),
        (
            "fashion_cae_28x28x112_1_k1_bwd_in",
            c(28, 112, 1, 1, S),
            "backward_input",
        ),
        (
            "fashion_cae_28x28x112_1_k1_bwd_w",
            c(28, 112, 1, 1, S),
            "backward_weight",
        ),
        ("sp_cnn_28x28x1_32_valid_fwd", c(28, 1, 32, 3, V), "forward"),
        (
            "sp_cnn_28x28x1_32_valid_bwd_w",
            c(28, 1, 32, 3, V),
            "backward_weight",
        ),
        (
            "sp_cnn_26x26x32_64_valid_fwd",
            c(26, 32, 64, 3, V),
            "forward",
        ),
        (
            "sp_cnn_26x26x32_64_valid_bwd_in",
            c(26, 32, 64, 3, V),
            "backward_input",
        ),
        (
            "sp_cnn_26x26x32_64_valid_bwd_w",
            c(26, 32, 64, 3, V),
            "backward_weight",
        ),
    ]
};
