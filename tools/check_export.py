#!/usr/bin/env python3
"""Checks `dae export` against `dae eval`: for each checkpoint, scores it with
`dae eval --noise none`, exports it to PyTorch and Keras, loads each export
through its own model.py, runs the same test images through it and compares
the test loss (and accuracy for classifiers).

    python3 tools/check_export.py [--dae target/release/dae] [--data DIR]
        [--test-limit N] [--rtol 1e-4] CHECKPOINT...

CHECKPOINT is a model.safetensors that `dae train` wrote (or its folder). The
test set is the checkpoint's own dataset (its "dataset" metadata), read from
DIR/<dataset>/t10k-*.gz (DIR: --data, else $DAE_DATA, else ./data). Losses are
computed as dae computes them: the mean over samples of the mean over outputs
of MSE or BCE (probabilities clipped to [1e-7, 1 - 1e-7]) against the clean
input, or softmax cross-entropy; all on the clean input (dae eval runs with
--noise none, whatever the training noise was).

--synthetic PATH first writes PATH: a checkpoint of random weights for a
model (MNIST-shaped conv autoencoder) that takes every conversion path the
presets do not: a "same" 3x3 pool that TensorFlow pads before the image too,
BatchNorm over channels and over flattened features, a Reshape of an image,
a LeakyReLU conv, and a Dense feeding a Reshape through BatchNorm and an
activation; it is then checked with the others.

Runs the frameworks that import (torch, keras with numpy and safetensors) and
prints one row per checkpoint and framework. Exits 1 when any loss differs by
more than rtol (relative, plus the rounding of dae's printed figure) or any
accuracy differs, 2 when no framework imports or a step fails.
"""
import argparse
import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from safetensors import safe_open  # noqa: E402

BATCH = 250
EPS = 1e-7


def idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h, w)


def idx_labels(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)


def dae_eval(dae, checkpoint, limit, data):
    """(loss, accuracy or None, printed decimals of the loss) from dae eval."""
    cmd = [dae, "eval", "--checkpoint", checkpoint, "--noise", "none", "--test-limit", str(limit)]
    if data:
        cmd += ["--data", data]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"test loss ([0-9.]+), test accuracy ([0-9.]+)%", out)
    if m:
        return float(m.group(1)), float(m.group(2)) / 100, len(m.group(1).split(".")[1])
    m = re.search(r"test \S+ ([0-9.]+) \(noise", out)
    if not m:
        raise RuntimeError(f"cannot read dae eval's output: {out!r}")
    return float(m.group(1)), None, len(m.group(1).split(".")[1])


