// bias_grad.wgsl with a vec4 of columns per invocation: out[out_off + c * cols + j]
// = Σ dy[dy_off + i * cols + j] over the rows i of chunk c, in row order, in f32,
// for j = 4g .. 4g + 3. Needs cols, dy_off and out_off to be multiples of 4.
// Dispatch: one invocation per (chunk, vec4 of columns), columns fastest;
// workgroup 64, grid ceil(chunks * cols / 4 / 64) possibly split over x and y.

struct Params {
    rows: u32,
    cols: u32,
    dy_off: u32,
    out_off: u32,
    chunk: u32,
    chunks: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let t = id.x + id.y * nw.x * 64u;
    let g = p.cols / 4u;
    if (t >= g * p.chunks) { return; }
    let j = t % g;
    let c = t / g;
    let r0 = c * p.chunk;
    let r1 = min(p.rows, r0 + p.chunk);
    var s = vec4(0.0);
    var i = p.dy_off / 4u + r0 * g + j;
    for (var r = r0; r < r1; r++) {
        s += dy[i];
        i += g;
    }
    out[p.out_off / 4u + c * g + j] = s;
}
