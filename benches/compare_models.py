"""The presets of src/nn/presets.rs as layer lists, and their training in
Keras and in PyTorch, for benches/compare.py (which runs each framework in
a process of its own through `compare.py --worker`).

`keras_run` and `torch_run` take a preset's description and the bytes of
(train images, train labels, test images, test labels), train one warm-up
epoch and `reps` timed ones, each with its test pass, and return (warm-up
seconds, [epoch seconds], parameter count with BatchNorm's running
statistics, as `dae summary` counts them).
"""

import gzip
import struct
import sys
import time
from pathlib import Path


# Each preset as layers: ("dense", units, act, init), ("bn",), ("dropout", p),
# ("leaky",), ("conv", filters, k, padding, act), ("maxpool", size, padding),
# ("upsample", size), ("flatten",), ("reshape", h, w, c). `frozen`: the first
# layers that do not train (a classifier on an autoencoder's encoder).
N = "normal"  # RandomNormal(stddev=0.05), the mlp-dae study's
G = "glorot"  # Keras' default

MLP_DAE_ENCODER = [
    ("dense", 512, "linear", N), ("bn",), ("dropout", 0.2), ("leaky",),
    ("dense", 512, "linear", N), ("bn",), ("dropout", 0.2), ("leaky",),
    ("dense", 256, "linear", N), ("bn",), ("leaky",),
    ("dense", 196, "linear", N),
]
MLP_CLASSIFIER = [
    ("dense", 64, "relu", G), ("dropout", 0.2), ("dense", 32, "relu", G),
    ("dropout", 0.2), ("bn",), ("dense", 10, "softmax", G),
]
CONV_ENCODER = [
    ("conv", 32, 3, "same", "relu"), ("maxpool", 2, "same"),
    ("conv", 16, 3, "same", "relu"), ("maxpool", 2, "same"),
    ("conv", 16, 3, "same", "relu"), ("maxpool", 2, "same"),
]


def spec(layers, loss, opt, batch, image=False, noise=None, l2=0.0, frozen=0):
    return dict(layers=layers, loss=loss, opt=opt, batch=batch, image=image,
                noise=noise, l2=l2, frozen=frozen)


def dense_stack(units, acts):
    return [("dense", u, a, G) for u, a in zip(units, acts)]


