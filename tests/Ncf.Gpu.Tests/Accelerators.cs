using Xunit.Abstractions;

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

/// <summary>The device sampler on ILGPU's CPU accelerator.</summary>
[Accelerator(GpuDeviceKind.IlgpuCpu)]
public sealed class IlgpuCpuDeviceSamplerTests(IlgpuCpuFixture fixture) : DeviceSamplerTests<IlgpuCpuFixture>(fixture);

/// <summary>The device sampler on OpenCL.</summary>
[Accelerator(GpuDeviceKind.OpenCL)]
public sealed class OpenCLDeviceSamplerTests(OpenCLFixture fixture) : DeviceSamplerTests<OpenCLFixture>(fixture);

/// <summary>The device sampler on CUDA.</summary>
[Accelerator(GpuDeviceKind.Cuda)]
public sealed class CudaDeviceSamplerTests(CudaFixture fixture) : DeviceSamplerTests<CudaFixture>(fixture);

/// <summary>One training step vs the CPU backend, on ILGPU's CPU accelerator.</summary>
[Accelerator(GpuDeviceKind.IlgpuCpu)]
public sealed class IlgpuCpuTrainingStepTests(IlgpuCpuFixture fixture, ITestOutputHelper output) : TrainingStepTests<IlgpuCpuFixture>(fixture, output);

/// <summary>One training step vs the CPU backend, on OpenCL.</summary>
[Accelerator(GpuDeviceKind.OpenCL)]
public sealed class OpenCLTrainingStepTests(OpenCLFixture fixture, ITestOutputHelper output) : TrainingStepTests<OpenCLFixture>(fixture, output);

/// <summary>One training step vs the CPU backend, on CUDA.</summary>
[Accelerator(GpuDeviceKind.Cuda)]
public sealed class CudaTrainingStepTests(CudaFixture fixture, ITestOutputHelper output) : TrainingStepTests<CudaFixture>(fixture, output);

/// <summary>A short training run vs the CPU backend, on OpenCL (no simulator subclass: see <see cref="TrainingRunTests{TFixture}"/>).</summary>
[Accelerator(GpuDeviceKind.OpenCL)]
public sealed class OpenCLTrainingRunTests(OpenCLFixture fixture, ITestOutputHelper output) : TrainingRunTests<OpenCLFixture>(fixture, output);

/// <summary>A short training run vs the CPU backend, on CUDA.</summary>
[Accelerator(GpuDeviceKind.Cuda)]
public sealed class CudaTrainingRunTests(CudaFixture fixture, ITestOutputHelper output) : TrainingRunTests<CudaFixture>(fixture, output);
