namespace Ncf.Gpu;

/// <summary>Which ILGPU accelerator a <see cref="IlgpuBackend"/> runs on.</summary>
public enum GpuDeviceKind
{
    /// <summary>The best available: CUDA, else OpenCL, else ILGPU's CPU accelerator.</summary>
    Auto,

    /// <summary>An NVIDIA GPU through the CUDA driver.</summary>
    Cuda,

    /// <summary>An OpenCL 2.0+ device with generic address space support (a GPU, or PoCL 6 on a CPU).</summary>
    OpenCL,

    /// <summary>ILGPU's CPU accelerator: a simulator that runs kernels on .NET threads; slow, for tests.</summary>
    IlgpuCpu,
}

/// <summary>One device an <see cref="IlgpuBackend"/> can run on, as listed by <see cref="IlgpuBackend.ListDevices"/>.</summary>
/// <param name="Kind">The accelerator kind (never <see cref="GpuDeviceKind.Auto"/>).</param>
/// <param name="Index">Index among the devices of this kind, as passed to <see cref="IlgpuBackend.Create"/>.</param>
/// <param name="Name">The device's name as the driver reports it.</param>
/// <param name="MemoryBytes">Device memory in bytes (for the CPU accelerator: what ILGPU reports).</param>
public sealed record GpuDeviceInfo(GpuDeviceKind Kind, int Index, string Name, long MemoryBytes)
{
    /// <summary>A one-line description, e.g. <c>cuda:0  NVIDIA H100 80GB HBM3  79.1 GiB</c>.</summary>
    public override string ToString() =>
        $"{IlgpuBackend.KindName(Kind)}:{Index}  {Name}  {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB";
}
