mod common;

use common::*;
use dae::gpu::{Gpu, Program, StepInfo};
use dae::kernels::noise::{self, Noise};
use dae::reference;
use dae::reference::noise::{normal, uniform01};

const STEP: StepInfo = StepInfo {
    step: 4242,
    batch_start: 0,
    seed: 12345,
    valid_rows: 0,
    lr: 0.0,
    bias_correction1: 0.0,
    bias_correction2: 0.0,
    _pad: 0,
};

fn apply(gpu: &Gpu, x: &[f32], kind: Noise, stream: u32, step: &StepInfo) -> Vec<f32> {
    let xt = gpu.upload_f32("x", x).unwrap();
    let yt = gpu.upload_f32("y", &vec![f32::NAN; x.len()]).unwrap();
    let mut prog = Program::default();
    prog.push(noise::apply(gpu, &yt, &xt, x.len(), kind, stream).unwrap());
    prog.run(gpu, step).unwrap();
    gpu.read_f32(&yt).unwrap()
}

fn mean_var(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn noise_parses_and_displays_every_form() {
    let cases = [
        ("none", Noise::None),
        (
            "gaussian:0.1",
            Noise::Gaussian {
                sigma: 0.1,
                clip: true,
            },
        ),
        (
            "gaussian-noclip:0.4",
            Noise::Gaussian {
                sigma: 0.4,
                clip: false,
            },
        ),
        ("uniform:0.3", Noise::Uniform { level: 0.3 }),
        ("salt-pepper:0.4", Noise::SaltPepper { p: 0.4 }),
        ("masking:0.2", Noise::Masking { p: 0.2 }),
        ("masking:1", Noise::Masking { p: 1.0 }),
        (
            "gaussian:0",
            Noise::Gaussian {
                sigma: 0.0,
                clip: true,
            },
        ),
    ];
    for (text, want) in cases {
        let got: Noise = text.parse().unwrap();
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), text, "display of {want:?}");
        assert_eq!(
            got.to_string().parse::<Noise>().unwrap(),
            got,
            "round trip of {text}"
        );
    }
    assert_eq!(
        " Gaussian : 0.25 ".parse::<Noise>().unwrap(),
        Noise::Gaussian {
            sigma: 0.25,
            clip: true
        }
    );
}

#[test]
fn noise_rejects_bad_specs_with_the_accepted_forms() {
    for bad in [
        "",
        "gauss:0.1",
        "gaussian",
        "gaussian:",
        "gaussian:abc",
        "gaussian:-0.1",
        "gaussian:inf",
        "uniform:-1",
        "salt-pepper:1.5",
        "salt-pepper:-0.1",
        "masking:2",
        "masking:nan",
        "none:0.1",
    ] {
        let err = bad.parse::<Noise>().unwrap_err().to_string();
        assert!(
            err.contains(&format!("{bad:?}")),
            "{bad}: message names the input: {err}"
        );
        assert!(
            err.contains("salt-pepper:P") && err.contains("gaussian-noclip:SIGMA"),
            "{bad}: lists the accepted forms: {err}"
        );
    }
}

#[test]
fn noise_rng_is_identical_in_every_shader() {
    // The WGSL copies of the hash must not drift from each other (and the
    // GPU-vs-reference tests below pin them to the Rust version).
    let block = |src: &str| -> String {
        let start = src
            .find("// ---- counter-based RNG")
            .expect("RNG block start");
        let end = src.find("// ---- end RNG ----").expect("RNG block end");
        src[start..end].to_string()
    };
    let with_rng: Vec<_> = dae::kernels::all_shaders()
        .into_iter()
        .filter(|(_, s)| s.contains("fn hash_keyed"))
        .collect();
    assert!(
        with_rng.len() >= 3,
        "noise, dropout_forward and dropout_backward draw numbers"
    );
    let first = block(with_rng[0].1);
    for (name, src) in &with_rng {
        assert_eq!(
            block(src),
            first,
            "{name}: RNG block differs from {}",
            with_rng[0].0
        );
    }
}

#[test]
fn noise_reference_draws_have_the_right_moments() {
    let n = 200_000u32;
    let u: Vec<f32> = (0..n).map(|i| uniform01(7, 3, 1, i)).collect();
    let (m, v) = mean_var(&u);
    // Uniform [0,1): mean 1/2, variance 1/12; sd of the mean 6.5e-4.
    assert!(
        (m - 0.5).abs() < 4e-3 && (v - 1.0 / 12.0).abs() < 2e-3,
        "uniform mean {m} var {v}"
    );
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let z: Vec<f32> = (0..n).map(|i| normal(7, 3, 1, i)).collect();
    let (m, v) = mean_var(&z);
    // N(0,1): sd of the mean 2.2e-3, of the variance ~3.2e-3.
    assert!(
        m.abs() < 1.2e-2 && (v - 1.0).abs() < 2e-2,
        "normal mean {m} var {v}"
    );
    let tail = z.iter().filter(|x| x.abs() > 1.96).count() as f64 / n as f64;
    assert!(
        (tail - 0.05).abs() < 4e-3,
        "normal two-sided 5% tail holds {tail}"
    );
    // Neighbouring streams and indices are uncorrelated.
    let w: Vec<f32> = (0..n).map(|i| uniform01(7, 3, 2, i)).collect();
    let corr = u
        .iter()
        .zip(&w)
        .map(|(&a, &b)| (a as f64 - 0.5) * (b as f64 - 0.5))
        .sum::<f64>()
        / n as f64
        * 12.0;
    let lag = u
        .windows(2)
        .map(|p| (p[0] as f64 - 0.5) * (p[1] as f64 - 0.5))
        .sum::<f64>()
        / n as f64
        * 12.0;
    assert!(
        corr.abs() < 1.2e-2 && lag.abs() < 1.2e-2,
        "correlation across streams {corr}, lag-1 {lag}"
    );
}

