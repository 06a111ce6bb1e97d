mod common;

use common::*;
use dae::gpu::{Program, StepInfo};
use dae::kernels::gather;
use dae::reference;
use rand::{seq::SliceRandom, Rng};

#[test]
fn gather_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(60);
    // (samples, features, batch): MNIST's 784 features, odd widths whose rows
    // start mid-word in the packed bytes, and batch sizes 1, 7, 10, 196, 784
    // plus a larger ragged one.
    let cases = [
        (50, 784, 1),
        (301, 7, 7),
        (33, 1, 10),
        (999, 196, 196),
        (900, 13, 784),
        (2000, 784, 1001),
    ];
    for (samples, features, batch) in cases {
        let images: Vec<u8> = (0..samples * features).map(|_| r.random()).collect();
        let labels: Vec<u8> = (0..samples).map(|_| r.random()).collect();
        let mut indices: Vec<u32> = (0..samples as u32).collect();
        indices.shuffle(&mut r);
        let it = gpu.upload_u8("images", &images).unwrap();
        let lt = gpu.upload_u8("labels", &labels).unwrap();
        let idx = gpu.upload_u32("indices", &indices).unwrap();
        let xt = gpu
            .upload_f32("x", &vec![f32::NAN; batch * features])
            .unwrap();
        let lo = gpu
            .upload_u32("labels_out", &vec![u32::MAX; batch])
            .unwrap();
        let d = gather::gather(gpu, &xt, &lo, &it, &lt, &idx, samples, batch, features).unwrap();
        let mut prog = Program::default();
        prog.push(d);
        // The first batch, one in the middle, and the last, partial one whose
        // padding rows repeat the final sample.
        let last = (samples - 1) / batch * batch;
        for batch_start in [0, samples / 3, last] {
            let step = StepInfo {
                batch_start: batch_start as u32,
                ..StepInfo::default()
            };
            prog.run(gpu, &step).unwrap();
            let (mut x, mut lab) = (vec![0.0; batch * features], vec![0; batch]);
            reference::gather::gather(
                &mut x, &mut lab, &images, &labels, &indices, batch, features, &step,
            );
            let what = format!("({samples}, {features}) batch {batch} from {batch_start}");
            // byte · (1/255 in f32) is one correctly rounded product: exact.
            let got = gpu.read_f32(&xt).unwrap();
            assert!(
                got.iter().zip(&x).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: x differs"
            );
            assert_eq!(gpu.read_u32(&lo).unwrap(), lab, "{what}: labels differ");
        }
    }
}

#[test]
fn gather_pads_with_the_last_sample() {
    let Some(gpu) = gpu() else { return };
    let (samples, features, batch) = (5usize, 3usize, 4usize);
    let images: Vec<u8> = (0..(samples * features) as u8).map(|b| b * 10).collect();
    let labels: Vec<u8> = vec![9, 8, 7, 6, 5];
    let indices: Vec<u32> = vec![4, 2, 0, 3, 1];
    let it = gpu.upload_u8("images", &images).unwrap();
    let lt = gpu.upload_u8("labels", &labels).unwrap();
    let idx = gpu.upload_u32("indices", &indices).unwrap();
    let xt = gpu.zeros("x", batch * features).unwrap();
    let lo = gpu.zeros("labels_out", batch).unwrap();
    let mut prog = Program::default();
    prog.push(gather::gather(gpu, &xt, &lo, &it, &lt, &idx, samples, batch, features).unwrap());
    prog.run(
        gpu,
        &StepInfo {
            batch_start: 4,
            valid_rows: 1,
            ..StepInfo::default()
        },
    )
    .unwrap();
    // Row 0 is indices[4] = sample 1; rows 1..4 are padding and repeat it.
    assert_eq!(gpu.read_u32(&lo).unwrap(), vec![8; 4]);
    let x = gpu.read_f32(&xt).unwrap();
    let sample1: Vec<f32> = [30u8, 40, 50]
        .iter()
        .map(|&b| b as f32 * gather::PIXEL_SCALE)
        .collect();
    for row in x.chunks(features) {
        assert_eq!(row, &sample1[..]);
    }
}

#[test]
fn gather_float_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let mut r = rng(61);
    // f32 datasets (the user's own float data): widths that are and are not
    // multiples of 4, a 16x16x3 image, batches of 1 and ragged sizes.
    for (samples, features, batch) in [(40, 768, 1), (301, 7, 7), (500, 400, 129)] {
        let images: Vec<f32> = (0..samples * features).map(|_| r.random()).collect();
        let labels: Vec<u8> = (0..samples).map(|_| r.random()).collect();
        let mut indices: Vec<u32> = (0..samples as u32).collect();
        indices.shuffle(&mut r);
        let it = gpu.upload_f32("images", &images).unwrap();
        let lt = gpu.upload_u8("labels", &labels).unwrap();
        let idx = gpu.upload_u32("indices", &indices).unwrap();
        let xt = gpu
            .upload_f32("x", &vec![f32::NAN; batch * features])
            .unwrap();
        let lo = gpu
            .upload_u32("labels_out", &vec![u32::MAX; batch])
            .unwrap();
        let d =
            gather::gather_float(gpu, &xt, &lo, &it, &lt, &idx, samples, batch, features).unwrap();
        let mut prog = Program::default();
        prog.push(d);
        let last = (samples - 1) / batch * batch;
        for batch_start in [0, samples / 3, last] {
            let step = StepInfo {
                batch_start: batch_start as u32,
                ..StepInfo::default()
            };
            prog.run(gpu, &step).unwrap();
            let (mut x, mut lab) = (vec![0.0; batch * features], vec![0; batch]);
            reference::gather::gather_float(
                &mut x, &mut lab, &images, &labels, &indices, batch, features, &step,
            );
            let what = format!("({samples}, {features}) batch {batch} from {batch_start}");
            // A copy: bit-exact.
            let got = gpu.read_f32(&xt).unwrap();
            assert!(
                got.iter().zip(&x).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: x differs"
            );
            assert_eq!(gpu.read_u32(&lo).unwrap(), lab, "{what}: labels differ");
        }
    }
}