PRESETS = {
    "mlp-dae": spec(MLP_DAE_ENCODER + [
        ("dense", 256, "linear", N), ("bn",), ("leaky",),
        ("dense", 512, "linear", N), ("bn",), ("leaky",),
        ("dense", 784, "sigmoid", N),
    ], "mse", ("adam", 1e-3), 256, noise=("gaussian", 0.1, True)),
    "raw-classifier": spec(MLP_CLASSIFIER, "ce", ("adam", 1e-3), 128),
    "code-classifier": spec(MLP_DAE_ENCODER + MLP_CLASSIFIER, "ce",
                            ("adam", 1e-3), 128, frozen=len(MLP_DAE_ENCODER)),
    "conv-dae": spec([("dropout", 0.2)] + CONV_ENCODER + [
        ("conv", 16, 3, "same", "relu"), ("upsample", 2),
        ("conv", 16, 3, "same", "relu"), ("upsample", 2),
        ("conv", 32, 3, "valid", "relu"), ("upsample", 2),
        ("conv", 1, 3, "same", "sigmoid"),
    ], "bce", ("adam", 1e-3), 128, image=True),
    "conv-dae-classifier": spec(CONV_ENCODER + [
        ("flatten",), ("dense", 64, "relu", G), ("dense", 10, "softmax", G),
    ], "ce", ("adam", 1e-3), 128, image=True, frozen=4),
    "shallow-ae": spec(dense_stack([128, 784], ["relu", "sigmoid"]), "mse",
                       ("adam", 1e-3), 32),
    "shallow-dae": spec(dense_stack([128, 784], ["relu", "sigmoid"]), "mse",
                        ("adam", 1e-3), 32, noise=("gaussian", 0.4, False)),
    "deep-ae": spec(dense_stack([512, 128, 512, 784],
                                ["relu", "relu", "sigmoid", "sigmoid"]),
                    "mse", ("adam", 1e-3), 32),
    "deep-dae": spec(dense_stack([512, 128, 512, 784],
                                 ["relu", "relu", "sigmoid", "sigmoid"]),
                     "mse", ("adam", 1e-3), 32, noise=("gaussian", 0.2, False)),
    "fashion-cae": spec([
        ("conv", 112, 3, "valid", "relu"), ("bn",), ("maxpool", 2, "valid"),
        ("conv", 112, 3, "valid", "relu"), ("bn",), ("maxpool", 2, "valid"),
        ("flatten",), ("dense", 2, "relu", G), ("bn",),
        ("dense", 1024, "relu", G), ("bn",), ("reshape", 4, 4, 64), ("bn",),
        ("upsample", 3), ("conv", 112, 3, "valid", "relu"), ("bn",),
        ("upsample", 3), ("conv", 112, 3, "valid", "relu"), ("bn",),
        ("conv", 1, 1, "same", "sigmoid"),
    ], "bce", ("adam", 1e-3), 100, image=True),
    "sp-mlp": spec(dense_stack([64, 64, 10], ["relu", "relu", "softmax"]),
                   "ce", ("sgd", 0.1), 128),
    "sp-mlp-l2": spec(dense_stack([500, 300, 10], ["relu", "relu", "softmax"]),
                      "ce", ("sgd", 0.1), 128, l2=2.5e-4),
    "sp-cnn": spec([
        ("conv", 32, 3, "valid", "relu"), ("conv", 64, 3, "valid", "relu"),
        ("maxpool", 3, "valid"), ("dropout", 0.4), ("flatten",),
        ("dense", 64, "relu", G), ("dense", 10, "softmax", G),
    ], "ce", ("sgd", 0.1), 128, image=True),
    "sp-dae": spec(dense_stack([128, 96, 128, 784],
                               ["relu", "relu", "relu", "sigmoid"]),
                   "bce", ("adam", 1e-3), 64, noise=("salt-pepper", 0.4)),
}


# ---------------------------------------------------------------- data


def read_idx(path):
    """An IDX file's dimensions and raw u8 payload."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, kind, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"{path}: not an IDX u8 file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def load(dataset, data_root, n_train, n_test):
    """(train images, train labels, test images, test labels) as bytes, the
    first n of each, images flattened to 784 bytes."""
    d = Path(data_root) / dataset
    out = []
    for split, n in (("train", n_train), ("t10k", n_test)):
        _, img = read_idx(d / f"{split}-images-idx3-ubyte.gz")
        _, lab = read_idx(d / f"{split}-labels-idx1-ubyte.gz")
        out += [img[:n * 784], lab[:n]]
    return out


def noisy(x, noise, rng):
    """The preset's input noise on a float array in [0, 1] (numpy)."""
    import numpy as np
    if noise is None:
        return x
    if noise[0] == "gaussian":
        y = x + noise[1] * rng.standard_normal(x.shape).astype(np.float32)
        return np.clip(y, 0.0, 1.0) if noise[2] else y
    p = noise[1]
    u = rng.random(x.shape)
    salt = (rng.random(x.shape) < 0.5).astype(np.float32)
    return np.where(u < p, salt, x).astype(np.float32)


# ---------------------------------------------------------------- Keras


