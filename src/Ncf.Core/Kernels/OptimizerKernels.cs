using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Ncf.Backends;

namespace Ncf.Kernels;

/// <summary>
/// Adam in PyTorch's form (see <see cref="AdamSettings"/>), dense over all elements or lazily over rows.
/// </summary>
public static partial class AdamKernel
{
    /// <summary>Scalar reference, in double, over every element.</summary>
    public static void Reference(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        double b1 = settings.Beta1, b2 = settings.Beta2;
        double bc1 = 1 - Math.Pow(b1, settings.Step), bc2 = 1 - Math.Pow(b2, settings.Step);
        for (int i = 0; i < parameters.Length; i++)
        {
            double g = gradients[i] + (double)settings.L2 * parameters[i];
            double m = b1 * firstMoment[i] + (1 - b1) * g;
            double v = b2 * secondMoment[i] + (1 - b2) * g * g;
            firstMoment[i] = (float)m;
            secondMoment[i] = (float)v;
            parameters[i] = (float)(parameters[i] - settings.LearningRate / bc1 * m / (Math.Sqrt(v) / Math.Sqrt(bc2) + settings.Epsilon));
        }
    }

    /// <summary>SIMD version over every element.</summary>
    public static void Simd(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        Update(parameters, gradients, firstMoment, secondMoment, settings.Beta1, settings.Beta2, settings.Epsilon, settings.L2,
            settings.StepSize, settings.InverseSqrtBiasCorrection2);
    }

