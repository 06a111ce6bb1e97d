//! The shape of a stride-1 convolution layer: sizes, padding and counts.

/// How the border is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// pad = (k−1)/2 zeros on each side: the output has the input's size.
    Same,
    /// No padding: the output is in − k + 1.
    Valid,
}

/// The shape of one stride-1 convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Images per batch.
    pub batch: usize,
    /// Input height in pixels.
    pub h: usize,
    /// Input width in pixels.
    pub w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels (filters).
    pub cout: usize,
    /// Kernel side (odd).
    pub k: usize,
    /// How the border is treated.
    pub padding: Padding,
}

impl Conv2d {
    /// Zeros added on each side.
    pub fn pad(&self) -> usize {
        match self.padding {
            Padding::Same => (self.k - 1) / 2,
            Padding::Valid => 0,
        }
    }
    /// Output height in pixels.
    pub fn out_h(&self) -> usize {
        self.h + 2 * self.pad() + 1 - self.k
    }
    /// Output width in pixels.
    pub fn out_w(&self) -> usize {
        self.w + 2 * self.pad() + 1 - self.k
    }
    /// Output pixels over the batch: the rows of y seen as a matrix.
    pub fn rows(&self) -> usize {
        self.batch * self.out_h() * self.out_w()
    }
    /// Elements of x: (batch, h, w, cin), NHWC.
    pub fn x_len(&self) -> usize {
        self.batch * self.h * self.w * self.cin
    }
    /// Elements of y: (batch, out_h, out_w, cout), NHWC.
    pub fn y_len(&self) -> usize {
        self.rows() * self.cout
    }
    /// Elements of W: (k, k, cin, cout).
    pub fn w_len(&self) -> usize {
        self.k * self.k * self.cin * self.cout
    }
    /// Multiply-adds of the implicit GEMM (taps in the padding included)
    /// count twice; the same for every pass.
    pub fn flops(&self) -> f64 {
        2.0 * self.rows() as f64 * (self.k * self.k * self.cin) as f64 * self.cout as f64
    }

    pub(crate) fn check(&self) {
        assert!(
            self.k % 2 == 1,
            "conv2d: kernel size must be odd, got {self:?}"
        );
        assert!(
            self.batch >= 1 && self.cin >= 1 && self.cout >= 1,
            "conv2d: empty shape {self:?}"
        );
        assert!(
            self.h + 2 * self.pad() >= self.k && self.w + 2 * self.pad() >= self.k,
            "conv2d: image smaller than the kernel: {self:?}"
        );
    }
}
