using System.Numerics;

namespace Ncf.Kernels;

/// <summary>ReLU. Forward <c>y = max(x, 0)</c>; backward <c>dx = y &gt; 0 ? dy : 0</c>. In place allowed.</summary>
public static class ReluKernel
{
    /// <summary>Scalar reference of the forward pass.</summary>
    public static void ForwardReference(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] > 0 ? x[i] : 0;
        }
    }

    /// <summary>Scalar reference of the backward pass.</summary>
    public static void BackwardReference(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        for (int i = 0; i < y.Length; i++)
        {
            dx[i] = y[i] > 0 ? dy[i] : 0;
        }
    }

    /// <summary>SIMD forward.</summary>
    public static void ForwardSimd(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        ElementwiseDriver.Unary<ReluOperator>(x, y);
    }

    /// <summary>SIMD backward.</summary>
    public static void BackwardSimd(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        ElementwiseDriver.Binary<ReluGradientOperator>(y, dy, dx);
    }

    private readonly struct ReluOperator : IUnaryOperator
    {
        public static float Invoke(float x) => x > 0 ? x : 0;

        public static Vector<float> Invoke(Vector<float> x) => Vector.Max(x, Vector<float>.Zero);
    }

    private readonly struct ReluGradientOperator : IBinaryOperator
    {
        public static float Invoke(float y, float dy) => y > 0 ? dy : 0;

        public static Vector<float> Invoke(Vector<float> y, Vector<float> dy) =>
            Vector.ConditionalSelect(Vector.GreaterThan(y, Vector<float>.Zero), dy, Vector<float>.Zero);
    }
}

/// <summary>Logistic sigmoid. Forward <c>y = 1 / (1 + exp(-x))</c>; backward <c>dx = dy·y·(1-y)</c>.</summary>
public static class SigmoidKernel
{
    /// <summary>Scalar reference, computed in double.</summary>
    public static void ForwardReference(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (float)(1 / (1 + Math.Exp(-(double)x[i])));
        }
    }

    /// <summary>Scalar reference of the backward pass.</summary>
    public static void BackwardReference(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        for (int i = 0; i < y.Length; i++)
        {
            dx[i] = (float)((double)dy[i] * y[i] * (1 - (double)y[i]));
        }
    }

    /// <summary>SIMD forward with the vector exponential.</summary>
    public static void ForwardSimd(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        ElementwiseDriver.Unary<SigmoidOperator>(x, y);
    }

    /// <summary>SIMD backward.</summary>
    public static void BackwardSimd(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        ElementwiseDriver.Binary<SigmoidGradientOperator>(y, dy, dx);
    }

    internal readonly struct SigmoidOperator : IUnaryOperator
    {
        public static float Invoke(float x) => 1f / (1f + MathF.Exp(-x));

        public static Vector<float> Invoke(Vector<float> x) => Vector<float>.One / (Vector<float>.One + Vector.Exp(-x));
    }

    private readonly struct SigmoidGradientOperator : IBinaryOperator
    {
        public static float Invoke(float y, float dy) => dy * y * (1 - y);

        public static Vector<float> Invoke(Vector<float> y, Vector<float> dy) => dy * y * (Vector<float>.One - y);
    }
}

/// <summary>Element-wise product (GMF). Forward <c>y = a ⊙ b</c>; backward <c>da = dy ⊙ b</c>, <c>db = dy ⊙ a</c>.</summary>
public static class MultiplyKernel
{
    /// <summary>Scalar reference of the forward pass.</summary>
    public static void ForwardReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        Validate(a, b, y);
        for (int i = 0; i < a.Length; i++)
        {
            y[i] = a[i] * b[i];
        }
    }

    /// <summary>Scalar reference of the backward pass.</summary>
    public static void BackwardReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> dy, Span<float> da, Span<float> db)
    {
        Validate(a, b, dy);
        Validate(a, b, da);
        Validate(a, b, db);
        for (int i = 0; i < a.Length; i++)
        {
            float g = dy[i];
            float ai = a[i];
            da[i] = g * b[i];
            db[i] = g * ai;
        }
    }

    /// <summary>SIMD forward.</summary>
    public static void ForwardSimd(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        Validate(a, b, y);
        ElementwiseDriver.Binary<MultiplyOperator>(a, b, y);
    }

    /// <summary><see cref="ForwardSimd"/> without the length checks, for short rows in a loop whose caller sized them.</summary>
    internal static void ForwardUnchecked(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) =>
        ElementwiseDriver.Binary<MultiplyOperator>(a, b, y);

    /// <summary>SIMD backward. <paramref name="da"/> and <paramref name="db"/> must not alias the inputs.</summary>
    public static void BackwardSimd(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> dy, Span<float> da, Span<float> db)
    {
        Validate(a, b, dy);
        Validate(a, b, da);
        Validate(a, b, db);
        ElementwiseDriver.Binary<MultiplyOperator>(dy, b, da);
        ElementwiseDriver.Binary<MultiplyOperator>(dy, a, db);
    }

    private static void Validate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> y)
    {
        Check.SameLength(a.Length, b.Length, nameof(b));
        Check.SameLength(a.Length, y.Length, nameof(y));
    }

    private readonly struct MultiplyOperator : IBinaryOperator
    {
        public static float Invoke(float a, float b) => a * b;

        public static Vector<float> Invoke(Vector<float> a, Vector<float> b) => a * b;
    }
}

/// <summary>
/// Strided block copy, the forward of concatenation (into a column block) and its backward (split, out of
/// one): <c>destination[r·dstStride + c] = source[r·srcStride + c]</c> for a <c>[rows, columns]</c> block.
/// </summary>
public static class CopyColumnsKernel
{
    /// <summary>Scalar reference.</summary>
    public static void Reference(ReadOnlySpan<float> source, int sourceStride, Span<float> destination, int destinationStride, int rows, int columns)
    {
        Validate(source.Length, sourceStride, destination.Length, destinationStride, rows, columns);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                destination[r * destinationStride + c] = source[r * sourceStride + c];
            }
        }
    }

    /// <summary>Vectorised version: a SIMD memory move per row.</summary>
    public static void Simd(ReadOnlySpan<float> source, int sourceStride, Span<float> destination, int destinationStride, int rows, int columns)
    {
        Validate(source.Length, sourceStride, destination.Length, destinationStride, rows, columns);
        for (int r = 0; r < rows; r++)
        {
            source.Slice(r * sourceStride, columns).CopyTo(destination.Slice(r * destinationStride, columns));
        }
    }

    internal static void Validate(int sourceLength, int sourceStride, int destinationLength, int destinationStride, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceStride, columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(destinationStride, columns);
        if (rows == 0 || columns == 0)
        {
            return;
        }

        Check.AtLeast((rows - 1) * sourceStride + columns, sourceLength, "source");
        Check.AtLeast((rows - 1) * destinationStride + columns, destinationLength, "destination");
    }
}