    /// <summary>
    /// <see cref="Simd"/> followed by clearing the gradients, chunk by chunk while they are still in the L1 cache:
    /// the same result as a separate fill of zeros, without a second pass over memory.
    /// </summary>
    internal static void SimdClearingGradients(Span<float> parameters, Span<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        const int Chunk = 2048;
        float stepSize = settings.StepSize, inverseSqrtBc2 = settings.InverseSqrtBiasCorrection2;
        for (int start = 0; start < parameters.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, parameters.Length - start);
            var g = gradients.Slice(start, n);
            Update(parameters.Slice(start, n), g, firstMoment.Slice(start, n), secondMoment.Slice(start, n),
                settings.Beta1, settings.Beta2, settings.Epsilon, settings.L2, stepSize, inverseSqrtBc2);
            g.Clear();
        }
    }

    /// <summary>Scalar reference of the row-sparse variant: only rows <paramref name="rows"/> of <c>[*, dim]</c> change.</summary>
    public static void RowsReference(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        int dim, ReadOnlySpan<int> rows, in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        ValidateRows(parameters.Length, dim, rows);
        foreach (int row in rows)
        {
            var slice = new Range(row * dim, row * dim + dim);
            Reference(parameters[slice], gradients[slice], firstMoment[slice], secondMoment[slice], settings);
        }
    }

    /// <summary>SIMD row-sparse variant.</summary>
    public static void RowsSimd(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        int dim, ReadOnlySpan<int> rows, in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        ValidateRows(parameters.Length, dim, rows);
        float stepSize = settings.StepSize, inverseSqrtBc2 = settings.InverseSqrtBiasCorrection2;
        foreach (int row in rows)
        {
            int start = row * dim;
            Update(parameters.Slice(start, dim), gradients.Slice(start, dim), firstMoment.Slice(start, dim), secondMoment.Slice(start, dim),
                settings.Beta1, settings.Beta2, settings.Epsilon, settings.L2, stepSize, inverseSqrtBc2);
        }
    }

    /// <summary>
    /// <see cref="Simd"/> for elements whose gradient is zero (embedding rows no example of the batch touched), without
    /// reading a gradient: the same operations on a zero, so the same bits as <see cref="Simd"/> over a cleared
    /// gradient, for 24 instead of 28 bytes per element.
    /// </summary>
    internal static void SimdZeroGradient(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, in AdamSettings settings)
    {
        Check.SameLength(parameters.Length, firstMoment.Length, nameof(firstMoment));
        Check.SameLength(parameters.Length, secondMoment.Length, nameof(secondMoment));
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Step, 1, nameof(settings));
        Update<ZeroGradient>(parameters, default, firstMoment, secondMoment, settings.Beta1, settings.Beta2, settings.Epsilon, settings.L2,
            settings.StepSize, settings.InverseSqrtBiasCorrection2);
    }

    /// <summary>Where <see cref="Update{TGradient}"/> reads the gradient from; a struct, so each use compiles to its own loop.</summary>
    private interface IGradientSource
    {
        static abstract Vector<float> Load(ref float gradients, nuint index);

        static abstract Vector256<float> Load256(ref float gradients, nuint index);

        static abstract float Get(ReadOnlySpan<float> gradients, int index);
    }

    private readonly struct StoredGradient : IGradientSource
    {
        public static Vector<float> Load(ref float gradients, nuint index) => Vector.LoadUnsafe(ref gradients, index);

        public static Vector256<float> Load256(ref float gradients, nuint index) => Vector256.LoadUnsafe(ref gradients, index);

        public static float Get(ReadOnlySpan<float> gradients, int index) => gradients[index];
    }

    private readonly struct ZeroGradient : IGradientSource
    {
        public static Vector<float> Load(ref float gradients, nuint index) => Vector<float>.Zero;

        public static Vector256<float> Load256(ref float gradients, nuint index) => Vector256<float>.Zero;

        public static float Get(ReadOnlySpan<float> gradients, int index) => 0f;
    }

    private static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float beta1, float beta2, float epsilon, float l2, float stepSize, float inverseSqrtBc2) =>
        Update<StoredGradient>(p, g, m, v, beta1, beta2, epsilon, l2, stepSize, inverseSqrtBc2);

    private static void Update<TGradient>(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float beta1, float beta2, float epsilon, float l2, float stepSize, float inverseSqrtBc2)
        where TGradient : struct, IGradientSource
    {
        ref float pS = ref MemoryMarshal.GetReference(p);
        ref float gS = ref MemoryMarshal.GetReference(g);
        ref float mS = ref MemoryMarshal.GetReference(m);
        ref float vS = ref MemoryMarshal.GetReference(v);
        int n = p.Length, width = Vector<float>.Count, i = 0;
        var b1 = new Vector<float>(beta1);
        var b2 = new Vector<float>(beta2);
        var c1 = new Vector<float>(1 - beta1);
        var c2 = new Vector<float>(1 - beta2);
        var eps = new Vector<float>(epsilon);
        var l2V = new Vector<float>(l2);
        var step = new Vector<float>(stepSize);
        var invBc2 = new Vector<float>(inverseSqrtBc2);
        for (; i <= n - width; i += width)
        {
            var pv = Vector.LoadUnsafe(ref pS, (nuint)i);
            var gv = Vector.FusedMultiplyAdd(l2V, pv, TGradient.Load(ref gS, (nuint)i));
            var mv = Vector.FusedMultiplyAdd(b1, Vector.LoadUnsafe(ref mS, (nuint)i), c1 * gv);
            var vv = Vector.FusedMultiplyAdd(b2, Vector.LoadUnsafe(ref vS, (nuint)i), c2 * gv * gv);
            mv.StoreUnsafe(ref mS, (nuint)i);
            vv.StoreUnsafe(ref vS, (nuint)i);
            (pv - step * mv / Vector.FusedMultiplyAdd(Vector.SquareRoot(vv), invBc2, eps)).StoreUnsafe(ref pS, (nuint)i);
        }

        // Rows narrower than Vector<float> (NeuMF-8's 8-float GMF rows against AVX-512's 16 lanes) would otherwise run
        // entirely in the scalar tail, one square root and one division at a time: take 8 lanes at once where the
        // hardware can.
        if (Vector<float>.Count > 8 && Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var pv = Vector256.LoadUnsafe(ref pS, (nuint)i);
                var gv = Vector256.FusedMultiplyAdd(Vector256.Create(l2), pv, TGradient.Load256(ref gS, (nuint)i));
                var mv = Vector256.FusedMultiplyAdd(Vector256.Create(beta1), Vector256.LoadUnsafe(ref mS, (nuint)i), Vector256.Create(1 - beta1) * gv);
                var vv = Vector256.FusedMultiplyAdd(Vector256.Create(beta2), Vector256.LoadUnsafe(ref vS, (nuint)i), Vector256.Create(1 - beta2) * gv * gv);
                mv.StoreUnsafe(ref mS, (nuint)i);
                vv.StoreUnsafe(ref vS, (nuint)i);
                (pv - Vector256.Create(stepSize) * mv / Vector256.FusedMultiplyAdd(Vector256.Sqrt(vv), Vector256.Create(inverseSqrtBc2), Vector256.Create(epsilon)))
                    .StoreUnsafe(ref pS, (nuint)i);
            }
        }

        // The narrower vector and the tail repeat a lane's operations exactly (same FMAs, same order), so an element's
        // result does not depend on whether it falls in a vector or in the tail: updating a buffer in pieces (a table
        // row by row, or slice by slice) gives the same bits as one call over the whole of it.
        float c1s = 1 - beta1, c2s = 1 - beta2;
        for (; i < n; i++)
        {
            float pi = p[i];
            float gi = MathF.FusedMultiplyAdd(l2, pi, TGradient.Get(g, i));
            float mi = MathF.FusedMultiplyAdd(beta1, m[i], c1s * gi);
            float vi = MathF.FusedMultiplyAdd(beta2, v[i], c2s * gi * gi);
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - stepSize * mi / MathF.FusedMultiplyAdd(MathF.Sqrt(vi), inverseSqrtBc2, epsilon);
        }
    }

    private static void Validate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> firstMoment,
        ReadOnlySpan<float> secondMoment, in AdamSettings settings)
    {
        Check.SameLength(parameters.Length, gradients.Length, nameof(gradients));
        Check.SameLength(parameters.Length, firstMoment.Length, nameof(firstMoment));
        Check.SameLength(parameters.Length, secondMoment.Length, nameof(secondMoment));
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Step, 1, nameof(settings));
    }

    internal static void ValidateRows(int length, int dim, ReadOnlySpan<int> rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        int rowCount = length / dim;
        foreach (int row in rows)
        {
            if ((uint)row >= (uint)rowCount)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), $"Row {row} is outside the matrix's {rowCount} rows.");
            }
        }
    }
}