#[test]
fn noise_gpu_uniform_draws_match_reference_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let n = 10_007;
    // x = 0.5, level 0.5: y = 0.5 + 0.5·(2u − 1) = u exactly (u has 24 bits),
    // so the output is the raw uniform draw.
    let y = apply(gpu, &vec![0.5; n], Noise::Uniform { level: 0.5 }, 77, &STEP);
    for (i, &v) in y.iter().enumerate() {
        let want = uniform01(STEP.seed, STEP.step, 77, i as u32);
        assert_eq!(
            v.to_bits(),
            want.to_bits(),
            "draw {i}: gpu {v}, reference {want}"
        );
    }
}

#[test]
fn noise_gpu_normal_draws_match_reference() {
    let Some(gpu) = gpu() else { return };
    let n = 100_003;
    let y = apply(
        gpu,
        &vec![0.0; n],
        Noise::Gaussian {
            sigma: 1.0,
            clip: false,
        },
        78,
        &STEP,
    );
    let want: Vec<f32> = (0..n as u32)
        .map(|i| normal(STEP.seed, STEP.step, 78, i))
        .collect();
    // Conformant Vulkan log is within 2^-21 absolute on [0.5, 2] and cos
    // within 2^-11 on [−π, π]: up to ~3e-3 on |z| <= 5.8 on some GPUs;
    // lavapipe's libm-grade functions stay near 1e-6.
    assert_close("normal draws", &y, &want, 5e-3, 1e-3);
    let (m, v) = mean_var(&y);
    assert!(
        m.abs() < 1e-2 && (v - 1.0).abs() < 2e-2,
        "gpu normal mean {m} var {v}"
    );
}

#[test]
fn noise_apply_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(50);
    let kinds = [
        Noise::None,
        Noise::Gaussian {
            sigma: 0.1,
            clip: true,
        },
        Noise::Gaussian {
            sigma: 0.4,
            clip: false,
        },
        Noise::Uniform { level: 0.3 },
        Noise::SaltPepper { p: 0.4 },
        Noise::Masking { p: 0.2 },
    ];
    for n in [1usize, 7, 10, 196, 784, 50_001] {
        let x = uniform(&mut r, n, 0.0, 1.0);
        for kind in kinds {
            let got = apply(gpu, &x, kind, 5, &STEP);
            let mut want = vec![0.0; n];
            reference::noise::apply(&mut want, &x, kind, 5, &STEP);
            let what = format!("{kind} n={n}");
            match kind {
                // Gaussian: the normal's GPU tolerance (see above) times sigma.
                Noise::Gaussian { sigma, .. } => {
                    assert_close(&what, &got, &want, 5e-3 * sigma + 1e-6, 1e-5)
                }
                // One f32 product and sum, which a GPU may fuse: an ulp.
                Noise::Uniform { .. } => assert_close(&what, &got, &want, 1e-7, 1e-6),
                // Selections only: exact.
                _ => assert_eq!(got, want, "{what}"),
            }
        }
    }
}

#[test]
fn noise_salt_pepper_and_masking_fractions() {
    let Some(gpu) = gpu() else { return };
    let n = 200_000;
    // Input 0.5 everywhere, so a changed element is unambiguous.
    let x = vec![0.5f32; n];
    let frac = |y: &[f32], v: f32| y.iter().filter(|&&e| e == v).count() as f64 / n as f64;
    let p = 0.4;
    let y = apply(gpu, &x, Noise::SaltPepper { p }, 11, &STEP);
    // Five binomial standard deviations.
    let tol = |q: f64| 5.0 * (q * (1.0 - q) / n as f64).sqrt();
    let (zeros, ones, kept) = (frac(&y, 0.0), frac(&y, 1.0), frac(&y, 0.5));
    assert!((zeros - 0.2).abs() < tol(0.2), "pepper fraction {zeros}");
    assert!((ones - 0.2).abs() < tol(0.2), "salt fraction {ones}");
    assert!((kept - 0.6).abs() < tol(0.6), "kept fraction {kept}");
    let y = apply(gpu, &x, Noise::Masking { p: 0.2 }, 12, &STEP);
    let zeros = frac(&y, 0.0);
    assert!(
        (zeros - 0.2).abs() < tol(0.2) && (frac(&y, 0.5) - 0.8).abs() < tol(0.8),
        "masked fraction {zeros}"
    );
    // Clipped Gaussian noise stays in [0, 1]; unclipped around 0.5 keeps its sigma.
    let y = apply(
        gpu,
        &x,
        Noise::Gaussian {
            sigma: 0.5,
            clip: true,
        },
        13,
        &STEP,
    );
    assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
    let y = apply(
        gpu,
        &x,
        Noise::Gaussian {
            sigma: 0.2,
            clip: false,
        },
        14,
        &STEP,
    );
    let (m, v) = mean_var(&y);
    assert!(
        (m - 0.5).abs() < 3e-3 && (v.sqrt() - 0.2).abs() < 2e-3,
        "gaussian mean {m} sd {}",
        v.sqrt()
    );
    let y = apply(gpu, &x, Noise::Uniform { level: 0.3 }, 15, &STEP);
    let (m, v) = mean_var(&y);
    // U(0.2, 0.8): variance 0.3²/3 = 0.03.
    assert!(
        (m - 0.5).abs() < 3e-3 && (v - 0.03).abs() < 1e-3,
        "uniform mean {m} var {v}"
    );
}
