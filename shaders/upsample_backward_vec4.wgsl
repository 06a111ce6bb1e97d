// Nearest-neighbour upsampling backward by an integer factor f, four channels
// per invocation (channels % 4 == 0):
//   dx[b, iy, ix, c] = Σ_{0 <= u, v < f} dy[b, iy*f + u, ix*f + v, c]
// dy: (batch, h*f, w*f, c); dx: (batch, h, w, c), overwritten; both bound as
// vec4 arrays, so p.c counts vec4s (c / 4).
// One invocation per INPUT vec4, channels fastest: the f×f blocks do not
// overlap, so each dx is one private sum (row-major block order) and no
// atomics are needed; vec4 loads cut the load count by four. Workgroup 64;
// the grid may be 2-D (groups_2d). upsample_backward.wgsl is the scalar
// variant.

struct Params {
    batch: u32,
    h: u32,
    w: u32,
    c: u32,        // channels / 4
    factor: u32,
    n: u32,        // invocations: batch * h * w * c / 4
    slope_kind: u32,   // SLOPE = 1: 0 identity, 1 relu, 2 leaky relu, 3 sigmoid
    slope_alpha: f32,
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> p: Params;

@group(0) @binding(3) var<storage, read> y: array<vec4<f32>>;   // SLOPE = 1 only

// SLOPE = 1: the layer before this one ends in an activation whose output is
// this pass's x; dx is multiplied by its slope at x (y below), so dx is that
// layer's pre-activation gradient, bit for bit what activation_backward.wgsl
// would compute from this pass's plain dx.
override SLOPE: u32 = 0u;

fn slope(v: vec4<f32>) -> vec4<f32> {
    switch p.slope_kind {
        case 1u: { return select(vec4(0.0), vec4(1.0), v > vec4(0.0)); }
        case 2u: { return select(vec4(p.slope_alpha), vec4(1.0), v > vec4(0.0)); }
        case 3u: { return v * (1.0 - v); }
        default: { return vec4(1.0); }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.n) { return; }
    let ch = i % p.c;
    var r = i / p.c;
    let ix = r % p.w;
    r = r / p.w;
    let iy = r % p.h;
    let b = r / p.h;
    let f = p.factor;
    let ow = p.w * f;
    var acc = vec4<f32>(0.0);
    for (var u = 0u; u < f; u++) {
        let row = (b * p.h + iy) * f + u;
        for (var v = 0u; v < f; v++) {
            acc += dy[(row * ow + ix * f + v) * p.c + ch];
        }
    }
    if (SLOPE == 1u) { dx[i] = acc * slope(y[i]); } else { dx[i] = acc; }
}
