//! Checkpoints: save and load round-trip, and every kind of bad file is an
//! error naming the file, never a panic (random damage: fuzz.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dae::report::{load_checkpoint, load_checkpoint_bytes, save_checkpoint, ReportError};

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dae-ckpt-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn done(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
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
fn checkpoint_round_trips() {
    let dir = temp_dir("ckpt");
    let path = dir.join("run").join("model.safetensors");
    let tensors = vec![
        (
            "enc.0.weight".to_string(),
            vec![3, 2],
            vec![0.5, -1.0, 2.25, 1e-8, -0.0, 7.0],
        ),
        ("enc.0.bias".to_string(), vec![2], vec![0.1, f32::MAX]),
        ("bn.running_var".to_string(), vec![1, 1, 2], vec![1.0, 2.0]),
    ];
    let mut meta = BTreeMap::new();
    meta.insert("preset".to_string(), "mlp-dae".to_string());
    meta.insert("epoch".to_string(), "5".to_string());
    save_checkpoint(&path, &tensors, meta.clone()).unwrap();
    assert_eq!(
        files_in(path.parent().unwrap()),
        vec!["model.safetensors".to_string()]
    );
    let ck = load_checkpoint(&path).unwrap();
    assert_eq!(ck.metadata, meta);
    let mut sorted = tensors.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ck.tensors, sorted);
    assert_eq!(ck.get("enc.0.bias").unwrap().2, vec![0.1, f32::MAX]);
    // Shape and value count must agree.
    let bad = vec![("w".to_string(), vec![2, 2], vec![1.0; 3])];
    assert!(matches!(
        save_checkpoint(&dir.join("bad.safetensors"), &bad, BTreeMap::new()),
        Err(ReportError::Input { .. })
    ));
    done(&dir);
}

#[test]
fn corrupt_or_missing_checkpoint_is_named() {
    let dir = temp_dir("ckpt-bad");
    let path = dir.join("model.safetensors");
    let tensors = vec![("w".to_string(), vec![4, 4], vec![1.0f32; 16])];
    save_checkpoint(&path, &tensors, BTreeMap::new()).unwrap();
    // Truncated: header intact, data cut.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = load_checkpoint(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ReportError::CheckpointCorrupt { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("Fix:"),
        "{msg}"
    );
    // Garbage.
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    let err = load_checkpoint(&path).unwrap_err();
    assert!(
        matches!(err, ReportError::CheckpointCorrupt { .. }),
        "{err}"
    );
    // Missing.
    let missing = dir.join("nope.safetensors");
    let err = load_checkpoint(&missing).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ReportError::CheckpointMissing { .. }),
        "{msg}"
    );
    assert!(msg.contains("nope.safetensors"), "{msg}");
    done(&dir);
}

/// A safetensors file from a header written by hand and `data` bytes.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Loads `bytes` and returns the message of the error it must give.
fn corrupt(bytes: &[u8]) -> String {
    let path = Path::new("bad.safetensors");
    let err = load_checkpoint_bytes(bytes, path).expect_err("a bad checkpoint loaded");
    let msg = err.to_string();
    assert!(
        matches!(err, ReportError::CheckpointCorrupt { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("bad.safetensors") && msg.contains("Fix:"),
        "{msg}"
    );
    msg
}

#[test]
fn hand_made_bad_checkpoints_are_errors_not_panics() {
    // The valid form these all damage.
    let ok = raw_file(
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    let ck = load_checkpoint_bytes(&ok, Path::new("ok.safetensors")).unwrap();
    assert_eq!(ck.tensors, vec![("w".to_string(), vec![2], vec![0.0, 0.0])]);

    // Header lengths past the file, up to u64::MAX.
    for n in [ok.len() as u64 - 7, 1 << 40, u64::MAX] {
        let mut b = ok.clone();
        b[..8].copy_from_slice(&n.to_le_bytes());
        let msg = corrupt(&b);
        assert!(msg.contains("header claims"), "{msg}");
    }
    // Fewer than 8 bytes.
    assert!(corrupt(&[1, 2, 3]).contains("too few"));
    // A shape whose product overflows usize.
    let big = u64::MAX / 2;
    corrupt(&raw_file(
        &format!(r#"{{"w":{{"dtype":"F32","shape":[{big},{big}],"data_offsets":[0,8]}}}}"#),
        &[0; 8],
    ));
    // Data length not a multiple of 4 and not the shape's.
    corrupt(&raw_file(
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,7]}}"#,
        &[0; 7],
    ));
    // Offsets near usize::MAX (where safetensors' own sum would overflow).
    let end = u64::MAX - 4;
    let msg = corrupt(&raw_file(
        &format!(r#"{{"w":{{"dtype":"F32","shape":[2],"data_offsets":[0,{end}]}}}}"#),
        &[0; 8],
    ));
    assert!(msg.contains("ends at byte"), "{msg}");
    // The same name twice (JSON would keep only the second).
    let msg = corrupt(&raw_file(
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        &[0; 8],
    ));
    assert!(msg.contains("appears twice"), "{msg}");
    // Another dtype.
    let msg = corrupt(&raw_file(
        r#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#,
        &[0; 8],
    ));
    assert!(msg.contains("only F32"), "{msg}");
    // Not JSON, not UTF-8, metadata not strings.
    corrupt(&raw_file("{nope", &[]));
    corrupt(&[2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]);
    corrupt(&raw_file(r#"{"__metadata__":{"epoch":5}}"#, &[]));
}
