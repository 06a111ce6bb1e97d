#!/usr/bin/env python3
"""dae against Keras and/or PyTorch: warm training epochs side by side.

One command, from the repository root, after `cargo build --release`:

    python3 benches/compare.py --presets mlp-dae,conv-dae,sp-cnn --train-limit 2048

(no --presets: every preset; no --train-limit: dae's defaults, 2048 images
and 200 for fashion-cae). It needs Keras 3 (or tf.keras) on TensorFlow
(`pip install tensorflow-cpu`) or PyTorch in the Python that runs it;
nothing else outside the standard library. `--framework keras|torch|all`
picks which (default: every one that imports).

For each preset, in turn: `dae bench --compare --json --presets P` times a
warm training epoch (one warm-up, then the median of --reps epochs, each
with its test pass) through dae's own training loop; then the same model
(layers, initialisers, LeakyReLU 0.3, BatchNorm momentum 0.99 / eps 1e-3,
dropout, loss, optimizer, batch size and input noise of src/nn/presets.rs and
docs/studies.md) is built in the framework, in a process of its own, and
trained on the same training and test images (the study's IDX files under
data/), shuffled, with the test images as validation data (Keras: `fit`,
each epoch timed by a callback; PyTorch: a plain loop and a no_grad test
pass); the first epoch is discarded as warm-up, the median of --reps
reported. Samples/s is
training images over the whole epoch, test pass included, for both.
Keras' `fit` has a fixed cost of a few tenths of a second per epoch, so
very small --train-limit values understate it. The
presets alternate between dae and the framework so that both see the same
load on a shared machine; the ratios of one run are what carry over to
another machine, not the absolute figures.

Input noise is drawn once per run on the host for the framework (as the
studies did) but per step on the GPU for dae: its cost is small either way.
The framework's parameter count is checked against `dae summary`. The models
and the training loops are in compare_models.py beside this file.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the checkout
from compare_models import FRAMEWORKS, PRESETS, importable, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ dae


def dae_bin(arg):
    path = Path(arg) if arg else ROOT / "target" / "release" / "dae"
    if not path.exists():
        sys.exit(f"{path} does not exist. Fix: run `cargo build --release` "
                 "in the repository root, or pass --dae PATH")
    return str(path)


def dae_epoch(binary, preset, args):
    """`dae bench --compare --json` for one preset: (report, its row)."""
    cmd = [binary, "bench", "--compare", "--json", "--presets", preset,
           "--reps", str(args.reps), "--data", str(args.data)]
    if args.train_limit:
        cmd += ["--train-limit", str(args.train_limit)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, cwd=ROOT, check=False)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {r.returncode})")
    report = json.loads(r.stdout)
    return report, report["rows"][0]


def dae_params(binary, preset):
    out = subprocess.run([binary, "summary", "--preset", preset],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("Total params:"):
            return int(line.split(":")[1].split()[0].replace(",", ""))
    return None


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def worker(argv):
    """`compare.py --worker FRAMEWORK PRESET DATASET N_TRAIN N_TEST REPS DATA`:
    times one preset in one framework and prints one JSON line. Each
    framework runs in a process of its own: TensorFlow and PyTorch each
    carry an LLVM that aborts when both load into one process, and a fresh
    process starts every preset from the same state."""
    name, preset, dataset, n_train, n_test, reps, root = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _, run, version = FRAMEWORKS[name]
    data = load(dataset, root, int(n_train), int(n_test))
    warm, times, params = run(PRESETS[preset], data, int(reps))
    print(json.dumps(dict(warmup_s=warm, epoch_s=times, params=params,
                          version=version())))


def framework_epoch(name, preset, row, args):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, preset,
           row["dataset"], str(row["train_images"]), str(row["test_images"]),
           str(args.reps), str(args.data)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"{name} on {preset} failed (exit {r.returncode})")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    if sys.argv[1:2] == ["--worker"]:
        return worker(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", help="comma-separated (default: all)")
    p.add_argument("--train-limit", type=int,
                   help="training images per epoch (default: dae's)")
    p.add_argument("--reps", type=int, default=3,
                   help="timed epochs after one warm-up; the median is reported")
    p.add_argument("--framework", choices=["keras", "torch", "all"],
                   help="default: every one that imports")
    p.add_argument("--dae", help="the dae binary (default: target/release/dae)")
    p.add_argument("--data", default=ROOT / "data", type=Path,
                   help="folder holding mnist/ and fashion-mnist/")
    p.add_argument("--json-out", type=Path, help="also write the rows here")
    args = p.parse_args()
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    unknown = [n for n in presets if n not in PRESETS]
    if unknown:
        sys.exit(f"--presets: unknown {unknown}; known: {', '.join(PRESETS)}")
    if args.reps < 1 or (args.train_limit is not None and args.train_limit < 1):
        sys.exit("--reps and --train-limit must be at least 1")
    if args.framework in (None, "all"):
        names = [n for n, f in FRAMEWORKS.items() if importable(f[0])]
        if args.framework == "all" and len(names) < len(FRAMEWORKS):
            sys.exit("--framework all: not every framework imports")
    else:
        names = [args.framework]
    if not names or not all(importable(FRAMEWORKS[n][0]) for n in names):
        sys.exit("neither Keras (pip install tensorflow-cpu) nor PyTorch imports "
                 "in this Python; install one, or run `dae bench --compare` alone")
    binary = dae_bin(args.dae)
    versions, rows, adapter = {}, [], None
    for preset in presets:
        report, row = dae_epoch(binary, preset, args)
        adapter = f'{report["adapter"]}, {report.get("driver_info", "")}'.rstrip(", ")
        want = dae_params(binary, preset)
        out = dict(preset=preset, dataset=row["dataset"], batch=row["batch"],
                   train_images=row["train_images"], test_images=row["test_images"],
                   dae_samples_per_s=row["samples_per_s"], dae_epoch_s=row["epoch_s"])
        for n in names:
            w = framework_epoch(n, preset, row, args)
            warm, times, params = w["warmup_s"], w["epoch_s"], w["params"]
            versions[n] = w["version"]
            if want is not None and params != want:
                print(f"warning: {preset}: {n} has {params} parameters, dae {want}",
                      file=sys.stderr)
            sps = row["train_images"] / median(times)
            out[f"{n}_samples_per_s"] = sps
            out[f"{n}_epoch_s"] = times
            out[f"{n}_ratio"] = sps / row["samples_per_s"]
            print(f"{preset}: {n} warm-up {warm:.2f} s, epochs "
                  + " ".join(f"{t:.3f}" for t in times) + f" s: {sps:.1f} samples/s",
                  file=sys.stderr)
        rows.append(out)
    print(f"dae on {adapter}; " + "; ".join(versions.values())
          + f"; median of {args.reps} warm epochs, each with its test pass")
    head = ["preset", "train/test", "dae samples/s"]
    for n in names:
        head += [f"{n} samples/s", f"{n}/dae"]
    table = [head]
    for r in rows:
        line = [r["preset"], f"{r['train_images']}/{r['test_images']}",
                f"{r['dae_samples_per_s']:.0f}"]
        for n in names:
            line += [f"{r[n + '_samples_per_s']:.0f}", f"{r[n + '_ratio']:.2f}"]
        table.append(line)
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    for j, t in enumerate(table):
        print("| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(t, widths))) + " |")
        if j == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if args.json_out:
        args.json_out.write_text(json.dumps(
            dict(adapter=adapter, frameworks=versions, reps=args.reps, rows=rows),
            indent=2))


if __name__ == "__main__":
    main()
