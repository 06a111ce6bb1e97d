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

// Each buffer is bound twice, as vec4 and as f32 (the same buffer in both
// slots): `main` moves 4 elements per load and store (what CPU drivers are
// bound by; offsets must be multiples of 4 words) and finishes the last
// n % 4 elements through the f32 view; `scalar` uses only the f32 views.
@group(0) @binding(0) var<storage, read> grads4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> v: array<f32>;
@group(0) @binding(8) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

fn alpha() -> f32 {
    return s.lr * sqrt(s.bias_correction2) / s.bias_correction1;
}

fn update_one(i: u32, a: f32) {
    let g = grads[p.off_g + i];
    let mi = m[i] + (g - m[i]) * (1.0 - p.beta1);
    let vi = v[i] + (g * g - v[i]) * (1.0 - p.beta2);
    m[i] = mi;
    v[i] = vi;
    params[p.off_w + i] -= a * mi / (sqrt(vi) + p.eps);
}

// One invocation per 4 elements (one vec4); workgroup 64; the grid may be
// 2-D (groups_2d). The invocation of the last, partial quad does its 1-3
// elements one by one.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let q = id.x + id.y * nw.x * 64u;
    let full = p.n / 4u;
    let a = alpha();
    if (q < full) {
        // Each operand loaded once: m, v and params are read_write, so the
        // compiler may not merge repeated loads (each load is a per-lane
        // loop on lavapipe).
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
    } else if (q == full) {
        for (var i = 4u * full; i < p.n; i++) {
            update_one(i, a);
        }
    }
}

// Fallback for offsets that are not multiples of 4: 4 elements per
// invocation at stride 64; workgroup 64; the grid may be 2-D.
@compute @workgroup_size(64)
fn scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
          @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (wid.x + wid.y * nw.x) * 256u + t;
    let a = alpha();
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        update_one(i, a);
    }
}
