// BatchNorm backward, pass 1 of 3: per-chunk sums for the parameter gradients.
//   partial[(2c)*features + f]     = sum over the chunk's rows of dy
//   partial[(2c + 1)*features + f] = sum over the chunk's rows of dy * xhat,
//   xhat = (x - mean[f]) * rstd[f]
// dy, x: (rows, features); mean, rstd: (features) saved by the forward pass;
// partial: (chunks, 2, features), overwritten.
// batchnorm_backward_partial_vec4.wgsl is the same with 4 features per
// invocation, for features % 4 == 0.
// One invocation per (row chunk, feature), features fastest; workgroup 64; the
// grid may be 2-D (groups_2d).

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.chunks * p.features) { return; }
    let f = i % p.features;
    let c = i / p.features;
    let m = mean[f];
    let s = rstd[f];
    let r0 = c * p.rows_per_chunk;
    let r1 = min(r0 + p.rows_per_chunk, p.rows);
    var sdy = 0.0;
    var sdyx = 0.0;
    for (var r = r0; r < r1; r++) {
        let k = r * p.features + f;
        let g = dy[k];
        sdy += g;
        sdyx += g * (x[k] - m) * s;
    }
    let o = 2u * c * p.features + f;
    partial[o] = sdy;
    partial[o + p.features] = sdyx;
}
