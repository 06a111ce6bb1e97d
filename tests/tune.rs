//! Tuning to the adapter: the passes a plan runs, the timing and choice,
//! the cache file, and the CLI's first and second runs.

mod common;

use std::process::Command;

use common::*;
use dae::data::{Dataset, DatasetName};
use dae::gpu::Gpu;
use dae::kernels::activation::Activation;
use dae::kernels::choice::Op;
use dae::kernels::conv2d::{Conv2d, Padding};
use dae::kernels::matmul::{Form, Matmul, Variant};
use dae::nn::presets;
use dae::train::Trainer;
use dae::tune;

/// `tune::plan_ops` lists exactly the matmul and convolution passes a preset's
/// training plan asks the launchers for, so a tuned run has a choice for
/// every pass and tunes nothing it does not run.
#[test]
fn ops_are_exactly_the_passes_each_preset_plan_runs() {
    let Some(_) = gpu() else { return };
    let data = Dataset::load(&Dataset::default_root(), DatasetName::Mnist).unwrap();
    for (name, _) in presets::PRESETS {
        // A device of its own per preset, so `asked_passes` is this plan's.
        let g = Gpu::new().unwrap();
        g.set_compile_threads(0);
        let mut spec = presets::preset(name).unwrap();
        spec.train_limit = Some(spec.batch_size * 2);
        let r = spec.resolve_layers().unwrap();
        let mut want: Vec<String> = tune::plan_ops(&g, &spec, &r)
            .iter()
            .map(|o| o.key())
            .collect();
        want.sort();
        let t = Trainer::new(&g, spec, &data, None, 1).unwrap();
        drop(t);
        assert_eq!(g.asked_passes(), want, "preset {name}");
    }
}

fn small_ops() -> Vec<Op> {
    let c = Conv2d {
        batch: 4,
        h: 9,
        w: 7,
        cin: 5,
        cout: 8,
        k: 3,
        padding: Padding::Same,
    };
    vec![
        Op::Matmul(Matmul {
            m: 37,
            k: 50,
            n: 24,
            form: Form::NN,
            act: Activation::Identity,
        }),
        Op::Matmul(Matmul {
            m: 50,
            k: 37,
            n: 24,
            form: Form::TN,
            act: Activation::Identity,
        }),
        Op::ConvForward(c),
        Op::ConvInput(c),
        Op::ConvWeight(c),
    ]
}

/// Every pass gets a choice that was timed (so it passed the check), the
/// choice is set on the device, and it is the fixed rule's variant unless
/// another was faster by the margin.
#[test]
fn tune_times_checked_variants_and_keeps_the_incumbent_unless_beaten() {
    let Some(_) = gpu() else { return };
    let g = Gpu::new().unwrap();
    let ops = small_ops();
    let mut lines = Vec::new();
    let choices = tune::tune(&g, &ops, &mut |l| lines.push(l.to_string())).unwrap();
    if !tune::enabled(&g) {
        eprintln!("one kernel family here: tuning still times it");
    }
    assert_eq!(choices.len(), ops.len());
    assert_eq!(lines.len(), ops.len());
    let incumbent = Variant::best(&g);
    for (c, op) in choices.iter().zip(&ops) {
        assert_eq!(c.key, op.key());
        assert_eq!(g.tuned(&c.key), Some(c.chosen));
        assert_eq!(Variant::choose(&g, *op), c.chosen, "{}", c.key);
        let t = |v: Variant| c.times.iter().find(|(w, _)| *w == v).and_then(|x| x.1);
        let chosen = t(c.chosen).expect("the chosen variant was timed");
        // Every candidate was tried: the wide tiles on matmul passes only.
        let tried: Vec<Variant> = c.times.iter().map(|(v, _)| *v).collect();
        let mut want = Variant::candidates(&g, op);
        want.sort();
        let mut tried_sorted = tried.clone();
        tried_sorted.sort();
        assert_eq!(tried_sorted, want, "{}", c.key);
        let wide = tried.contains(&Variant::Tiled64) && tried.contains(&Variant::Tiled128x64);
        assert_eq!(wide, matches!(op, Op::Matmul(_)), "{}: {tried:?}", c.key);
        assert!(chosen > 0.0 && chosen.is_finite(), "{}: {chosen}", c.key);
        if c.chosen != incumbent {
            if let Some(base) = t(incumbent) {
                assert!(chosen < base * (1.0 - tune::MARGIN), "{}: {c:?}", c.key);
            }
        }
    }
    // A second call has nothing left to tune.
    assert!(tune::tune(&g, &ops, &mut |_| {}).unwrap().is_empty());
}

