// BatchNorm backward, pass 3 of 3: the input gradient.
//   dx[r, f] = gamma[f] * rstd[f] / N * (N * dy - dbeta[f] - xhat * dgamma[f]),
//   xhat = (x - mean[f]) * rstd[f], N = rows
// dy, x, dx: (rows, features); mean, rstd: (features); gamma: (features) at a
// word offset into the flat parameter buffer; dgamma, dbeta: (features) at
// word offsets into one buffer, grads (batchnorm_backward_finish wrote them):
// one binding for both keeps the pass at 8 storage buffers, WebGPU's default
// max_storage_buffers_per_shader_stage.
// dx is overwritten.
// One invocation per (row chunk, feature), features fastest; each loads its
// feature's values once and streams its chunk's rows. Workgroup 64; the grid
// may be 2-D (groups_2d). batchnorm_backward_dx_vec4.wgsl is the same with 4
// features per invocation, for features % 4 == 0.

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
    off_gamma: u32,
    off_dgamma: u32,
    off_dbeta: u32,
    slope_kind: u32,   // SLOPE = 1: 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    slope_alpha: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> p: Params;

// SLOPE = 1: the layer before this BatchNorm ends in an activation whose
// output is this pass's x; dx is multiplied by its slope at x, so dx is that
// layer's pre-activation gradient, bit for bit what activation_backward.wgsl
// would compute from this pass's plain dx.
override SLOPE: u32 = 0u;

fn slope(v: f32) -> f32 {
    switch p.slope_kind {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(p.slope_alpha, 1.0, v > 0.0); }
        case 3u: { return v * (1.0 - v); }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.chunks * p.features) { return; }
    let f = i % p.features;
    let c = i / p.features;
    let inv_n = 1.0 / f32(p.rows);
    let m = mean[f];
    let s = rstd[f];
    let g = gamma[p.off_gamma + f] * s;
    let mean_dy = grads[p.off_dbeta + f] * inv_n;
    let mean_dyx = grads[p.off_dgamma + f] * inv_n;
    let r0 = c * p.rows_per_chunk;
    let r1 = min(r0 + p.rows_per_chunk, p.rows);
    for (var r = r0; r < r1; r++) {
        let k = r * p.features + f;
        let xk = x[k];
        let v = g * (dy[k] - mean_dy - (xk - m) * s * mean_dyx);
        if (SLOPE == 1u) {
            dx[k] = v * slope(xk);
        } else {
            dx[k] = v;
        }
    }
}
