using ILGPU;
using ILGPU.Runtime;
using Ncf.Backends;

namespace Ncf.Gpu;

/// <summary>
/// A buffer in accelerator memory: wraps an ILGPU <see cref="MemoryBuffer1D{T, TStride}"/>, zero-filled on
/// allocation (ILGPU's <c>Allocate1D</c> is not). Reads and writes are synchronous and ordered after every kernel
/// submitted earlier on the same backend.
/// </summary>
public sealed class IlgpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private readonly IlgpuBackend _backend;
    private readonly int _length;
    private MemoryBuffer1D<T, Stride1D.Dense>? _memory;

    internal IlgpuBuffer(IlgpuBackend backend, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _backend = backend;
        _length = length;
        // ILGPU cannot allocate 0 elements on every accelerator; an empty buffer keeps one unused element.
        backend.Locked(() =>
        {
            _memory = backend.Accelerator.Allocate1D<T>(Math.Max(1, length));
            _memory.MemSetToZero();
        });
    }

    /// <inheritdoc />
    public override int Length => _length;

    /// <inheritdoc />
    public override IBackend Backend => _backend;

    /// <summary>The ILGPU memory (its length is at least 1 even for an empty buffer).</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Memory => _memory ?? throw new ObjectDisposedException(nameof(IlgpuBuffer<T>));

    /// <summary>The ILGPU view of <c>[offset, offset + length)</c>.</summary>
    /// <exception cref="ObjectDisposedException">The buffer or its backend was disposed.</exception>
    public ArrayView<T> View(int offset, int length)
    {
        _backend.ThrowIfDisposed();
        return Memory.View.SubView(offset, length);
    }

    /// <inheritdoc />
    public override void Write(int offset, ReadOnlySpan<T> source)
    {
        CheckRange(offset, source.Length);
        if (source.Length == 0)
        {
            return;
        }

        lock (_backend.LaunchLock)
        {
            _backend.ThrowIfDisposed();
            View(offset, source.Length).CopyFromCPU(source);
        }
    }

    /// <inheritdoc />
    public override void Read(int offset, Span<T> destination)
    {
        CheckRange(offset, destination.Length);
        if (destination.Length == 0)
        {
            return;
        }

        lock (_backend.LaunchLock)
        {
            _backend.ThrowIfDisposed();
            View(offset, destination.Length).CopyToCPU(destination);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_backend.LaunchLock)
            {
                _memory?.Dispose();
                _memory = null;
            }
        }

        base.Dispose(disposing);
    }

    private void CheckRange(int offset, int length)
    {
        if ((uint)offset > (uint)_length || (uint)length > (uint)(_length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"[{offset}, {offset + length}) does not fit a buffer of {_length} elements.");
        }
    }
}
