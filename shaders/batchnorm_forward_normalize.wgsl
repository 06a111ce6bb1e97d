// BatchNorm forward, last pass (training) or only pass (inference):
//   y[r, f] = (x[r, f] - center[f]) * scale[f] * gamma[f] + beta[f]
// training (mode 0):  center = mean, scale = rstd (batchnorm_forward_finish);
// inference (mode 1): center = running_mean, scale = 1/sqrt(running_var + eps).
// x, y: (rows, features); stat_a, stat_b: the two statistics above, at word
// offsets off_a, off_b; gamma, beta: (features) at word offsets into the flat
// parameter buffer. y is overwritten. With EPILOGUE = 1 a dropout (training)
// and an activation follow, as the layers after the BatchNorm would apply them.
// One invocation per (row chunk, feature), features fastest; each loads its
// feature's four values once and streams its chunk's rows. Workgroup 64; the
// grid may be 2-D (groups_2d). batchnorm_forward_normalize_vec4.wgsl is the
// same with 4 features per invocation, for features % 4 == 0.

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
    // Epilogue (EPILOGUE = 1): dropout (training; drop_scale = 1/(1 - rate),
    // 0 when rate >= 1; has_drop 0 or 1) then the activation (act_kind 0
    // identity, 1 relu, 2 leaky relu, 3 sigmoid).
    act_kind: u32,
    act_alpha: f32,
    has_drop: u32,
    drop_stream: u32,
    drop_rate: f32,
    drop_scale: f32,
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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stat_a: array<f32>;
@group(0) @binding(2) var<storage, read> stat_b: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

// 1: apply the epilogue (dropout, activation) before storing y; 0: store the
// normalised value. With it, y[i] is exactly what dropout_forward.wgsl then
// activation_forward.wgsl would have computed from the normalised value.
override EPILOGUE: u32 = 0u;

// ---- counter-based RNG: keep identical to src/reference/noise.rs ----
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn rng_key(seed: u32, step: u32, stream: u32) -> u32 {
    return pcg(stream + pcg(step + pcg(seed)));
}

fn hash_keyed(key: u32, index: u32) -> u32 {
    return pcg(pcg(index + key) ^ key);
}

fn uniform01(key: u32, index: u32) -> f32 {
    return f32(hash_keyed(key, index) >> 8u) * (1.0 / 16777216.0);
}

fn normal(key: u32, index: u32) -> f32 {
    let u1 = 1.0 - uniform01(key, 2u * index);
    let u2 = uniform01(key, 2u * index + 1u);
    let angle = 6.2831855 * u2 - 3.1415927;
    return sqrt(max(-2.0 * log(u1), 0.0)) * cos(angle);
}
// ---- end RNG ----

fn act(v: f32) -> f32 {
    switch p.act_kind {
        case 1u: { return max(v, 0.0); }
        case 2u: { return select(p.act_alpha * v, v, v > 0.0); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

// The epilogue of element i (flat index into the (rows, features) array).
fn epilogue(v: f32, key: u32, i: u32) -> f32 {
    var d = v;
    if (p.has_drop != 0u) {
        d = select(0.0, v * p.drop_scale, uniform01(key, i) >= p.drop_rate);
    }
    return act(d);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.chunks * p.features) { return; }
    let f = i % p.features;
    let c = i / p.features;
    let center = stat_a[p.off_a + f];
    let b = stat_b[p.off_b + f];
    let rstd = select(b, inverseSqrt(b + p.eps), p.mode == 1u);
    let scale = rstd * gamma[p.off_gamma + f];
    let shift = beta[p.off_beta + f];
    let r0 = c * p.rows_per_chunk;
    let r1 = min(r0 + p.rows_per_chunk, p.rows);
    let key = rng_key(s.seed, s.step, p.drop_stream);
    for (var r = r0; r < r1; r++) {
        let k = r * p.features + f;
        let v = (x[k] - center) * scale + shift;
        if (EPILOGUE == 1u) {
            y[k] = epilogue(v, key, k);
        } else {
            y[k] = v;
        }
    }
}