/// <summary>Plain SGD with optional L2: <c>p -= lr·(g + l2·p)</c>.</summary>
public static class SgdKernel
{
    /// <summary>Scalar reference, in double.</summary>
    public static void Reference(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float l2)
    {
        Check.SameLength(parameters.Length, gradients.Length, nameof(gradients));
        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i] = (float)(parameters[i] - (double)learningRate * (gradients[i] + (double)l2 * parameters[i]));
        }
    }

    /// <summary>SIMD version.</summary>
    public static void Simd(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float l2)
    {
        Check.SameLength(parameters.Length, gradients.Length, nameof(gradients));
        ref float pS = ref MemoryMarshal.GetReference(parameters);
        ref float gS = ref MemoryMarshal.GetReference(gradients);
        int n = parameters.Length, width = Vector<float>.Count, i = 0;
        var decay = new Vector<float>(1 - learningRate * l2);
        var lr = new Vector<float>(-learningRate);
        for (; i <= n - width; i += width)
        {
            Vector.FusedMultiplyAdd(lr, Vector.LoadUnsafe(ref gS, (nuint)i), decay * Vector.LoadUnsafe(ref pS, (nuint)i)).StoreUnsafe(ref pS, (nuint)i);
        }

        // As a lane computes it (see the Adam tail), so results do not depend on where a buffer is cut.
        float decayS = 1 - learningRate * l2;
        for (; i < n; i++)
        {
            parameters[i] = MathF.FusedMultiplyAdd(-learningRate, gradients[i], decayS * parameters[i]);
        }
    }
}