/// The cache keeps its lines across save and load, ignores a file written
/// for another adapter or dae version, and skips lines it cannot read.
#[test]
fn cache_round_trips_and_ignores_foreign_or_broken_lines() {
    let Some(_) = gpu() else { return };
    let dir = std::env::temp_dir().join(format!("dae-tune-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tuning.txt");
    let g = Gpu::new().unwrap();
    g.set_tuned("matmul_nn_m1_k2_n3", Variant::Tiled);
    g.set_tuned("conv_fwd_b1_2x2x1_to1_k1_same", Variant::Tiled);
    tune::cache::save(&g, &path).unwrap();
    let fresh = Gpu::new().unwrap();
    assert_eq!(tune::cache::load(&fresh, &path).unwrap(), 2);
    assert_eq!(fresh.tuned_choices(), g.tuned_choices());

    let fp = tune::cache::fingerprint(&g);
    let text = format!("fingerprint {fp}\nmatmul_nn_m1_k2_n3 tiled\nbroken\nkey nosuchvariant\n");
    assert_eq!(
        tune::cache::parse(&text, &fp),
        vec![("matmul_nn_m1_k2_n3".to_string(), Variant::Tiled)]
    );
    assert!(tune::cache::parse(&text, "0000000000000000").is_empty());
    // A missing file is no choices, not an error.
    assert_eq!(tune::cache::load(&fresh, &dir.join("none.txt")).unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

fn dae(cache: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dae"))
        .args(args)
        .env("DAE_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("XDG_CACHE_HOME", cache)
        .env_remove("DAE_TUNE")
        .env_remove("DAE_KERNELS")
        .output()
        .expect("run dae");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI's first run on an adapter tunes and writes the cache; the second
/// reads it and tunes nothing; `dae info` and `dae bench` show the choices.
#[test]
fn cli_tunes_once_then_reads_the_cache() {
    let Some(g) = gpu() else { return };
    let cache = std::env::temp_dir().join(format!("dae-tune-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let args = [
        "bench",
        "--step-preset",
        "sp-mlp",
        "--step-only",
        "--reps",
        "1",
    ];
    let (ok, out, err) = dae(&cache, &args);
    assert!(ok, "{out}\n{err}");
    if !tune::enabled(g) {
        assert!(out.contains("tuning:         off"), "{out}");
        return;
    }
    assert!(err.contains("tuning "), "first run did not tune:\n{err}");
    let file = cache
        .join("dae")
        .join(format!("tuning-{}.txt", tune::cache::fingerprint(g)));
    let text = std::fs::read_to_string(&file).expect("the cache file");
    assert!(text.contains("matmul_nn_m"), "{text}");
    assert!(out.contains("passes tuned on this adapter"), "{out}");

    let (ok, out2, err2) = dae(&cache, &args);
    assert!(ok, "{out2}\n{err2}");
    assert!(!err2.contains("tuning "), "second run tuned again:\n{err2}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let (ok, info, _) = dae(&cache, &["info"]);
    assert!(ok);
    let first_key = text
        .lines()
        .find(|l| l.starts_with("matmul_"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    assert!(info.contains(first_key), "{info}");
    let _ = std::fs::remove_dir_all(&cache);
}

/// The wide matmul tiles are named in the cache like the others, and a
/// tuning that names one for a convolution (a stale or edited cache) is
/// ignored: the convolution launchers never receive a matmul-only variant.
#[test]
fn wide_tiles_are_cached_by_name_and_never_reach_a_convolution() {
    let Some(_) = gpu() else { return };
    for v in Variant::ALL {
        assert_eq!(Variant::from_name(v.name()), Some(v));
    }
    assert_eq!(Variant::Tiled64.name(), "tiled-64x64");
    assert_eq!(Variant::Tiled128x64.name(), "tiled-128x64");
    let g = Gpu::new().unwrap();
    let ops = small_ops();
    for op in &ops {
        g.set_tuned(&op.key(), Variant::Tiled128x64);
        let got = Variant::choose(&g, *op);
        match op {
            Op::Matmul(_) => assert_eq!(got, Variant::Tiled128x64, "{}", op.key()),
            _ => {
                assert!(got.has_conv(), "{}: {got:?}", op.key());
                assert_eq!(got, Variant::untuned(&g), "{}", op.key());
            }
        }
    }
}
