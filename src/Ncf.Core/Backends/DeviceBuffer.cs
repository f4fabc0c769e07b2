namespace Ncf.Backends;

/// <summary>
/// A flat buffer of <typeparamref name="T"/> owned by one <see cref="IBackend"/>: host memory for the CPU
/// backend, device memory for an accelerator. Buffers are allocated zero-filled.
/// </summary>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    /// <summary>Number of elements.</summary>
    public abstract int Length { get; }

    /// <summary>The backend that allocated this buffer; kernels only accept buffers of their own backend.</summary>
    public abstract IBackend Backend { get; }

    /// <summary>Copies <paramref name="source"/> into this buffer starting at <paramref name="offset"/>.</summary>
    public abstract void Write(int offset, ReadOnlySpan<T> source);

    /// <summary>Copies elements starting at <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    public abstract void Read(int offset, Span<T> destination);

    /// <summary>The whole buffer as a view.</summary>
    public View<T> All => new(this, 0, Length);

    /// <summary>A view of <paramref name="length"/> elements starting at <paramref name="offset"/>.</summary>
    public View<T> Slice(int offset, int length) => new(this, offset, length);

    /// <summary>Copies the whole buffer to a new host array.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        Read(0, result);
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the buffer's memory.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// A contiguous window <c>[Offset, Offset + Length)</c> of a <see cref="DeviceBuffer{T}"/>. Views are how
/// kernels take their arguments: a parameter slice, a batch of activations, a column block of a matrix.
/// </summary>
public readonly struct View<T> where T : unmanaged
{
    /// <summary>Creates a view; the range must lie inside the buffer.</summary>
    public View(DeviceBuffer<T> buffer, int offset, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length),
                $"View [{offset}, {offset + length}) does not fit a buffer of {buffer.Length} elements.");
        }

        Buffer = buffer;
        Offset = offset;
        Length = length;
    }

    /// <summary>The underlying buffer.</summary>
    public DeviceBuffer<T> Buffer { get; }

    /// <summary>First element of the view inside <see cref="Buffer"/>.</summary>
    public int Offset { get; }

    /// <summary>Number of elements in the view.</summary>
    public int Length { get; }

    /// <summary>True for the default (absent) view, used for optional kernel outputs.</summary>
    public bool IsEmpty => Buffer is null || Length == 0;

    /// <summary>A sub-view relative to this view.</summary>
    public View<T> Slice(int offset, int length)
    {
        if ((uint)offset > (uint)Length || (uint)length > (uint)(Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length),
                $"Slice [{offset}, {offset + length}) does not fit a view of {Length} elements.");
        }

        return new View<T>(Buffer, Offset + offset, length);
    }

    /// <summary>The first <paramref name="length"/> elements.</summary>
    public View<T> Take(int length) => Slice(0, length);

    /// <summary>Copies the view to a new host array.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        Buffer.Read(Offset, result);
        return result;
    }

    /// <summary>Copies host data into the view; <paramref name="source"/> must not be longer than the view.</summary>
    public void Write(ReadOnlySpan<T> source)
    {
        if (source.Length > Length)
        {
            throw new ArgumentException($"Source of {source.Length} elements does not fit a view of {Length}.", nameof(source));
        }

        Buffer.Write(Offset, source);
    }
}
