//! GPU-resident tensors: upload, views and readback.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::{Gpu, GpuError};

/// Byte stride between per-step slots of the step uniform buffer: the
/// largest `min_uniform_buffer_offset_alignment` any adapter asks for.
pub const STEP_STRIDE: u64 = 256;

/// A storage buffer holding `len` 32-bit elements (f32 or u32), or packed u8
/// data for the dataset. Cloning shares the same GPU buffer.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// The GPU buffer, shared by every clone.
    pub buffer: Arc<wgpu::Buffer>,
    /// Number of 32-bit words.
    pub len: usize,
}

impl Tensor {
    /// Size in bytes: 4 per word.
    pub fn bytes(&self) -> u64 {
        (self.len * 4) as u64
    }

    /// The whole buffer as a bind-group resource.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }
}

/// A tensor starting `offset` 32-bit words into a buffer: how layers address
/// their slice of the flat parameter, gradient and optimizer-state buffers.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The tensor viewed into.
    pub tensor: &'a Tensor,
    /// First word of the view, in 32-bit words from the start of `tensor`.
    pub offset: usize,
}

impl Tensor {
    /// The whole tensor, from word 0.
    pub fn view(&self) -> View<'_> {
        View {
            tensor: self,
            offset: 0,
        }
    }

    /// The tensor from word `offset` on.
    pub fn at(&self, offset: usize) -> View<'_> {
        View {
            tensor: self,
            offset,
        }
    }
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Gpu {
    /// A zero-filled tensor of `len` 32-bit words (wgpu zero-initialises).
    pub fn zeros(&self, label: &str, len: usize) -> Result<Tensor, GpuError> {
        let bytes = (len.max(1) * 4) as u64;
        self.check_size(label, bytes)?;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: STORAGE,
            mapped_at_creation: false,
        });
        Ok(Tensor {
            buffer: Arc::new(buffer),
            len,
        })
    }

    /// A new tensor holding `data`, labelled `label` in GPU debuggers.
    pub fn upload_f32(&self, label: &str, data: &[f32]) -> Result<Tensor, GpuError> {
        self.upload_words(label, bytemuck::cast_slice(data), data.len())
    }

    /// A new tensor holding `data` (indices, labels), labelled `label` in GPU
    /// debuggers.
    pub fn upload_u32(&self, label: &str, data: &[u32]) -> Result<Tensor, GpuError> {
        self.upload_words(label, bytemuck::cast_slice(data), data.len())
    }

    /// Uploads bytes packed four to a u32 word (little-endian), zero-padded;
    /// shaders read byte `i` as `(w[i / 4] >> (8 * (i % 4))) & 0xff`.
    pub fn upload_u8(&self, label: &str, data: &[u8]) -> Result<Tensor, GpuError> {
        let words = data.len().div_ceil(4);
        if data.len().is_multiple_of(4) {
            return self.upload_words(label, data, words);
        }
        let mut padded = data.to_vec();
        padded.resize(words * 4, 0);
        self.upload_words(label, &padded, words)
    }

    fn upload_words(&self, label: &str, bytes: &[u8], len: usize) -> Result<Tensor, GpuError> {
        if bytes.is_empty() {
            return self.zeros(label, 0);
        }
        self.check_size(label, bytes.len() as u64)?;
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: STORAGE,
            });
        Ok(Tensor {
            buffer: Arc::new(buffer),
            len,
        })
    }

    /// Overwrites the start of `t` with `data` (queued, ordered before the
    /// next submission).
    pub fn write_f32(&self, t: &Tensor, data: &[f32]) {
        assert!(
            data.len() <= t.len,
            "write of {} words into {}",
            data.len(),
            t.len
        );
        self.queue
            .write_buffer(&t.buffer, 0, bytemuck::cast_slice(data));
    }

    /// Queues a write of `data` to the start of `t`, as [`Gpu::write_f32`]
    /// does.
    pub fn write_u32(&self, t: &Tensor, data: &[u32]) {
        assert!(
            data.len() <= t.len,
            "write of {} words into {}",
            data.len(),
            t.len
        );
        self.queue
            .write_buffer(&t.buffer, 0, bytemuck::cast_slice(data));
    }

    /// A uniform buffer holding one `Params` struct.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// The step buffer: `slots` per-step [`super::StepInfo`] records at
    /// [`STEP_STRIDE`], and the bind group that reads it at a dynamic offset.
    pub fn step_buffer(&self, slots: usize) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("step slots"),
            size: STEP_STRIDE * slots.max(1) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step slots"),
            layout: &self.step_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<super::StepInfo>() as u64),
                }),
            }],
        });
        (buffer, group)
    }

    /// Writes step records into the step buffer at their slots.
    pub fn write_steps(&self, buffer: &wgpu::Buffer, steps: &[super::StepInfo]) {
        let mut bytes = vec![0u8; steps.len() * STEP_STRIDE as usize];
        for (i, s) in steps.iter().enumerate() {
            let at = i * STEP_STRIDE as usize;
            bytes[at..at + std::mem::size_of::<super::StepInfo>()]
                .copy_from_slice(bytemuck::bytes_of(s));
        }
        self.queue.write_buffer(buffer, 0, &bytes);
    }

    /// Copies `t` back to the host. Not for the training loop: it allocates a
    /// staging buffer and waits. The scheduler uses [`Readback`] instead.
    pub fn read_f32(&self, t: &Tensor) -> Result<Vec<f32>, GpuError> {
        let bytes = self.read_bytes(&t.buffer, t.bytes())?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Copies `t` back to the host as u32 words; like [`Gpu::read_f32`], it
    /// allocates a staging buffer and waits.
    pub fn read_u32(&self, t: &Tensor) -> Result<Vec<u32>, GpuError> {
        let bytes = self.read_bytes(&t.buffer, t.bytes())?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    fn read_bytes(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, GpuError> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = Readback::new(self, bytes);
        staging.read(self, src)
    }
}

/// A reusable `MAP_READ | COPY_DST` staging buffer.
pub struct Readback {
    staging: wgpu::Buffer,
    bytes: u64,
}

impl Readback {
    /// A staging buffer for reads of `bytes` bytes.
    pub fn new(gpu: &Gpu, bytes: u64) -> Readback {
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback staging"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Readback { staging, bytes }
    }

    /// Copies the first `self.bytes` of `src` and returns them. Storage
    /// buffers cannot be mapped, hence the copy; `map_async` only completes
    /// once the device is polled, hence the wait; the view must be dropped
    /// before `unmap`, hence the inner scope.
    pub fn read(&self, gpu: &Gpu, src: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let mut enc = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        enc.copy_buffer_to_buffer(src, 0, &self.staging, 0, self.bytes);
        gpu.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        self.staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        gpu.wait()?;
        rx.recv()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = {
            let view = self
                .staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::Readback(format!("{e:?}")))?;
            view.to_vec()
        };
        self.staging.unmap();
        Ok(out)
    }

    /// [`Readback::read`] as f32 values.
    pub fn read_f32(&self, gpu: &Gpu, src: &Tensor) -> Result<Vec<f32>, GpuError> {
        Ok(bytemuck::cast_slice(&self.read(gpu, &src.buffer)?).to_vec())
    }
}
