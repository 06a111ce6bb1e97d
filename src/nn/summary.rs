//! Keras-style model summaries.

use super::params::ParamLayout;
use super::{ModelSpec, Resolved};

/// Adds thousands separators: 1438676 -> "1,438,676".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table `model.summary()` prints, with exact parameter counts.
pub fn summary(spec: &ModelSpec, resolved: &Resolved, layout: &ParamLayout) -> String {
    let mut rows = vec![(
        "input (InputLayer)".to_string(),
        spec.input.keras(),
        "0".to_string(),
    )];
    for (i, l) in spec.layers.iter().enumerate() {
        let mut kind = format!("{} ({})", resolved.names[i], l.layer.kind());
        if !l.trainable {
            kind.push_str(" [frozen]");
        }
        rows.push((
            kind,
            resolved.outputs[i].keras(),
            thousands(layout.layer_count(i)),
        ));
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(12) + 2;
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(12) + 2;
    let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0).max(7);
    let width = w0 + w1 + w2;
    let mut out = format!("Model: \"{}\"\n", spec.name);
    out.push_str(&"━".repeat(width));
    out.push('\n');
    out.push_str(&format!(
        "{:<w0$}{:<w1$}{:>w2$}\n",
        "Layer (type)", "Output Shape", "Param #"
    ));
    out.push_str(&"━".repeat(width));
    out.push('\n');
    for (a, b, c) in &rows {
        out.push_str(&format!("{a:<w0$}{b:<w1$}{c:>w2$}\n"));
    }
    out.push_str(&"━".repeat(width));
    out.push('\n');
    let (total, trainable, frozen) = layout.counts();
    out.push_str(&format!(" Total params: {}\n", thousands(total)));
    out.push_str(&format!(" Trainable params: {}\n", thousands(trainable)));
    out.push_str(&format!(" Non-trainable params: {}\n", thousands(frozen)));
    out
}
