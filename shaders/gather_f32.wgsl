// Builds one batch from an f32 matrix already on the GPU (e.g. codes an
// encoder computed), the f32 twin of gather.wgsl:
//   j = batch_start + r (from the step uniform), clamped to n_indices − 1 so
//   padding rows of the last batch repeat the final sample and stay finite;
//   x[r, f] = src[indices[j]·features + f].
// src: (count, features) f32; indices: (n_indices) u32, every entry < count;
// x: (batch, features) f32, overwritten.
// Dispatch: workgroup 64, each invocation copies 4 elements of x 64 apart (so
// neighbouring lanes touch neighbouring words); grid from
// groups_2d(batch·features / 256).

struct Params {
    batch: u32,
    features: u32,
    n_indices: u32,
    _pad: u32,
}

struct Step {
    step: u32,
    batch_start: u32,
    seed: u32,
    valid_rows: u32,
    lr: f32,
    bias_correction1: f32,
    bias_correction2: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let n = p.batch * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        let r = i / p.features;
        let f = i - r * p.features;
        let sample = indices[min(s.batch_start + r, p.n_indices - 1u)];
        x[i] = src[sample * p.features + f];
    }
}
