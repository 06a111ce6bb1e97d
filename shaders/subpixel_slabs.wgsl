// Sums of weight slabs for the sub-pixel form of an upsampled convolution:
// out[out_off + o * len + i] = Σ_{j : bit j of mask[o]} inp[in_off + j * len + i]
// for every output slab o < slabs and i < len, the bits taken in order.
//   Forward: inp = W (k·k taps of cin × cout), out = each phase's effective
//   kernel (the taps landing on the same source pixel summed). Backward: inp =
//   the phases' effective-kernel gradients, out = dW (each tap the sum of the
//   slabs it went into). len, in_off and out_off are multiples of 4 (vec4s).
// Dispatch: one invocation per vec4 of out, workgroup 64, grid
// ceil(slabs * len / 4 / 64) possibly split over x and y. out is overwritten.

struct Params {
    len: u32,
    slabs: u32,
    in_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let t = id.x + id.y * nw.x * 64u;
    let lv = p.len / 4u;
    if (t >= p.slabs * lv) { return; }
    let o = t / lv;
    let i = t % lv;
    var bits = mask[o];
    var s = vec4(0.0);
    var j = 0u;
    loop {
        if (bits == 0u) { break; }
        if ((bits & 1u) != 0u) { s += inp[p.in_off / 4u + j * lv + i]; }
        bits = bits >> 1u;
        j += 1u;
    }
    out[p.out_off / 4u + t] = s;
}
