using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ncf.Kernels;

/// <summary>An element-wise operator with matching scalar and SIMD forms (the TensorPrimitives pattern).</summary>
internal interface IUnaryOperator
{
    static abstract float Invoke(float x);
    static abstract Vector<float> Invoke(Vector<float> x);
}

/// <summary>A binary element-wise operator with matching scalar and SIMD forms.</summary>
internal interface IBinaryOperator
{
    static abstract float Invoke(float a, float b);
    static abstract Vector<float> Invoke(Vector<float> a, Vector<float> b);
}

/// <summary>
/// Owns the loop, the unrolling and the remainder for element-wise operators, so operators stay one line of
/// math each. Remainders run the scalar form (in-place calls must not re-apply the operator to an element).
/// Validation lives in the public kernel entry points; these loops assume equal lengths.
/// </summary>
internal static class ElementwiseDriver
{
    public static void Unary<TOperator>(ReadOnlySpan<float> x, Span<float> y) where TOperator : IUnaryOperator
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int n = x.Length, width = Vector<float>.Count, i = 0;
        for (; i <= n - 2 * width; i += 2 * width)
        {
            var v0 = TOperator.Invoke(Vector.LoadUnsafe(ref xs, (nuint)i));
            var v1 = TOperator.Invoke(Vector.LoadUnsafe(ref xs, (nuint)(i + width)));
            v0.StoreUnsafe(ref ys, (nuint)i);
            v1.StoreUnsafe(ref ys, (nuint)(i + width));
        }

        for (; i <= n - width; i += width)
        {
            TOperator.Invoke(Vector.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref ys, i) = TOperator.Invoke(Unsafe.Add(ref xs, i));
        }
    }

    public static void Binary<TOperator>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where TOperator : IBinaryOperator
    {
        ref float aS = ref MemoryMarshal.GetReference(a);
        ref float bS = ref MemoryMarshal.GetReference(b);
        ref float yS = ref MemoryMarshal.GetReference(y);
        int n = a.Length, width = Vector<float>.Count, i = 0;
        for (; i <= n - width; i += width)
        {
            TOperator.Invoke(Vector.LoadUnsafe(ref aS, (nuint)i), Vector.LoadUnsafe(ref bS, (nuint)i)).StoreUnsafe(ref yS, (nuint)i);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref yS, i) = TOperator.Invoke(Unsafe.Add(ref aS, i), Unsafe.Add(ref bS, i));
        }
    }
}

/// <summary>Small SIMD building blocks shared by the matrix kernels.</summary>
internal static class VectorMath
{
    /// <summary><c>Σ a[i]·b[i]</c> over <c>a.Length</c> elements, two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref float aS = ref MemoryMarshal.GetReference(a);
        ref float bS = ref MemoryMarshal.GetReference(b);
        int n = a.Length, width = Vector<float>.Count, i = 0;
        var acc0 = Vector<float>.Zero;
        var acc1 = Vector<float>.Zero;
        for (; i <= n - 2 * width; i += 2 * width)
        {
            acc0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref aS, (nuint)i), Vector.LoadUnsafe(ref bS, (nuint)i), acc0);
            acc1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref aS, (nuint)(i + width)), Vector.LoadUnsafe(ref bS, (nuint)(i + width)), acc1);
        }

        for (; i <= n - width; i += width)
        {
            acc0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref aS, (nuint)i), Vector.LoadUnsafe(ref bS, (nuint)i), acc0);
        }

        float sum = Vector.Sum(acc0 + acc1);
        for (; i < n; i++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref aS, i), Unsafe.Add(ref bS, i), sum);
        }

        return sum;
    }

    /// <summary><c>y[i] += alpha·x[i]</c> over <c>x.Length</c> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int n = x.Length, width = Vector<float>.Count, i = 0;
        var a = new Vector<float>(alpha);
        for (; i <= n - width; i += width)
        {
            Vector.FusedMultiplyAdd(a, Vector.LoadUnsafe(ref xs, (nuint)i), Vector.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref ys, i) = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i));
        }
    }

    /// <summary><c>y[i] += x[i]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int n = x.Length, width = Vector<float>.Count, i = 0;
        for (; i <= n - width; i += width)
        {
            (Vector.LoadUnsafe(ref xs, (nuint)i) + Vector.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref ys, i) += Unsafe.Add(ref xs, i);
        }
    }
}

/// <summary>Argument checks shared by the public kernel entry points.</summary>
internal static class Check
{
    public static void SameLength(int expected, int actual, string name)
    {
        if (expected != actual)
        {
            throw new ArgumentException($"{name} has {actual} elements; expected {expected}.", name);
        }
    }

    public static void AtLeast(int required, int actual, string name)
    {
        if (actual < required)
        {
            throw new ArgumentException($"{name} has {actual} elements; at least {required} are needed.", name);
        }
    }
}
