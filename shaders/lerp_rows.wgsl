// Latent interpolation between two codes:
//   z[i, f] = alphas[i]·z1[f] + (1 − alphas[i])·z2[f]
// z1, z2: (features); alphas: (steps); z: (steps, features), overwritten.
// Dispatch: workgroup 64, each invocation handles 4 elements of z 64 apart;
// grid from groups_2d(steps·features / 256).

struct Params {
    steps: u32,
    features: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> z1: array<f32>;
@group(0) @binding(1) var<storage, read> z2: array<f32>;
@group(0) @binding(2) var<storage, read> alphas: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let n = p.steps * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        let row = i / p.features;
        let f = i - row * p.features;
        let a = alphas[row];
        // Two products rather than z2 + a·(z1 − z2): alpha 1 and 0 then give
        // z1 and z2 exactly.
        z[i] = a * z1[f] + (1.0 - a) * z2[f];
    }
}
