namespace Ncf.Backends.Cpu;

/// <summary>A buffer in managed host memory; exposes its array to the CPU kernels.</summary>
public sealed class CpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    internal CpuBuffer(CpuBackend backend, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Backend = backend;
        Array = GC.AllocateUninitializedArray<T>(length, pinned: false);
        System.Array.Clear(Array);
    }

    /// <summary>The storage.</summary>
    public T[] Array { get; }

    /// <inheritdoc />
    public override int Length => Array.Length;

    /// <inheritdoc />
    public override IBackend Backend { get; }

    /// <inheritdoc />
    public override void Write(int offset, ReadOnlySpan<T> source) => source.CopyTo(Array.AsSpan(offset));

    /// <inheritdoc />
    public override void Read(int offset, Span<T> destination) => Array.AsSpan(offset, destination.Length).CopyTo(destination);
}
