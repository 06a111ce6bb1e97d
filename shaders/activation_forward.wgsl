// Elementwise activation, in place or out of place:
//   y[i] = f(x[i]) for f in {identity, relu, leaky_relu(alpha), sigmoid}.
// x, y: (n). One invocation per 4 elements; workgroup 64; the grid may be 2-D
// (groups_2d) when n is large. y is overwritten.

struct Params {
    n: u32,
    kind: u32,   // 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    alpha: f32,  // leaky relu slope
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

fn act(v: f32) -> f32 {
    switch p.kind {
        case 1u: { return max(v, 0.0); }
        case 2u: { return select(p.alpha * v, v, v > 0.0); }
        case 3u: { return 1.0 / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (id.x + id.y * nw.x * 64u) * 4u;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j;
        if (i >= p.n) { return; }
        y[i] = act(x[i]);
    }
}
