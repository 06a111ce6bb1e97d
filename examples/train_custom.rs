//! A model that is not a preset, built in Rust: a 784-256-64-256-784
//! denoising autoencoder trained on the GPU on masked MNIST, evaluated on
//! the test set and saved. Run with `cargo run --release --example
//! train_custom`; it writes `runs/example-custom-dae/`.

use dae::data::{Dataset, DatasetName};
use dae::gpu::Gpu;
use dae::kernels::noise::Noise;
use dae::nn::{Act, Layer, Loss, ModelSpec, Shape};
use dae::optim::Optimizer;
use dae::run::{self, EvalOptions, FolderMode, TrainOptions};

fn main() -> anyhow::Result<()> {
    let gpu = Gpu::new()?;
    let data = Dataset::load(&Dataset::default_root(), DatasetName::Mnist)?;
    let spec = ModelSpec {
        name: "example-custom-dae".into(),
        input: Shape::flat(784),
        layers: vec![
            Layer::dense(256, Act::Relu),
            Layer::dense(64, Act::Relu),
            Layer::dense(256, Act::Relu),
            Layer::dense(784, Act::Sigmoid),
        ],
        loss: Loss::Bce,
        optimizer: Optimizer::adam(1e-3),
        l2: 0.0,
        noise: Noise::Masking { p: 0.3 },
        epochs: 2,
        batch_size: 128,
        train_limit: Some(12_000),
        encoder_layers: 0,
        encoder_from: None,
        target_layer: None,
    };
    // Writes model.safetensors (with the spec), metrics.csv and figures.
    let mut opts = TrainOptions::new(
        &spec.name,
        DatasetName::Mnist,
        "runs/example-custom-dae".into(),
    );
    opts.mode = FolderMode::Overwrite;
    let result = run::train_spec(&gpu, &opts, spec, data, None)?;
    // A fresh evaluation of the saved checkpoint, as `dae eval` does.
    let eval = EvalOptions {
        data_root: Dataset::default_root(),
        ..Default::default()
    };
    let scored = run::eval(&gpu, &result.out.join("model.safetensors"), &eval)?;
    println!(
        "trained {} epochs; test BCE of the saved model on {} images: {:.5}; files in {}",
        result.history.len(),
        scored.images,
        scored.loss,
        result.out.display()
    );
    Ok(())
}
