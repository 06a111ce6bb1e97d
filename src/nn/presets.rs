//! The presets of the studies (docs/studies.md), with their hyper-parameters.

use super::{Act, Init, Layer, LayerSpec, Loss, ModelSpec, Shape};
use crate::kernels::noise::Noise;
use crate::optim::Optimizer;

/// Every preset name with a one-line description.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "mlp-dae",
        "deep dense DAE with BatchNorm (mlp-dae study), Gaussian noise 0.1, MSE",
    ),
    (
        "raw-classifier",
        "196-style classifier 784 -> 64 -> 32 -> 10 on raw pixels (mlp-dae study)",
    ),
    (
        "code-classifier",
        "the same classifier 196 -> 64 -> 32 -> 10 on a trained mlp-dae's frozen codes (--encoder)",
    ),
    (
        "conv-dae",
        "convolutional DAE 28x28 -> (4,4,16) -> 28x28, masking noise 0.2, BCE (conv-dae study)",
    ),
    (
        "conv-dae-classifier",
        "conv-dae's encoder, all but its last conv frozen, -> 64 -> 10 (conv-dae study; --encoder)",
    ),
    (
        "shallow-ae",
        "784 -> 128 -> 784 autoencoder (stacked study)",
    ),
    (
        "shallow-dae",
        "784 -> 128 -> 784 denoising autoencoder, N(0, 0.4^2) noise (stacked study)",
    ),
    (
        "deep-ae",
        "784 -> 512 -> 128 -> 512 -> 784 autoencoder trained end to end (stacked study; \
         `dae experiment stacked` pretrains it layer-wise first)",
    ),
    (
        "deep-dae",
        "deep-ae with N(0, 0.2^2) input noise (stacked study)",
    ),
    (
        "fashion-cae",
        "conv AE with BatchNorm and a 2-D code, BCE (fashion-cae study, Fashion-MNIST)",
    ),
    (
        "sp-mlp",
        "784 -> 64 -> 64 -> 10 MLP, SGD 0.1 (sp-dae study)",
    ),
    (
        "sp-mlp-l2",
        "784 -> 500 -> 300 -> 10 MLP with L2 on the kernels, SGD 0.1 (sp-dae study)",
    ),
    (
        "sp-cnn",
        "Conv 32 -> Conv 64 -> MaxPool 3 -> Dropout 0.4 -> 64 -> 10 CNN, SGD 0.1 (sp-dae study)",
    ),
    (
        "sp-dae",
        "784 -> 128 -> 96 -> 128 -> 784 salt-and-pepper DAE, BCE (sp-dae study)",
    ),
];

/// The dataset the study of preset (or study) `name` is defined on:
/// Fashion-MNIST for fashion-cae and for the mlp-dae study (its `mlp-dae`,
/// `code-classifier` and `raw-classifier` presets), MNIST for every other.
pub fn default_dataset(name: &str) -> crate::data::DatasetName {
    if matches!(
        name,
        "fashion-cae" | "mlp-dae" | "code-classifier" | "raw-classifier"
    ) {
        crate::data::DatasetName::FashionMnist
    } else {
        crate::data::DatasetName::Mnist
    }
}

