// Bias gradient, split over rows: out[out_off + c * cols + j] =
// Σ dy[dy_off + i * cols + j] over the rows i of chunk c (rows
// c * chunk .. min(rows, (c + 1) * chunk)), in row order, in f32.
//   dy: (rows, cols) from dy_off. With one chunk, out is db itself (cols
//   from out_off); with more, out is a (chunks, cols) partial-sum buffer
//   that conv2d_reduce.wgsl sums in chunk order into db. bias_grad_vec4.wgsl
//   is the same with a vec4 of columns per invocation.
// Dispatch: one invocation per (chunk, column), column fastest, so
// neighbouring invocations read neighbouring words of a row; workgroup 64,
// grid ceil(chunks * cols / 64) possibly split over x and y. Splitting the
// rows gives a short, wide problem (a conv layer's bias has 1 to 112 columns
// over up to 10^5 rows) the whole machine instead of `cols` threads.

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

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let t = id.x + id.y * nw.x * 64u;
    let cols = p.cols;
    if (t >= cols * p.chunks) { return; }
    let j = t % cols;
    let c = t / cols;
    let r0 = c * p.chunk;
    let r1 = min(p.rows, r0 + p.chunk);
    var s = 0.0;
    var i = p.dy_off + r0 * cols + j;
    for (var r = r0; r < r1; r++) {
        s += dy[i];
        i += cols;
    }
    out[p.out_off + c * cols + j] = s;
}
