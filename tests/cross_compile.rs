//! Every shader, for every value of its pipeline-overridable constants that
//! the launchers use, translates with naga to SPIR-V (then read back by
//! naga's SPIR-V front end and validated), MSL 2.4 and HLSL SM 6.0: the
//! translations wgpu makes for Vulkan, Metal and DX12. No GPU needed.

use naga::back::PipelineConstants;
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// The values the launchers give each override constant.
fn values(name: &str) -> &'static [f64] {
    match name {
        "FORM" | "PASS" => &[0.0, 1.0, 2.0],
        "ACT" => &[0.0, 1.0, 2.0, 3.0],
        "EPILOGUE" | "SLOPE" | "DIR" => &[0.0, 1.0],
        other => {
            panic!("override {other}: add the values its launcher uses to tests/cross_compile.rs")
        }
    }
}

fn validate(m: &naga::Module) -> Result<naga::valid::ModuleInfo, String> {
    Validator::new(ValidationFlags::all(), Capabilities::all())
        .validate(m)
        .map_err(|e| format!("{e:?}"))
}

/// Every combination of the module's overrides' values.
fn combinations(m: &naga::Module) -> Vec<Vec<(String, f64)>> {
    let mut out = vec![Vec::new()];
    for (_, o) in m.overrides.iter() {
        let name = o.name.clone().expect("overrides are named");
        out = out
            .into_iter()
            .flat_map(|c| {
                let name = name.clone();
                values(&name).iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((name.clone(), *v));
                    c
                })
            })
            .collect();
    }
    out
}

/// Translates one specialised module to the three targets; the failures.
fn translate(m: &naga::Module, info: &naga::valid::ModuleInfo) -> Vec<(&'static str, String)> {
    let mut fail = Vec::new();
    let spv_opts = naga::back::spv::Options {
        lang_version: (1, 3),
        ..Default::default()
    };
    match naga::back::spv::write_vec(m, info, &spv_opts, None) {
        Ok(words) => {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            match naga::front::spv::parse_u8_slice(&bytes, &Default::default()) {
                Ok(back) => {
                    if let Err(e) = validate(&back) {
                        fail.push(("SPIR-V (read back)", e));
                    }
                }
                Err(e) => fail.push(("SPIR-V (read back)", format!("{e:?}"))),
            }
        }
        Err(e) => fail.push(("SPIR-V", format!("{e:?}"))),
    }
    let msl_opts = naga::back::msl::Options {
        lang_version: (2, 4),
        ..Default::default()
    };
    if let Err(e) = naga::back::msl::write_string(m, info, &msl_opts, &Default::default()) {
        fail.push(("MSL 2.4", format!("{e:?}")));
    }
    let hlsl_opts = naga::back::hlsl::Options {
        shader_model: naga::back::hlsl::ShaderModel::V6_0,
        ..Default::default()
    };
    let mut out = String::new();
    let pipeline = Default::default();
    let mut w = naga::back::hlsl::Writer::new(&mut out, &hlsl_opts, &pipeline);
    if let Err(e) = w.write(m, info, None) {
        fail.push(("HLSL SM 6.0", format!("{e:?}")));
    }
    fail
}

#[test]
fn every_shader_translates_to_spirv_msl_and_hlsl() {
    let mut failures = Vec::new();
    let mut variants = 0;
    for (name, src) in dae::kernels::all_shaders() {
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = validate(&module).unwrap_or_else(|e| panic!("{name}: {e}"));
        for combo in combinations(&module) {
            let mut constants = PipelineConstants::default();
            for (k, v) in &combo {
                constants.insert(k.clone(), *v);
            }
            let (m, i) = match naga::back::pipeline_constants::process_overrides(
                &module, &info, None, &constants,
            ) {
                Ok(x) => x,
                Err(e) => {
                    failures.push(format!("{name} {combo:?}: overrides: {e:?}"));
                    continue;
                }
            };
            variants += 1;
            for (backend, e) in translate(&m, &i) {
                failures.push(format!("{name} {combo:?} -> {backend}: {e}"));
            }
        }
    }
    assert!(variants > 50, "only {variants} shader variants found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{variants} shader variants translated to SPIR-V, MSL and HLSL");
}
