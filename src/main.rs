//! `dae`: train, evaluate and benchmark denoising autoencoders and
//! classifiers on the GPU.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "dae",
    version,
    about = "Denoising autoencoders and classifiers trained entirely on the GPU (wgpu + WGSL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GPU adapter, its driver and the limits and features used.
    Info,
    /// Print a preset's or a model file's layers and exact parameter
    /// counts, Keras-style.
    Summary {
        #[arg(long, required_unless_present = "model", conflicts_with = "model")]
        preset: Option<String>,
        /// A model file (TOML).
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
    },
    /// Print a preset (or a checkpoint's model) as a model file to start
    /// from (`dae spec --preset conv-dae > my-model.toml`, then `dae train
    /// --model my-model.toml`).
    Spec {
        #[arg(
            long,
            required_unless_present = "checkpoint",
            conflicts_with = "checkpoint"
        )]
        preset: Option<String>,
        /// A model.safetensors written by `dae train` or `dae experiment`.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Train a preset or a model file (or resume a run); writes a checkpoint, metrics.csv and
    /// figures to --out after every epoch.
    Train(cli::TrainArgs),
    /// Score a checkpoint on the test set.
    Eval {
        /// A model.safetensors written by `dae train` or `dae experiment`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Dataset to score on (default: the data it was trained on, which
        /// the checkpoint records, own data by its absolute paths).
        #[arg(long)]
        dataset: Option<String>,
        /// Override the input noise (default: the training noise).
        #[arg(long)]
        noise: Option<String>,
        /// Folder holding mnist/ and fashion-mnist/ (default: ./data, or $DAE_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Score the first N test images only.
        #[arg(long)]
        test_limit: Option<usize>,
        #[command(flatten)]
        own_data: cli::DataArgs,
    },
    /// Write a checkpoint as a PyTorch or Keras 3 model: DIR/model.py (build()
    /// and load()) and DIR/model.safetensors in that framework's layout.
    Export {
        /// A model.safetensors written by `dae train` or `dae experiment`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// pytorch or keras.
        #[arg(long, value_name = "TARGET")]
        to: String,
        /// Output folder (must be new or empty unless --overwrite).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace model.py and model.safetensors in a non-empty --out.
        #[arg(long)]
        overwrite: bool,
    },
    /// Run a whole study (see docs/studies.md): trainings, tables, figures
    /// and report.md.
    Experiment(cli::ExperimentArgs),
    /// Check every kernel this adapter runs (each pass of every variant)
    /// against the CPU reference, on the presets' shapes and ragged ones;
    /// exits non-zero on any failure.
    Check {
        /// Only kernels whose name contains this (e.g. matmul, conv2d, adam).
        #[arg(long)]
        only: Option<String>,
        /// The presets' layers at their full batch size (slow: the CPU
        /// reference runs every product).
        #[arg(long)]
        full: bool,
        /// Print failing rows only.
        #[arg(long)]
        failures: bool,
    },
    /// Time the kernels and one full training step on this adapter, or
    /// (--compare) a warm training epoch of each preset.
    Bench(cli::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => cli::info(),
        Command::Summary { preset, model } => cli::summary(preset.as_deref(), model.as_deref()),
        Command::Spec { preset, checkpoint } => cli::spec(preset.as_deref(), checkpoint.as_deref()),
        Command::Train(args) => cli::train(args),
        Command::Experiment(args) => cli::experiment(args),
        Command::Eval {
            checkpoint,
            dataset,
            noise,
            data,
            test_limit,
            own_data,
        } => cli::eval(
            &checkpoint,
            dataset.as_deref(),
            noise.as_deref(),
            data,
            test_limit,
            &own_data,
        ),
        Command::Export {
            checkpoint,
            to,
            out,
            overwrite,
        } => cli::export(&checkpoint, &to, &out, overwrite),
        Command::Bench(args) => cli::bench(args),
        Command::Check {
            only,
            full,
            failures,
        } => cli::check(dae::check::Options { only, full }, failures),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(i) = e.downcast_ref::<dae::run::Interrupted>() {
                eprintln!("{i}");
                return ExitCode::from(dae::run::interrupt::EXIT_INTERRUPTED);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