def export(dae, checkpoint, target, out):
    subprocess.run(
        [dae, "export", "--checkpoint", checkpoint, "--to", target, "--out", out],
        check=True, capture_output=True, text=True,
    )
    spec = importlib.util.spec_from_file_location(f"dae_export_{target}_{abs(hash(out))}",
                                                  os.path.join(out, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(outputs, images, labels, loss):
    """dae's test loss and accuracy of outputs (N, ...) in NHWC order."""
    p = outputs.reshape(len(outputs), -1).astype(np.float64)
    if loss == "cross-entropy":
        picked = p[np.arange(len(p)), labels]
        return float(np.mean(-np.log(np.maximum(picked, 1e-30)))), float(np.mean(p.argmax(1) == labels))
    t = images.reshape(len(images), -1).astype(np.float64)
    if loss == "mse":
        return float(np.mean((p - t) ** 2)), None
    q = np.clip(outputs.reshape(len(outputs), -1), np.float32(EPS), np.float32(1 - EPS)).astype(np.float64)
    return float(np.mean(-(t * np.log(q) + (1 - t) * np.log(1 - q)))), None


def run_torch(module, x, flat):
    import torch

    model = module.load()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            b = torch.from_numpy(x[i:i + BATCH])
            b = b.reshape(len(b), -1) if flat else b.permute(0, 3, 1, 2)
            y = model(b)
            if y.dim() == 4:
                y = y.permute(0, 2, 3, 1)
            outs.append(y.numpy())
    return np.concatenate(outs)


def run_keras(module, x, flat):
    model = module.load()
    b = x.reshape(len(x), -1) if flat else x
    return np.asarray(model.predict(b, batch_size=BATCH, verbose=0))


def frameworks():
    found = {}
    try:
        import torch  # noqa: F401
        found["pytorch"] = run_torch
    except ImportError:
        pass
    try:
        import keras  # noqa: F401
        found["keras"] = run_keras
    except ImportError:
        pass
    return found


def L(kind, **fields):
    return {"layer": {kind: fields} if fields else kind, "name": "", "trainable": True}


def synthetic(path):
    """Writes a checkpoint of random weights for a model that takes the
    conversion paths the presets do not (see the module docstring)."""
    from safetensors.numpy import save_file

    conv = lambda f, act, same=True: L("Conv2d", filters=f, kernel=3, same=same, act=act)  # noqa: E731
    bn = lambda: L("BatchNorm", momentum=0.99, eps=0.001)  # noqa: E731
    layers = [
        conv(4, "Relu"),                                        # (28, 28, 4)
        L("MaxPool", pool=3, stride=3, same=True),              # (10, 10, 4), padded 1 before
        bn(),
        L("Reshape", h=20, w=5, c=4),
        conv(6, {"LeakyRelu": 0.2}),                            # (20, 5, 6)
        {"layer": "Flatten", "name": "", "trainable": True},    # 600
        bn(),
        L("Dense", units=48, act="Relu", init="GlorotUniform"),
        L("Dropout", rate=0.3),
        L("Dense", units=48, act="Linear", init="GlorotUniform"),
        bn(),
        {"layer": {"Activation": "Sigmoid"}, "name": "", "trainable": True},
        L("Reshape", h=2, w=2, c=12),
        L("UpSample", factor=7),                                # (14, 14, 12)
        conv(6, "Relu"),
        L("UpSample", factor=2),                                # (28, 28, 6)
        conv(1, "Sigmoid"),
    ]
    # (name, tensor shapes) of the layers with parameters, in order.
    params = [("conv2d", (3, 3, 1, 4)), ("batch_normalization", 4), ("conv2d_1", (3, 3, 4, 6)),
              ("batch_normalization_1", 600), ("dense", (600, 48)), ("dense_1", (48, 48)),
              ("batch_normalization_2", 48), ("conv2d_2", (3, 3, 12, 6)), ("conv2d_3", (3, 3, 6, 1))]
    rng = np.random.default_rng(7)
    tensors = {}
    for name, shape in params:
        if isinstance(shape, int):
            tensors[f"{name}/gamma"] = rng.uniform(0.5, 1.5, shape)
            tensors[f"{name}/beta"] = rng.uniform(-0.2, 0.2, shape)
            tensors[f"{name}/moving_mean"] = rng.uniform(-0.2, 0.2, shape)
            tensors[f"{name}/moving_variance"] = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[:-1]))
            # The last layer's logits spread wide, so that a misplaced value
            # anywhere shows in the loss.
            gain = 6 if name == "conv2d_3" else 1
            tensors[f"{name}/kernel"] = rng.normal(0, gain * (2 / fan_in) ** 0.5, shape)
            tensors[f"{name}/bias"] = rng.uniform(-0.1, 0.1, shape[-1])
    tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
    spec = {"name": "synthetic", "input": {"h": 28, "w": 28, "c": 1}, "layers": layers, "loss": "Bce",
            "optimizer": {"Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}},
            "l2": 0.0, "noise": "None", "epochs": 1, "batch_size": 100, "train_limit": None,
            "encoder_layers": 0, "encoder_from": None, "target_layer": None}
    meta = {"format": "dae-checkpoint-1", "preset": "synthetic", "spec": json.dumps(spec),
            "dataset": "mnist", "noise": "none", "batch_size": "100", "seed": "1"}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata=meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*")
    ap.add_argument("--synthetic", metavar="PATH", help="write and check a synthetic checkpoint too")
    ap.add_argument("--dae", default="target/release/dae")
    ap.add_argument("--data", default=None)
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--rtol", type=float, default=1e-4)
    a = ap.parse_args()
    if a.synthetic:
        synthetic(a.synthetic)
        a.checkpoints.append(a.synthetic)
    if not a.checkpoints:
        ap.error("name a checkpoint or --synthetic PATH")
    fws = frameworks()
    if not fws:
        print("neither torch nor keras imports", file=sys.stderr)
        return 2
    data = a.data or os.environ.get("DAE_DATA") or "data"
    rows, bad = [], False
    for ck in a.checkpoints:
        if os.path.isdir(ck):
            ck = os.path.join(ck, "model.safetensors")
        with safe_open(ck, "np") as f:
            meta = f.metadata()
        spec = json.loads(meta["spec"])
        loss_kind = {"Mse": "mse", "Bce": "bce", "SoftmaxCrossEntropy": "cross-entropy"}[spec["loss"]]
        flat = spec["input"]["h"] == 1 and spec["input"]["w"] == 1
        folder = os.path.join(data, meta["dataset"])
        u8 = idx_images(os.path.join(folder, "t10k-images-idx3-ubyte.gz"))[:a.test_limit]
        labels = idx_labels(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))[:a.test_limit]
        x = (u8.astype(np.float32) / np.float32(255))[..., None]
        want_loss, want_acc, decimals = dae_eval(a.dae, ck, a.test_limit, a.data)
        for name, run in fws.items():
            with tempfile.TemporaryDirectory() as out:
                y = run(export(a.dae, ck, name, out), x, flat)
            got_loss, got_acc = score(y, x, labels, loss_kind)
            rel = abs(got_loss - want_loss) / max(abs(want_loss), 1e-30)
            ok = abs(got_loss - want_loss) <= a.rtol * abs(want_loss) + 0.5 * 10 ** -decimals
            ok = ok and (want_acc is None or abs(got_acc - want_acc) < 1e-9)
            bad |= not ok
            acc = "-" if want_acc is None else f"{100 * want_acc:.2f}% / {100 * got_acc:.2f}%"
            rows.append((meta["preset"], name, loss_kind, f"{want_loss:.6f}", f"{got_loss:.6f}",
                         f"{rel:.1e}", acc, "ok" if ok else "DIFFERS"))
    head = ("model", "target", "loss", "dae eval", "export", "rel diff", "accuracy (dae / export)", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
