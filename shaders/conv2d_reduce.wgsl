// Sums the split-K partial weight gradients of conv2d_weight_*.wgsl and
// conv2d_tiled.wgsl (PASS 2): dw[out_off + i] = Σ_s part[s * len + i].
//   part: (splits, len), dw: len elements from out_off (a parameter-buffer view).
// Dispatch: one invocation per element, workgroup 64, grid ceil(len / 64)
// possibly split over x and y. dw is overwritten.

struct Params {
    len: u32,
    splits: u32,
    out_off: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let i = id.x + id.y * nw.x * 64u;
    if (i >= p.len) { return; }
    var s = 0.0;
    for (var j = 0u; j < p.splits; j++) {
        s += part[j * p.len + i];
    }
    dw[p.out_off + i] = s;
}
