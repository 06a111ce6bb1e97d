# The modules every exported PyTorch model.py holds (src/export/pytorch.rs
# pastes this file in after its imports).

class ChwToHwc(nn.Module):
    """The features of a flattened (c, h, w) tensor in dae's (h, w, c) order."""

    def __init__(self, c, h, w):
        super().__init__()
        self.c, self.h, self.w = c, h, w

    def forward(self, x):
        n = x.shape[0]
        return x.reshape(n, self.c, self.h, self.w).permute(0, 2, 3, 1).reshape(n, -1)


class HwcReshape(nn.Module):
    """dae's Reshape of an NHWC tensor: its values in (h, w, c) order, to NCHW."""

    def __init__(self, c, h, w):
        super().__init__()
        self.c, self.h, self.w = c, h, w

    def forward(self, x):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], self.h, self.w, self.c).permute(0, 3, 1, 2)


class DaeNoise(nn.Module):
    """dae's Noise layer: corrupts its input in training only."""

    def __init__(self, kind, level, clip):
        super().__init__()
        self.kind, self.level, self.clip = kind, level, clip

    def forward(self, x):
        if not self.training or self.kind == "none":
            return x
        if self.kind == "gaussian":
            x = x + self.level * torch.randn_like(x)
        elif self.kind == "uniform":
            x = x + self.level * (2 * torch.rand_like(x) - 1)
        elif self.kind == "salt-pepper":
            hit = torch.rand_like(x) < self.level
            x = torch.where(hit, (torch.rand_like(x) < 0.5).to(x.dtype), x)
        elif self.kind == "masking":
            x = x * (torch.rand_like(x) >= self.level).to(x.dtype)
        return x.clamp(0, 1) if self.clip else x
