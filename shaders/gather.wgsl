// Builds one batch from the GPU-resident dataset, u8 (main_words, main) or
// f32 (main_float):
//   j = batch_start + r (from the step uniform), clamped to n_indices − 1 so
//   padding rows of the last batch repeat the final sample and stay finite;
//   x[r, f] = images[indices[j]·features + f] / 255, labels_out[r] = labels[indices[j]].
// images: the dataset's bytes packed 4 per u32, little-endian (byte i is
// (w[i/4] >> 8·(i%4)) & 0xff); labels: one byte per sample, packed likewise;
// indices: (n_indices) u32, the epoch's shuffled order; x: (batch, features)
// f32; labels_out: (batch) u32. Both outputs overwritten.
// Two entry points, same bindings:
//   main_words (features % 4 == 0, e.g. MNIST's 784): each row starts on a
//     word boundary, so one invocation unpacks one u32 into 4 features: a
//     quarter of the loads. Workgroup 64, one word per invocation; grid from
//     groups_2d(batch·features/4 / 64).
//   main (any width): workgroup 64, each invocation handles 4 elements of x
//     64 apart; grid from groups_2d(batch·features / 256).
//   main_float (f32 images: each word is an f32's bits, copied unscaled):
//     the grid of main.
// The invocation that writes feature 0 of a row also writes its label.

struct Params {
    batch: u32,
    features: u32,
    n_indices: u32,
    scale: f32,   // 1/255 in f32, from the host so the reference multiplies by the same number
}

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

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels_out: array<u32>;
@group(0) @binding(5) var<storage, read> p: Params;
@group(1) @binding(0) var<storage, read> s: Step;

fn byte_at(i: u32) -> u32 {
    return (images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

// The batch row r is drawn from: padding rows repeat the final index.
fn sample_of(r: u32) -> u32 {
    return indices[min(s.batch_start + r, p.n_indices - 1u)];
}

fn write_label(r: u32, sample: u32) {
    labels_out[r] = (labels[sample >> 2u] >> ((sample & 3u) * 8u)) & 0xffu;
}

@compute @workgroup_size(64)
fn main_words(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
    let w = id.x + id.y * nw.x * 64u;
    let words_per_row = p.features / 4u;
    if (w >= p.batch * words_per_row) { return; }
    let r = w / words_per_row;
    let q = w - r * words_per_row;
    let sample = sample_of(r);
    let word = images[sample * words_per_row + q];
    let o = w * 4u;
    x[o] = f32(word & 0xffu) * p.scale;
    x[o + 1u] = f32((word >> 8u) & 0xffu) * p.scale;
    x[o + 2u] = f32((word >> 16u) & 0xffu) * p.scale;
    x[o + 3u] = f32(word >> 24u) * p.scale;
    if (q == 0u) { write_label(r, sample); }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let n = p.batch * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        let r = i / p.features;
        let f = i - r * p.features;
        let sample = sample_of(r);
        x[i] = f32(byte_at(sample * p.features + f)) * p.scale;
        if (f == 0u) { write_label(r, sample); }
    }
}

@compute @workgroup_size(64)
fn main_float(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) nw: vec3<u32>) {
    let n = p.batch * p.features;
    let base = (wg.x + wg.y * nw.x) * 256u + lid;
    for (var k = 0u; k < 4u; k++) {
        let i = base + k * 64u;
        if (i >= n) { return; }
        let r = i / p.features;
        let f = i - r * p.features;
        let sample = sample_of(r);
        x[i] = bitcast<f32>(images[sample * p.features + f]);
        if (f == 0u) { write_label(r, sample); }
    }
}
