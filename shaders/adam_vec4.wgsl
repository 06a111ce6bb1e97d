// Keras 3 Adam (keras/src/optimizers/adam.py, amsgrad off) over a contiguous
// range of the flat parameter buffer, in Keras' own form:
//   m += (g - m) * (1 - beta1);  v += (g * g - v) * (1 - beta2)
//   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//   w -= alpha * m / (sqrt(v) + eps)
// (eps is added to the uncorrected sqrt(v), as Keras does, not to
// sqrt(v / (1 - beta2^t)) as in the paper.)
// grads: (n) at word offset off_g; params: (n) at word offset off_w; m, v: (n)
// from word 0; params, m, v updated in place. lr, 1 - beta1^t and
// 1 - beta2^t come from the step uniform (group 1).
// This is adam.wgsl with 4 elements per load and store as vec4s (what CPU
// drivers are bound by), for n, off_g and off_w multiples of 4: every array
// is bound as vec4 (once: 6 storage buffers with params and step).

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

struct Params {
    n: u32,
    off_w: u32,
    off_g: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> grads4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> params4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

// One invocation per 4 elements (one vec4); workgroup 64; the grid may be
// 2-D (groups_2d).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let q = id.x + id.y * nw.x * 64u;
    if (q >= p.n / 4u) { return; }
    let a = s.lr * sqrt(s.bias_correction2) / s.bias_correction1;
    // Each operand loaded once: m, v and params are read_write, so the
    // compiler may not merge repeated loads (each load is a per-lane loop on
    // lavapipe).
    let g = grads4[p.off_g / 4u + q];
    let m0 = m4[q];
    let v0 = v4[q];
    let iw = p.off_w / 4u + q;
    let w0 = params4[iw];
    let mi = m0 + (g - m0) * (1.0 - p.beta1);
    let vi = v0 + (g * g - v0) * (1.0 - p.beta2);
    m4[q] = mi;
    v4[q] = vi;
    params4[iw] = w0 - a * mi / (sqrt(vi) + p.eps);
}
