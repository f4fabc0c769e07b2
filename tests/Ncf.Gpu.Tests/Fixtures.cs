namespace Ncf.Gpu.Tests;

/// <summary>One backend per test class, created on first use (skipped tests never create it).</summary>
public abstract class BackendFixture : IDisposable
{
    private readonly Lazy<IlgpuBackend> _backend;

    protected BackendFixture(GpuDeviceKind kind)
    {
        Kind = kind;
        _backend = new Lazy<IlgpuBackend>(() => IlgpuBackend.Create(kind));
    }

    public GpuDeviceKind Kind { get; }

    public IlgpuBackend Backend => _backend.Value;

    public void Dispose()
    {
        if (_backend.IsValueCreated)
        {
            _backend.Value.Dispose();
        }

        GC.SuppressFinalize(this);
    }
}

public sealed class IlgpuCpuFixture() : BackendFixture(GpuDeviceKind.IlgpuCpu);

public sealed class OpenCLFixture() : BackendFixture(GpuDeviceKind.OpenCL);

public sealed class CudaFixture() : BackendFixture(GpuDeviceKind.Cuda);
