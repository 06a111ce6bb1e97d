// BatchNorm training forward, pass 1 of 3: per-chunk statistics.
//   For feature f and row chunk c (rows [c*R, min(c*R + R, rows))):
//   partial[(2c)*features + f]     = chunk mean
//   partial[(2c + 1)*features + f] = chunk M2 = sum of squared deviations
// x: (rows, features); partial: (chunks, 2, features), overwritten.
// batchnorm_forward_partial_vec4.wgsl is the same with 4 features per
// invocation, for features % 4 == 0.
// One invocation per (chunk, feature), features fastest so that neighbouring
// invocations read neighbouring words of a row; workgroup 64; the grid may be
// 2-D (groups_2d). The host picks R: few long chunks on CPU drivers, many
// short ones on GPUs.
// Sums are taken around the chunk's first value so that the variance does
// not cancel catastrophically when |mean| >> std (the shift is one of the
// samples, so it lies within a few std of the mean).

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.chunks * p.features) { return; }
    let f = i % p.features;
    let c = i / p.features;
    let r0 = c * p.rows_per_chunk;
    let r1 = min(r0 + p.rows_per_chunk, p.rows);
    let shift = x[r0 * p.features + f];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var r = r0; r < r1; r++) {
        let d = x[r * p.features + f] - shift;
        s1 += d;
        s2 += d * d;
    }
    let n = f32(r1 - r0);
    let o = 2u * c * p.features + f;
    partial[o] = shift + s1 / n;
    partial[o + p.features] = max(s2 - s1 * s1 / n, 0.0);
}
