namespace Ncf.Gpu;

/// <summary>How <see cref="IlgpuBackend.ScatterAdd(Ncf.Backends.View{float}, Ncf.Backends.View{int}, int, Ncf.Backends.View{float})"/> adds rows of gradients into an embedding table's gradient.</summary>
public enum ScatterAddMethod
{
    /// <summary>
    /// Chooses per accelerator: <see cref="Atomic"/> on CUDA (native float atomics) and on the CPU accelerator (a test
    /// simulator, where atomics were 3x faster); <see cref="Sorted"/> on OpenCL, which has no float atomic add (ILGPU's
    /// compare-and-swap loop serialises on GPUs under contention) — deterministic, and on PoCL within 1.1-2.6x of
    /// atomics (docs/opencl.md has the measurements).
    /// </summary>
    Auto,

    /// <summary>
    /// One thread per (n, d) does an atomic float add. Fast on CUDA; on OpenCL ILGPU emits a compare-and-swap loop
    /// that serialises under contention (popular ids). Summation order, hence rounding, varies between runs.
    /// </summary>
    Atomic,

    /// <summary>
    /// Contention-free and deterministic: (id, n) keys are bitonic-sorted on the device, then one thread per
    /// (distinct id, column) owns a table element and adds the gradient rows of its id in order of n: the result
    /// equals the scalar reference bit for bit.
    /// </summary>
    Sorted,
}