def keras_run(s, data, reps, seed=1):
    """Median epoch seconds of `fit` on the preset, and its parameter count."""
    import numpy as np
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    tr_x, tr_y, te_x, te_y = data
    shape = (28, 28, 1) if s["image"] else (784,)

    def images(b):
        return (np.frombuffer(b, np.uint8).astype(np.float32) / 255.0).reshape((-1,) + shape)

    x, xt = images(tr_x), images(te_x)
    rng = np.random.default_rng(seed)
    if s["loss"] == "ce":
        y = keras.utils.to_categorical(np.frombuffer(tr_y, np.uint8), 10)
        yt = keras.utils.to_categorical(np.frombuffer(te_y, np.uint8), 10)
        xin, xtin = x, xt
    else:
        y, yt = x, xt
        xin, xtin = noisy(x, s["noise"], rng), noisy(xt, s["noise"], rng)

    reg = keras.regularizers.l2(s["l2"]) if s["l2"] else None

    def leaky():
        try:
            return L.LeakyReLU(negative_slope=0.3)
        except TypeError:  # tf.keras 2
            return L.LeakyReLU(alpha=0.3)

    model = keras.Sequential([keras.Input(shape)])
    for i, layer in enumerate(s["layers"]):
        kind = layer[0]
        if kind == "dense":
            init = (keras.initializers.RandomNormal(stddev=0.05)
                    if layer[3] == N else "glorot_uniform")
            lay = L.Dense(layer[1], activation=layer[2], kernel_initializer=init,
                          kernel_regularizer=reg)
        elif kind == "bn":
            lay = L.BatchNormalization(momentum=0.99, epsilon=1e-3)
        elif kind == "dropout":
            lay = L.Dropout(layer[1])
        elif kind == "leaky":
            lay = leaky()
        elif kind == "conv":
            lay = L.Conv2D(layer[1], layer[2], padding=layer[3], activation=layer[4])
        elif kind == "maxpool":
            lay = L.MaxPooling2D(layer[1], padding=layer[2])
        elif kind == "upsample":
            lay = L.UpSampling2D(layer[1])
        elif kind == "flatten":
            lay = L.Flatten()
        elif kind == "reshape":
            lay = L.Reshape(layer[1:])
        else:
            raise ValueError(kind)
        lay.trainable = i >= s["frozen"]
        model.add(lay)
    opt = (keras.optimizers.Adam(s["opt"][1]) if s["opt"][0] == "adam"
           else keras.optimizers.SGD(s["opt"][1]))
    loss = {"mse": "mse", "bce": "binary_crossentropy",
            "ce": "categorical_crossentropy"}[s["loss"]]
    metrics = ["accuracy"] if s["loss"] == "ce" else []
    model.compile(optimizer=opt, loss=loss, metrics=metrics)

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

    timer = Timer()
    model.fit(xin, y, batch_size=s["batch"], epochs=reps + 1, shuffle=True,
              validation_data=(xtin, yt), verbose=0, callbacks=[timer])
    return timer.times[0], timer.times[1:], model.count_params()


def keras_version():
    import keras
    import tensorflow as tf
    return f"Keras {keras.__version__} / TensorFlow {tf.__version__}"


# -------------------------------------------------------------- PyTorch


