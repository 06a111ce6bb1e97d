// BatchNorm training forward, pass 2 of 3: combine the chunk statistics of
// each feature (Chan et al.'s pairwise update), then
//   mean[f] = batch mean, rstd[f] = 1 / sqrt(biased batch variance + eps),
//   running_mean[f] = momentum * running_mean[f] + (1 - momentum) * mean,
//   running_var[f]  = momentum * running_var[f]  + (1 - momentum) * variance
// (Keras: the moving variance takes the same biased batch variance).
// partial: (chunks, 2, features) from batchnorm_forward_partial(_vec4).
// mean, rstd: (features), overwritten (backward reads them). running_mean and
// running_var: (features) at word offsets into the flat parameter buffer,
// updated in place.
// Two entry points. `main` (GPUs, many chunks): one workgroup of 64 per
// feature (the grid may be 2-D), each invocation folds every 64th chunk, then
// a tree reduction in workgroup memory. `serial` (CPU drivers, where barriers
// are expensive, and few chunks): one invocation per feature folds every
// chunk; workgroup 64 over features.

struct Params {
    rows: u32,
    features: u32,
    rows_per_chunk: u32,
    chunks: u32,
    off_running_mean: u32,
    off_running_var: u32,
    momentum: f32,
    eps: f32,
}

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(5) var<storage, read> p: Params;

var<workgroup> w_n: array<f32, 64>;
var<workgroup> w_mean: array<f32, 64>;
var<workgroup> w_m2: array<f32, 64>;

// Folds (nb, mb, m2b) into (a.x, a.y, a.z) = (count, mean, M2).
fn combine(a: vec3<f32>, nb: f32, mb: f32, m2b: f32) -> vec3<f32> {
    let n = a.x + nb;
    if (n == 0.0) { return a; }
    let d = mb - a.y;
    return vec3<f32>(n, a.y + d * nb / n, a.z + m2b + d * d * a.x * nb / n);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let f = wid.x + wid.y * nw.x;
    if (f >= p.features) { return; }
    var acc = vec3<f32>(0.0);
    for (var c = t; c < p.chunks; c += 64u) {
        let nb = f32(min(p.rows_per_chunk, p.rows - c * p.rows_per_chunk));
        let o = 2u * c * p.features + f;
        acc = combine(acc, nb, partial[o], partial[o + p.features]);
    }
    w_n[t] = acc.x;
    w_mean[t] = acc.y;
    w_m2[t] = acc.z;
    for (var half = 32u; half > 0u; half >>= 1u) {
        workgroupBarrier();
        if (t < half) {
            let a = combine(vec3<f32>(w_n[t], w_mean[t], w_m2[t]),
                            w_n[t + half], w_mean[t + half], w_m2[t + half]);
            w_n[t] = a.x;
            w_mean[t] = a.y;
            w_m2[t] = a.z;
        }
    }
    if (t == 0u) {
        finish(f, w_mean[0], w_m2[0]);
    }
}

fn finish(f: u32, m: f32, m2: f32) {
    let var_b = m2 / f32(p.rows);
    mean[f] = m;
    rstd[f] = inverseSqrt(var_b + p.eps);
    let rm = p.off_running_mean + f;
    let rv = p.off_running_var + f;
    running_mean[rm] = p.momentum * running_mean[rm] + (1.0 - p.momentum) * m;
    running_var[rv] = p.momentum * running_var[rv] + (1.0 - p.momentum) * var_b;
}

@compute @workgroup_size(64)
fn serial(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let f = id.x + id.y * nw.x * 64u;
    if (f >= p.features) { return; }
    var acc = vec3<f32>(0.0);
    for (var c = 0u; c < p.chunks; c++) {
        let nb = f32(min(p.rows_per_chunk, p.rows - c * p.rows_per_chunk));
        let o = 2u * c * p.features + f;
        acc = combine(acc, nb, partial[o], partial[o + p.features]);
    }
    finish(f, acc.y, acc.z);
}
