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
// This is the scalar form, for any n and offsets; adam_vec4.wgsl is the same
// update 4 elements per load and store (what CPU drivers are bound by), for n
// and both offsets multiples of 4, as the training plan's always are. Each
// binds its buffers once: 4 + params + step = 6 storage buffers, within
// WebGPU's default max_storage_buffers_per_shader_stage of 8.

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

@group(0) @binding(0) var<storage, read> grads: array<f32>;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

fn alpha() -> f32 {
    return s.lr * sqrt(s.bias_correction2) / s.bias_correction1;
}

// 4 elements per invocation at stride 64; workgroup 64; the grid may be 2-D
// (groups_2d).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (wid.x + wid.y * nw.x) * 256u + t;
    let a = alpha();
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        let g = grads[p.off_g + i];
        let mi = m[i] + (g - m[i]) * (1.0 - p.beta1);
        let vi = v[i] + (g * g - v[i]) * (1.0 - p.beta2);
        m[i] = mi;
        v[i] = vi;
        params[p.off_w + i] -= a * mi / (sqrt(vi) + p.eps);
    }
}
