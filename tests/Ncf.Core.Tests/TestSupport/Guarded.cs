using Xunit.Sdk;

namespace Ncf.Core.Tests.TestSupport;

/// <summary>
/// A float buffer with canary padding on both sides, starting at an odd offset so it is never vector-aligned.
/// The SIMD kernels use unchecked refs (<c>Unsafe.Add</c>, <c>LoadUnsafe</c>/<c>StoreUnsafe</c>), so a bounds bug
/// there would not throw: it would overwrite a neighbour. <see cref="AssertCanaries"/> catches that.
/// </summary>
public sealed class Guarded
{
    private const int Pad = 17;
    private static readonly float Canary = BitConverter.Int32BitsToSingle(0x7FC0BEEF); // a NaN with a recognisable payload

    private readonly float[] _array;

    public Guarded(int length)
    {
        Length = length;
        _array = new float[length + 2 * Pad];
        _array.AsSpan().Fill(Canary);
    }

    public Guarded(ReadOnlySpan<float> values)
        : this(values.Length)
    {
        values.CopyTo(Span);
    }

    public int Length { get; }

    public Span<float> Span => _array.AsSpan(Pad, Length);

    public float[] ToArray() => Span.ToArray();

    public void AssertCanaries(string tensorName)
    {
        for (int i = 0; i < _array.Length; i++)
        {
            if (i >= Pad && i < Pad + Length)
            {
                continue;
            }

            if (BitConverter.SingleToInt32Bits(_array[i]) != BitConverter.SingleToInt32Bits(Canary))
            {
                int relative = i - Pad;
                throw new XunitException($"{tensorName}: write outside the buffer at relative index {relative} (length {Length}).");
            }
        }
    }
}
