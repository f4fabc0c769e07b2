namespace Ncf.Gpu.Tests;

/// <summary>The backend tests on ILGPU's CPU accelerator (always available; a slow simulator, so shapes stay small).</summary>
[Accelerator(GpuDeviceKind.IlgpuCpu)]
public sealed class IlgpuCpuBackendTests(IlgpuCpuFixture fixture) : IlgpuBackendTests<IlgpuCpuFixture>(fixture);

/// <summary>The backend tests on the first OpenCL device (PoCL 6 on a CPU-only machine); required when CI=true.</summary>
[Accelerator(GpuDeviceKind.OpenCL)]
public sealed class OpenCLBackendTests(OpenCLFixture fixture) : IlgpuBackendTests<OpenCLFixture>(fixture);

/// <summary>The backend tests on the first CUDA device; skipped without one.</summary>
[Accelerator(GpuDeviceKind.Cuda)]
public sealed class CudaBackendTests(CudaFixture fixture) : IlgpuBackendTests<CudaFixture>(fixture);
