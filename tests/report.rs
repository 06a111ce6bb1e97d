//! What a run writes: atomic files, CSV, PNG grids and plots, and the
//! messages of failed reads and writes (checkpoints: checkpoint.rs).
//! Set DAE_KEEP_TEST_OUTPUT=1 to keep the files (printed paths) and look at
//! the figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dae::report::{
    atomic_write, grid_size, image_grid, line_plot, load_checkpoint, save_checkpoint, scatter_plot,
    Csv, GridText, ReportError, Series, GRID_PAD, PLOT_SIZE,
};

/// A fresh folder under the system temp dir, unique per test; removed by
/// `done` unless DAE_KEEP_TEST_OUTPUT is set.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dae-report-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn done(dir: &Path) {
    if std::env::var_os("DAE_KEEP_TEST_OUTPUT").is_some() {
        eprintln!("kept {}", dir.display());
    } else {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Decodes a PNG: (width, height, channels, pixels).
fn decode_png(path: &Path) -> (usize, usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    (info.width as usize, info.height as usize, channels, buf)
}

/// A synthetic 28x28 "digit": a ring whose radius depends on `k`.
fn ring(k: usize) -> Vec<f32> {
    let r = 5.0 + k as f32;
    (0..28 * 28)
        .map(|i| {
            let (y, x) = ((i / 28) as f32 - 13.5, (i % 28) as f32 - 13.5);
            let d = (x * x + y * y).sqrt();
            (1.0 - (d - r).abs() / 2.0).clamp(0.0, 1.0)
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn atomic_write_replaces_content_and_leaves_no_temp_file() {
    let dir = temp_dir("atomic");
    let path = dir.join("nested").join("deeper").join("out.txt");
    atomic_write(&path, b"first version, longer than the second").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"first version, longer than the second"
    );
    atomic_write(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert_eq!(
        files_in(path.parent().unwrap()),
        vec!["out.txt".to_string()]
    );
    // A path that names a folder fails and leaves nothing behind.
    let err = atomic_write(&dir.join("nested"), b"x");
    assert!(err.is_err());
    assert_eq!(files_in(&dir.join("nested")), vec!["deeper".to_string()]);
    done(&dir);
}

#[test]
fn csv_round_trips_and_rewrites_the_whole_file() {
    let dir = temp_dir("csv");
    let path = dir.join("metrics.csv");
    let mut csv = Csv::new(&["epoch", "train_loss", "note"]);
    csv.push_row(&["1", "0.0123", "plain"]);
    csv.save(&path).unwrap();
    csv.push_row(&[
        "2".to_string(),
        format!("{:.4}", 0.0098),
        "has, comma and \"quotes\"".into(),
    ]);
    csv.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "epoch,train_loss,note\n1,0.0123,plain\n2,0.0098,\"has, comma and \"\"quotes\"\"\"\n"
    );
    let back = Csv::load(&path).unwrap();
    assert_eq!(back, csv);
    assert_eq!(files_in(&dir), vec!["metrics.csv".to_string()]);
    done(&dir);
}

#[test]
fn image_grid_without_text_has_exact_size_and_pixels() {
    let dir = temp_dir("grid-plain");
    let path = dir.join("grid.png");
    let imgs: Vec<Vec<f32>> = (0..7).map(ring).collect();
    let refs: Vec<&[f32]> = imgs.iter().map(|v| v.as_slice()).collect();
    let (cols, scale) = (3, 2);
    image_grid(&path, &refs, 28, 28, cols, scale, &GridText::default()).unwrap();
    let (w, h, ch, px) = decode_png(&path);
    assert_eq!(ch, 1, "greyscale");
    // 3 columns, ceil(7/3) = 3 rows of 56-px images with 2-px padding.
    assert_eq!(w, 3 * 56 + 4 * GRID_PAD);
    assert_eq!(h, 3 * 56 + 4 * GRID_PAD);
    assert_eq!(
        (w, h),
        grid_size(7, 28, 28, cols, scale, &GridText::default()).unwrap()
    );
    // Each source pixel becomes a 2x2 block of round(v * 255): check image
    // 0's ring pixel (row 13, col 18), its black centre, image 4 (row 1,
    // col 1) and the white padding.
    let at = |x: usize, y: usize| px[y * w + x];
    let expect = |img: usize, r: usize, c: usize| (imgs[img][r * 28 + c] * 255.0).round() as u8;
    assert!(expect(0, 13, 18) > 150);
    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        assert_eq!(
            at(GRID_PAD + 2 * 18 + dx, GRID_PAD + 2 * 13 + dy),
            expect(0, 13, 18)
        );
    }
    assert_eq!(at(GRID_PAD + 2 * 13, GRID_PAD + 2 * 13), 0);
    let (x4, y4) = (2 * GRID_PAD + 56, 2 * GRID_PAD + 56);
    assert_eq!(at(x4 + 2 * 18, y4 + 2 * 10), expect(4, 10, 18));
    assert_eq!(at(0, 0), 255);
    assert_eq!(at(GRID_PAD + 56, GRID_PAD + 20), 255);
    let dark = px.iter().filter(|&&p| p < 50).count();
    let light = px.iter().filter(|&&p| p > 200).count();
    assert!(
        dark > w * h / 4 && light > w * h / 20,
        "dark {dark} light {light}"
    );
    done(&dir);
}

#[test]
fn image_grid_draws_title_labels_and_captions() {
    let dir = temp_dir("grid-text");
    let path = dir.join("denoise.png");
    let imgs: Vec<Vec<f32>> = (0..15).map(|k| ring(k % 5)).collect();
    let refs: Vec<&[f32]> = imgs.iter().map(|v| v.as_slice()).collect();
    let text = GridText {
        title: Some("Uniform noise P = 0.3".into()),
        row_labels: vec!["clean".into(), "noisy".into(), "denoised".into()],
        captions: (0..15)
            .map(|i| format!("MSE {:.3}", i as f32 * 0.004))
            .collect(),
        ..GridText::default()
    };
    image_grid(&path, &refs, 28, 28, 5, 2, &text).unwrap();
    let (w, h, _, px) = decode_png(&path);
    let (plain_w, plain_h) = grid_size(15, 28, 28, 5, 2, &GridText::default()).unwrap();
    assert!(w > plain_w && h > plain_h, "text adds room: {w}x{h}");
    assert_eq!((w, h), grid_size(15, 28, 28, 5, 2, &text).unwrap());
    // Text is dark ink on the white margin: the row-label column (left of
    // the first image) must hold dark anti-aliased pixels.
    let label_w = w - plain_w;
    let ink = (0..h)
        .flat_map(|y| (0..label_w).map(move |x| (x, y)))
        .filter(|&(x, y)| px[y * w + x] < 128)
        .count();
    assert!(
        ink > 50,
        "no text drawn in the label column ({ink} dark pixels)"
    );
    let grey = px.iter().filter(|&&p| p > 20 && p < 235).count();
    assert!(grey > 100, "no anti-aliased text ({grey} grey pixels)");
    done(&dir);
}

#[test]
fn image_grid_rejects_wrong_image_length() {
    let dir = temp_dir("grid-bad");
    let path = dir.join("bad.png");
    let a = vec![0.5f32; 784];
    let b = vec![0.5f32; 780];
    let err = image_grid(&path, &[&a, &b], 28, 28, 2, 1, &GridText::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReportError::Input { .. }), "{msg}");
    assert!(msg.contains("image 1") && msg.contains("bad.png"), "{msg}");
    assert!(!path.exists());
    done(&dir);
}

fn assert_chart(path: &Path) {
    let (w, h, ch, px) = decode_png(path);
    assert_eq!((w, h), PLOT_SIZE);
    assert_eq!(ch, 3);
    let non_white = px.chunks(3).filter(|p| p.iter().any(|&c| c < 200)).count();
    // Colour: some pixel with clearly different channels (a series line).
    let coloured = px
        .chunks(3)
        .filter(|p| {
            let (mx, mn) = (*p.iter().max().unwrap(), *p.iter().min().unwrap());
            mx - mn > 80
        })
        .count();
    assert!(non_white > 2000, "chart is nearly blank: {non_white}");
    assert!(coloured > 300, "no coloured series: {coloured}");
}

#[test]
fn line_plot_with_error_bars_is_a_valid_png() {
    let dir = temp_dir("line");
    let path = dir.join("l2_sweep.png");
    let factors: Vec<f64> = (0..5)
        .map(|i| 1e-6 + i as f64 * (1e-3 - 1e-6) / 4.0)
        .collect();
    let mean = [0.9826, 0.9811, 0.9790, 0.9772, 0.9748];
    let std = [0.0008, 0.0011, 0.0006, 0.0012, 0.0009];
    let series = vec![
        Series::new(
            "test accuracy (mean ± std, 3 runs)",
            factors.iter().copied().zip(mean).collect(),
        )
        .with_errors(std.to_vec()),
        Series::new(
            "train accuracy",
            factors.iter().map(|&f| (f, 0.999 - f * 10.0)).collect(),
        ),
    ];
    line_plot(
        &path,
        "L2 sweep: 784-500-300-10",
        "L2 factor",
        "accuracy",
        &series,
    )
    .unwrap();
    assert_chart(&path);

    let curves = dir.join("curves.png");
    let epochs = |f: fn(f64) -> f64| (1..=100).map(|e| (e as f64, f(e as f64))).collect();
    line_plot(
        &curves,
        "Fashion CAE loss",
        "epoch",
        "binary cross-entropy",
        &[
            Series::new("train", epochs(|e| 0.25 + 0.1 / e)),
            Series::new("test", epochs(|e| 0.26 + 0.1 / e.sqrt())),
        ],
    )
    .unwrap();
    assert_chart(&curves);
    // Degenerate data still makes a chart: one point, a constant series,
    // and a NaN that is skipped.
    let flat = dir.join("flat.png");
    line_plot(
        &flat,
        "degenerate",
        "x",
        "y",
        &[
            Series::new("one point", vec![(3.0, 0.5)]),
            Series::new(
                "constant",
                vec![(1.0, 0.5), (2.0, 0.5), (2.5, f64::NAN), (4.0, 0.5)],
            ),
        ],
    )
    .unwrap();
    assert_chart(&flat);
    // No finite point at all is an input error.
    assert!(matches!(
        line_plot(
            &dir.join("empty.png"),
            "t",
            "x",
            "y",
            &[Series::new("e", vec![])]
        ),
        Err(ReportError::Input { .. })
    ));
    // Mismatched error count is an input error.
    let bad = Series::new("x", vec![(0.0, 1.0), (1.0, 2.0)]).with_errors(vec![0.1]);
    assert!(matches!(
        line_plot(&dir.join("bad.png"), "t", "x", "y", &[bad]),
        Err(ReportError::Input { .. })
    ));
    done(&dir);
}

#[test]
fn scatter_plot_is_a_valid_png() {
    let dir = temp_dir("scatter");
    let path = dir.join("codes.png");
    let names = dae::data::DatasetName::FashionMnist.class_names();
    let groups: Vec<(String, Vec<(f64, f64)>)> = (0..10)
        .map(|c| {
            let (cx, cy) = ((c as f64 * 0.7).cos() * 3.0, (c as f64 * 0.7).sin() * 3.0);
            let pts = (0..50)
                .map(|i| {
                    let t = i as f64 * 2.399;
                    (
                        cx + 0.08 * i as f64 * t.cos() * 0.2,
                        cy + 0.08 * i as f64 * t.sin() * 0.2,
                    )
                })
                .collect();
            (names[c].to_string(), pts)
        })
        .collect();
    scatter_plot(
        &path,
        "2-D codes of 500 test images",
        "code 1",
        "code 2",
        &groups,
    )
    .unwrap();
    assert_chart(&path);
    done(&dir);
}

/// How often `needle` occurs in `hay`.
fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn failed_write_and_read_print_the_os_error_once() {
    let dir = temp_dir("io-msg");
    // Writing over a folder: the rename fails with EISDIR.
    let folder = dir.join("model.safetensors");
    std::fs::create_dir(&folder).unwrap();
    let tensors = vec![("w".to_string(), vec![1], vec![1.0f32])];
    let err = save_checkpoint(&folder, &tensors, BTreeMap::new()).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err}");
    let shown = format!("{:#}", anyhow::Error::from(err));
    eprintln!("{shown}\n");
    assert!(
        shown.starts_with(&format!("cannot write {}: ", folder.display())),
        "{shown}"
    );
    assert_eq!(occurrences(&shown, "os error"), 1, "{shown}");
    assert!(shown.contains("Fix:"), "{shown}");
    // Reading a folder: a read, so it must say so.
    let err = load_checkpoint(&folder).unwrap_err();
    assert!(matches!(err, ReportError::Read { .. }), "{err}");
    let os = std::fs::read(&folder).unwrap_err().to_string();
    let shown = format!("{:#}", anyhow::Error::from(err));
    eprintln!("{shown}\n");
    assert!(
        shown.starts_with(&format!("cannot read {}: {os}. Fix:", folder.display())),
        "{shown}"
    );
    assert_eq!(occurrences(&shown, &os), 1, "{shown}");
    done(&dir);
}

#[test]
fn permission_errors_get_a_permission_fix() {
    // Built by hand: tests may run as root, where chmod denies nothing.
    let path = PathBuf::from("/runs/x/model.safetensors");
    let denied = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let os = denied().to_string();
    for (err, verb) in [
        (
            ReportError::Io {
                path: path.clone(),
                source: denied(),
            },
            "cannot write",
        ),
        (
            ReportError::Read {
                path: path.clone(),
                source: denied(),
            },
            "cannot read",
        ),
    ] {
        let shown = format!("{:#}", anyhow::Error::from(err));
        eprintln!("{shown}\n");
        assert!(
            shown.starts_with(&format!("{verb} {}: {os}. Fix:", path.display())),
            "{shown}"
        );
        assert_eq!(occurrences(&shown, &os), 1, "{shown}");
        assert!(shown.contains("permissions"), "{shown}");
        assert!(
            !shown.contains("git") && !shown.contains("train again"),
            "{shown}"
        );
    }
    // A full disk is not a permission problem.
    let full = ReportError::Io {
        path,
        source: std::io::Error::from(std::io::ErrorKind::StorageFull),
    };
    assert!(full.to_string().contains("disk space"), "{full}");
}
