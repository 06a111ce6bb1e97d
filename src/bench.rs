//! Kernel and training-step benchmarks shared by `dae bench` and benches/ (in progress).
