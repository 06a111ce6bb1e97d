// Dropout backward (Keras semantics, training mode): dx = dy ⊙ mask / (1 − rate),
// where mask[i] = uniform01(hash(seed, step, stream, i)) >= rate, so each unit
// is kept with probability 1 − rate and kept units are scaled by 1/(1 − rate).
// The mask is recomputed from the hash rather than stored: the same (seed,
// step, stream, index) gives the same draw as the forward pass.
// dy, dx: (n). Dispatch: workgroup 64, each invocation handles 4 elements
// 64 apart; grid from groups_2d(n / 256). dx is overwritten; it may not alias dy.
// `with_activation` also runs the backward of the activation that followed
// the dropout (y: that activation's output, (n)) first, exactly as
// activation_backward.wgsl then `main` would: dx = (dy * f'(y)) ⊙ mask / (1 − rate).

struct Params {
    n: u32,
    stream: u32,
    rate: f32,
    scale: f32,   // 1/(1 − rate) computed on the host, 0 when rate >= 1
    kind: u32,    // with_activation: 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    alpha: f32,   // leaky relu slope
    _pad0: u32,
    _pad1: u32,
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

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;
@group(0) @binding(3) var<storage, read> y: array<f32>;   // with_activation only

fn slope(v: f32) -> f32 {
    switch p.kind {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(p.alpha, 1.0, v > 0.0); }
        case 3u: { return v * (1.0 - v); }
        default: { return 1.0; }
    }
}

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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let key = rng_key(s.seed, s.step, p.stream);
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        dx[i] = select(0.0, dy[i] * p.scale, uniform01(key, i) >= p.rate);
    }
}

@compute @workgroup_size(64)
fn with_activation(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nw: vec3<u32>) {
    let key = rng_key(s.seed, s.step, p.stream);
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        let dz = dy[i] * slope(y[i]);
        dx[i] = select(0.0, dz * p.scale, uniform01(key, i) >= p.rate);
    }
}
