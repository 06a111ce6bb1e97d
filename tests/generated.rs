//! The generated shaders are what their generators write today: each
//! generator in `tools/` is run and its output compared byte for byte with
//! the committed file, so the two cannot drift apart.

use std::path::Path;
use std::process::Command;

/// (generator, its arguments, the file it writes).
fn generated() -> Vec<(&'static str, Vec<String>, String)> {
    let mut v = Vec::new();
    for lanes in [4, 8, 16] {
        for (mode, stem) in [
            ("vec4", "matmul_subgroup"),
            ("ragged", "matmul_subgroup_ragged"),
        ] {
            v.push((
                "tools/gen_matmul.py",
                vec![mode.to_string(), lanes.to_string()],
                format!("shaders/{stem}_x{lanes}.wgsl"),
            ));
        }
        for (kind, mode, stem) in [
            ("gemm", "vec4", "conv2d_subgroup"),
            ("gemm", "ragged", "conv2d_subgroup_ragged"),
            ("weight", "vec4", "conv2d_weight_subgroup"),
            ("weight", "ragged", "conv2d_weight_subgroup_ragged"),
        ] {
            v.push((
                "tools/gen_conv2d.py",
                vec![kind.to_string(), mode.to_string(), lanes.to_string()],
                format!("shaders/{stem}_x{lanes}.wgsl"),
            ));
        }
    }
    for tile in ["64x64", "128x64"] {
        for (mode, stem) in [("vec4", "matmul_wide"), ("ragged", "matmul_wide_ragged")] {
            v.push((
                "tools/gen_matmul_wide.py",
                vec![mode.to_string(), tile.to_string()],
                format!("shaders/{stem}_{tile}.wgsl"),
            ));
        }
    }
    for kind in ["spread", "gather", "weight"] {
        v.push((
            "tools/gen_conv2d_direct.py",
            vec![kind.to_string()],
            format!("shaders/conv2d_direct_{kind}.wgsl"),
        ));
    }
    v
}

#[test]
fn generated_shaders_match_their_generators() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut stale = Vec::new();
    for (tool, args, file) in generated() {
        let out = Command::new(&python)
            .arg(root.join(tool))
            .args(&args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {python} {tool}: {e} (set PYTHON to a Python 3)")
            });
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let committed = std::fs::read(root.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        if out.stdout != committed {
            stale.push(format!(
                "{file} (regenerate: python3 {tool} {} > {file})",
                args.join(" ")
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "generated shaders differ from their generators:\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn every_generated_family_is_registered() {
    // Each generated file is one the launchers can pick: it is in the
    // shader list that the validation test walks.
    let names: Vec<&str> = dae::kernels::all_shaders()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for (_, _, file) in generated() {
        let name = file.trim_start_matches("shaders/");
        assert!(names.contains(&name), "{name} is not registered");
    }
}
