// BatchNorm backward, pass 2 of 3: sum the chunk sums of each feature.
//   dbeta[f] = sum_r dy[r, f];  dgamma[f] = sum_r dy[r, f] * xhat[r, f]
// partial: (chunks, 2, features) from batchnorm_backward_partial(_vec4).
// dgamma, dbeta: (features) at word offsets into the flat gradient buffer,
// overwritten.
// Two entry points. `main` (GPUs, many chunks): one workgroup of 64 per
// feature (the grid may be 2-D), each invocation sums every 64th chunk, then
// a tree reduction in workgroup memory. `serial` (CPU drivers, where barriers
// are expensive, and few chunks): one invocation per feature sums every
// chunk; workgroup 64 over features.

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
    off_dgamma: u32,
    off_dbeta: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;

var<workgroup> w: array<vec2<f32>, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let f = wid.x + wid.y * nw.x;
    if (f >= p.features) { return; }
    var acc = vec2<f32>(0.0);
    for (var c = t; c < p.chunks; c += 64u) {
        let o = 2u * c * p.features + f;
        acc += vec2<f32>(partial[o], partial[o + p.features]);
    }
    w[t] = acc;
    for (var half = 32u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if (t < half) {
            w[t] += w[t + half];
        }
    }
    if (t == 0u) {
        dbeta[p.off_dbeta + f] = w[0].x;
        dgamma[p.off_dgamma + f] = w[0].y;
    }
}

@compute @workgroup_size(64)
fn serial(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let f = id.x + id.y * nw.x * 64u;
    if (f >= p.features) { return; }
    var acc = vec2<f32>(0.0);
    for (var c = 0u; c < p.chunks; c++) {
        let o = 2u * c * p.features + f;
        acc += vec2<f32>(partial[o], partial[o + p.features]);
    }
    dbeta[p.off_dbeta + f] = acc.x;
    dgamma[p.off_dgamma + f] = acc.y;
}
