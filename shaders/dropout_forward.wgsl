// Dropout forward (Keras semantics, training mode): y = x ⊙ mask / (1 − rate),
// where mask[i] = uniform01(hash(seed, step, stream, i)) >= rate, so each unit
// is kept with probability 1 − rate and kept units are scaled by 1/(1 − rate).
// x, y: (n). Dispatch: workgroup 64, each invocation handles 4 elements
// 64 apart; grid from groups_2d(n / 256). y is overwritten; it may not alias x.

struct Params {
    n: u32,
    stream: u32,
    rate: f32,
    scale: f32,   // 1/(1 − rate) computed on the host, 0 when rate >= 1
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
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

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
        y[i] = select(0.0, x[i] * p.scale, uniform01(key, i) >= p.rate);
    }
}