def torch_run(s, data, reps, seed=1):
    """The same as keras_run in PyTorch: a training loop over shuffled
    batches, then a test pass under no_grad, timed per epoch."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    tr_x, tr_y, te_x, te_y = data
    shape = (1, 28, 28) if s["image"] else (784,)

    def images(b):
        t = torch.frombuffer(bytearray(b), dtype=torch.uint8).float() / 255.0
        return t.reshape((-1,) + shape)

    x, xt = images(tr_x), images(te_x)
    gen = torch.Generator().manual_seed(seed)

    def corrupt(t):
        noise = s["noise"]
        if noise is None:
            return t
        if noise[0] == "gaussian":
            y = t + noise[1] * torch.randn(t.shape, generator=gen)
            return y.clamp(0.0, 1.0) if noise[2] else y
        keep = torch.rand(t.shape, generator=gen) >= noise[1]
        salt = (torch.rand(t.shape, generator=gen) < 0.5).float()
        return torch.where(keep, t, salt)

    if s["loss"] == "ce":
        y = torch.frombuffer(bytearray(tr_y), dtype=torch.uint8).long()
        yt = torch.frombuffer(bytearray(te_y), dtype=torch.uint8).long()
        xin, xtin = x, xt
    else:
        y, yt, xin, xtin = x, xt, corrupt(x), corrupt(xt)

    mods, dense_kernels = [], []
    c, h, w = (1, 28, 28) if s["image"] else (784, 1, 1)
    flat = not s["image"]
    # No softmax module: CrossEntropyLoss takes logits, as dae fuses the
    # softmax into its loss.
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
    for i, layer in enumerate(s["layers"]):
        kind, group = layer[0], []
        if kind == "dense":
            lin = nn.Linear(c * h * w if not flat else c, layer[1])
            if layer[3] == N:
                nn.init.normal_(lin.weight, std=0.05)
            else:
                nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            dense_kernels.append(lin.weight)
            group = [lin] + ([act[layer[2]]()] if layer[2] in act else [])
            c, h, w, flat = layer[1], 1, 1, True
        elif kind == "bn":
            bn = nn.BatchNorm1d if flat else nn.BatchNorm2d
            group = [bn(c, eps=1e-3, momentum=0.01)]
        elif kind == "dropout":
            group = [nn.Dropout(layer[1])]
        elif kind == "leaky":
            group = [nn.LeakyReLU(0.3)]
        elif kind == "conv":
            pad = layer[2] // 2 if layer[3] == "same" else 0
            conv = nn.Conv2d(c, layer[1], layer[2], padding=pad)
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
            group = [conv] + ([act[layer[4]]()] if layer[4] in act else [])
            c = layer[1]
            h, w = (h, w) if pad else (h - layer[2] + 1, w - layer[2] + 1)
        elif kind == "maxpool":
            ceil = layer[2] == "same"
            group = [nn.MaxPool2d(layer[1], ceil_mode=ceil)]
            k = layer[1]
            h, w = ((h + k - 1) // k, (w + k - 1) // k) if ceil else (h // k, w // k)
        elif kind == "upsample":
            group = [nn.Upsample(scale_factor=layer[1], mode="nearest")]
            h, w = h * layer[1], w * layer[1]
        elif kind == "flatten":
            group = [nn.Flatten()]
            c, h, w, flat = c * h * w, 1, 1, True
        elif kind == "reshape":
            hh, ww, cc = layer[1:]
            group = [nn.Unflatten(1, (cc, hh, ww))]
            c, h, w, flat = cc, hh, ww, False
        for m in group:
            if i < s["frozen"]:
                m.requires_grad_(False)
            mods.append((m, i < s["frozen"]))
    model = nn.Sequential(*[m for m, _ in mods])
    frozen_bn = [m for m, f in mods if f and isinstance(m, nn.modules.batchnorm._BatchNorm)]
    params = [p for p in model.parameters() if p.requires_grad]
    if s["opt"][0] == "adam":
        opt = torch.optim.Adam(params, lr=s["opt"][1], eps=1e-7)
    else:
        opt = torch.optim.SGD(params, lr=s["opt"][1])
    loss_fn = {"mse": nn.MSELoss(), "bce": nn.BCELoss(),
               "ce": nn.CrossEntropyLoss()}[s["loss"]]
    n, b = len(xin), s["batch"]

    def epoch():
        t0 = time.perf_counter()
        model.train()
        for m in frozen_bn:  # Keras runs a frozen BatchNorm in inference mode
            m.eval()
        for idx in torch.randperm(n).split(b):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xin[idx]), y[idx])
            if s["l2"]:
                loss = loss + s["l2"] * sum((k * k).sum() for k in dense_kernels)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for i in range(0, len(xtin), b):
                out = model(xtin[i:i + b])
                loss_fn(out, yt[i:i + b])
                if s["loss"] == "ce":
                    (out.argmax(1) == yt[i:i + b]).sum()
        return time.perf_counter() - t0

    times = [epoch() for _ in range(reps + 1)]
    total = sum(p.numel() for p in model.parameters())
    total += sum(2 * m.num_features for m in model.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm))
    return times[0], times[1:], total


def torch_version():
    import torch
    return f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"


# ----------------------------------------------------------- frameworks


FRAMEWORKS = {
    "keras": (("keras", "tensorflow"), keras_run, keras_version),
    "torch": (("torch",), torch_run, torch_version),
}


def importable(names):
    import importlib.util
    return all(importlib.util.find_spec(n) is not None for n in names)