/// The spec of preset `name`, or an error listing the known ones.
pub fn preset(name: &str) -> Result<ModelSpec, String> {
    let img = Shape::flat(784);
    let normal = Init::Normal { std: 0.05 };
    let spec = match name {
        "mlp-dae" => {
            let leaky = Act::LeakyRelu(0.3);
            let d = |units| Layer::dense(units, Act::Linear).init(normal);
            ModelSpec {
                name: name.into(),
                input: img,
                layers: vec![
                    d(512),
                    Layer::batchnorm(),
                    Layer::dropout(0.2),
                    Layer::act(leaky),
                    d(512),
                    Layer::batchnorm(),
                    Layer::dropout(0.2),
                    Layer::act(leaky),
                    d(256),
                    Layer::batchnorm(),
                    Layer::act(leaky),
                    d(196),
                    d(256),
                    Layer::batchnorm(),
                    Layer::act(leaky),
                    d(512),
                    Layer::batchnorm(),
                    Layer::act(leaky),
                    Layer::dense(784, Act::Sigmoid).init(normal),
                ],
                loss: Loss::Mse,
                optimizer: Optimizer::adam(1e-3),
                l2: 0.0,
                noise: Noise::Gaussian {
                    sigma: 0.1,
                    clip: true,
                },
                epochs: 100,
                batch_size: 256,
                train_limit: None,
                encoder_layers: 0,
                encoder_from: None,
                target_layer: None,
            }
        }
        "raw-classifier" => classifier(name, img, Vec::new()),
        "code-classifier" => {
            let mut encoder = preset("mlp-dae")?.layers;
            encoder.truncate(12);
            let mut spec = classifier(name, img, encoder.into_iter().map(|l| l.frozen()).collect());
            spec.encoder_layers = 12;
            spec.encoder_from = Some("mlp-dae".into());
            spec
        }
        "conv-dae" | "conv-dae-classifier" => {
            let relu = Act::Relu;
            let encoder = vec![
                Layer::conv(32, 3, true, relu),
                Layer::maxpool(2, true),
                Layer::conv(16, 3, true, relu),
                Layer::maxpool(2, true),
                Layer::conv(16, 3, true, relu),
                Layer::maxpool(2, true),
            ];
            if name == "conv-dae" {
                // Masking noise is the model's first layer: Dropout(0.2) on
                // the input, active in training only.
                let mut layers = vec![Layer::dropout(0.2)];
                layers.extend(encoder);
                layers.extend([
                    Layer::conv(16, 3, true, relu),
                    Layer::upsample(2),
                    Layer::conv(16, 3, true, relu),
                    Layer::upsample(2),
                    Layer::conv(32, 3, false, relu),
                    Layer::upsample(2),
                    Layer::conv(1, 3, true, Act::Sigmoid),
                ]);
                ModelSpec {
                    name: name.into(),
                    input: Shape::image(28, 28, 1),
                    layers,
                    loss: Loss::Bce,
                    optimizer: Optimizer::adam(1e-3),
                    l2: 0.0,
                    noise: Noise::None,
                    epochs: 10,
                    batch_size: 128,
                    train_limit: None,
                    encoder_layers: 0,
                    encoder_from: None,
                    target_layer: None,
                }
            } else {
                // All but the last conv layer frozen.
                let mut layers: Vec<LayerSpec> = encoder
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| if i < 4 { l.frozen() } else { l })
                    .collect();
                layers.extend([
                    Layer::flatten(),
                    Layer::dense(64, Act::Relu),
                    Layer::dense(10, Act::Softmax),
                ]);
                ModelSpec {
                    name: name.into(),
                    input: Shape::image(28, 28, 1),
                    layers,
                    loss: Loss::SoftmaxCrossEntropy,
                    optimizer: Optimizer::adam(1e-3),
                    l2: 0.0,
                    noise: Noise::None,
                    epochs: 10,
                    batch_size: 128,
                    train_limit: None,
                    encoder_layers: 6,
                    encoder_from: Some("conv-dae".into()),
                    target_layer: None,
                }
            }
        }
        "fashion-cae" => {
            let relu = Act::Relu;
            ModelSpec {
                name: name.into(),
                input: Shape::image(28, 28, 1),
                layers: vec![
                    Layer::conv(112, 3, false, relu),
                    Layer::batchnorm(),
                    Layer::maxpool(2, false),
                    Layer::conv(112, 3, false, relu),
                    Layer::batchnorm(),
                    Layer::maxpool(2, false),
                    Layer::flatten(),
                    Layer::dense(2, relu),
                    Layer::batchnorm(),
                    Layer::dense(1024, relu),
                    Layer::batchnorm(),
                    Layer::reshape(4, 4, 64),
                    Layer::batchnorm(),
                    Layer::upsample(3),
                    Layer::conv(112, 3, false, relu),
                    Layer::batchnorm(),
                    Layer::upsample(3),
                    Layer::conv(112, 3, false, relu),
                    Layer::batchnorm(),
                    Layer::conv(1, 1, true, Act::Sigmoid),
                ],
                loss: Loss::Bce,
                optimizer: Optimizer::adam(1e-3),
                l2: 0.0,
                noise: Noise::None,
                epochs: 100,
                batch_size: 100,
                train_limit: None,
                encoder_layers: 0,
                encoder_from: None,
                target_layer: None,
            }
        }
        "sp-cnn" => ModelSpec {
            name: name.into(),
            input: Shape::image(28, 28, 1),
            layers: vec![
                Layer::conv(32, 3, false, Act::Relu),
                Layer::conv(64, 3, false, Act::Relu),
                Layer::maxpool(3, false),
                Layer::dropout(0.4),
                Layer::flatten(),
                Layer::dense(64, Act::Relu),
                Layer::dense(10, Act::Softmax),
            ],
            loss: Loss::SoftmaxCrossEntropy,
            optimizer: Optimizer::sgd(0.1),
            l2: 0.0,
            noise: Noise::None,
            epochs: 10,
            batch_size: 128,
            train_limit: None,
            encoder_layers: 0,
            encoder_from: None,
            target_layer: None,
        },
        "shallow-ae" | "shallow-dae" => ModelSpec {
            name: name.into(),
            input: img,
            layers: vec![
                Layer::dense(128, Act::Relu),
                Layer::dense(784, Act::Sigmoid),
            ],
            loss: Loss::Mse,
            optimizer: Optimizer::adam(1e-3),
            l2: 0.0,
            noise: if name == "shallow-dae" {
                Noise::Gaussian {
                    sigma: 0.4,
                    clip: false,
                }
            } else {
                Noise::None
            },
            epochs: if name == "shallow-dae" { 10 } else { 5 },
            batch_size: 32,
            train_limit: Some(50_000),
            encoder_layers: 0,
            encoder_from: None,
            target_layer: None,
        },
        // The stacked study's deep models: the shallow spec with the
        // [512, 128] stack, N(0, 0.2²) for the DAE, 5 epochs.
        "deep-ae" | "deep-dae" => {
            let mut s = preset("shallow-ae")?;
            s.name = name.into();
            s.layers = vec![
                Layer::dense(512, Act::Relu),
                Layer::dense(128, Act::Relu),
                Layer::dense(512, Act::Sigmoid),
                Layer::dense(784, Act::Sigmoid),
            ];
            if name == "deep-dae" {
                s.noise = Noise::Gaussian {
                    sigma: 0.2,
                    clip: false,
                };
            }
            s
        }
        "sp-mlp" | "sp-mlp-l2" => {
            let (h1, h2, l2, epochs) = if name == "sp-mlp" {
                (64, 64, 0.0, 10)
            } else {
                (500, 300, 2.5e-4, 40)
            };
            ModelSpec {
                name: name.into(),
                input: img,
                layers: vec![
                    Layer::dense(h1, Act::Relu),
                    Layer::dense(h2, Act::Relu),
                    Layer::dense(10, Act::Softmax),
                ],
                loss: Loss::SoftmaxCrossEntropy,
                optimizer: Optimizer::sgd(0.1),
                l2,
                noise: Noise::None,
                epochs,
                batch_size: 128,
                train_limit: None,
                encoder_layers: 0,
                encoder_from: None,
                target_layer: None,
            }
        }
        "sp-dae" => ModelSpec {
            name: name.into(),
            input: img,
            layers: vec![
                Layer::dense(128, Act::Relu),
                Layer::dense(96, Act::Relu),
                Layer::dense(128, Act::Relu),
                Layer::dense(784, Act::Sigmoid),
            ],
            loss: Loss::Bce,
            optimizer: Optimizer::adam(1e-3),
            l2: 0.0,
            noise: Noise::SaltPepper { p: 0.4 },
            epochs: 32,
            batch_size: 64,
            train_limit: None,
            encoder_layers: 0,
            encoder_from: None,
            target_layer: None,
        },
        _ => {
            let known: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown preset {name:?}; known presets: {}",
                known.join(", ")
            ));
        }
    };
    Ok(spec)
}

/// The mlp-dae study's classifier head: Dense 64 -> Dropout -> Dense 32 ->
/// Dropout -> BatchNorm -> Dense 10 softmax, 100 epochs, batch 128.
fn classifier(name: &str, input: Shape, encoder: Vec<LayerSpec>) -> ModelSpec {
    let mut layers = encoder;
    layers.extend([
        Layer::dense(64, Act::Relu),
        Layer::dropout(0.2),
        Layer::dense(32, Act::Relu),
        Layer::dropout(0.2),
        Layer::batchnorm(),
        Layer::dense(10, Act::Softmax),
    ]);
    ModelSpec {
        name: name.into(),
        input,
        layers,
        loss: Loss::SoftmaxCrossEntropy,
        optimizer: Optimizer::adam(1e-3),
        l2: 0.0,
        noise: Noise::None,
        epochs: 100,
        batch_size: 128,
        train_limit: None,
        encoder_layers: 0,
        encoder_from: None,
        target_layer: None,
    }
}
