// Elementwise activation backward, from the forward OUTPUT y (so the layer
// need not keep its pre-activation):
//   dx[i] = dy[i] · f'(y[i]) with f' = 1 (identity), [y > 0] (relu),
//   y > 0 ? 1 : alpha (leaky relu, alpha >= 0), y·(1 − y) (sigmoid).
// dy, y, dx: (n). Dispatch: workgroup 64, each invocation handles 4 elements
// 64 apart (neighbouring lanes touch neighbouring words); grid from
// groups_2d(n / 256). dx is overwritten; it may not alias dy or y.

struct Params {
    n: u32,
    kind: u32,   // 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    alpha: f32,  // leaky relu slope
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> p: Params;

fn slope(v: f32) -> f32 {
    switch p.kind {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(p.alpha, 1.0, v > 0.0); }
        case 3u: { return v * (1.0 - v); }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var j = 0u; j < 4u; j++) {
        let i = base + j * 64u;
        if (i >= p.n) { return; }
        dx[i] = dy[i] * slope(y[i]);
    }
}
