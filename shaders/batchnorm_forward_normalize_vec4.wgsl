// BatchNorm forward, last pass (training) or only pass (inference):
//   y[r, f] = (x[r, f] - center[f]) * scale[f] * gamma[f] + beta[f]
// training (mode 0):  center = mean, scale = rstd (batchnorm_forward_finish);
// inference (mode 1): center = running_mean, scale = 1/sqrt(running_var + eps).
// x, y: (rows, features); stat_a, stat_b: the two statistics above, at word
// offsets off_a, off_b; gamma, beta: (features) at word offsets into the flat
// parameter buffer. y is overwritten.
// One invocation per (row chunk, 4 features), features fastest; each loads its
// features' four values once and streams its chunk's rows. Workgroup 64; the
// grid may be 2-D (groups_2d). This is batchnorm_forward_normalize.wgsl with 4
// features per invocation as vec4s (one load instead of four: what CPU
// drivers are bound by), for features % 4 == 0 and word offsets % 4 == 0;
// every array is bound as vec4 and the offsets are in vec4 units.

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
    mode: u32,
    off_a: u32,
    off_b: u32,
    off_gamma: u32,
    off_beta: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stat_a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> stat_b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> beta: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    let quads = p.features / 4u;
    if (i >= p.chunks * quads) { return; }
    let q = i % quads;
    let c = i / quads;
    let center = stat_a[p.off_a + q];
    let b = stat_b[p.off_b + q];
    let rstd = select(b, inverseSqrt(b + p.eps), p.mode == 1u);
    let scale = rstd * gamma[p.off_gamma + q];
    let shift = beta[p.off_beta + q];
    let r0 = c * p.rows_per_chunk;
    let r1 = min(r0 + p.rows_per_chunk, p.rows);
    for (var r = r0; r < r1; r++) {
        let k = r * quads + q;
        y[k] = (x[k] - center) * scale + shift;
    }
}
