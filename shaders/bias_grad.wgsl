// Bias gradient: db[j] = sum_i dy[i, j] over the rows of dy.
//   dy: (rows, cols) starting dy_off elements into its buffer; db: (cols)
//   starting db_off elements into its buffer.
// Dispatch: one invocation per column, workgroup 64, grid ceil(cols / 64);
// neighbouring invocations read neighbouring columns of each row. The sum is
// accumulated in f32 in row order. db is overwritten.

struct Params {
    rows: u32,
    cols: u32,
    dy_off: u32,
    db_off: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<storage, read> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    if (j >= p.cols) { return; }
    var s = 0.0;
    var i = p.dy_off + j;
    for (var r = 0u; r < p.rows; r++) {
        s += dy[i];
        i += p.cols;
    }
    db[p.db_off + j] = s;
}
