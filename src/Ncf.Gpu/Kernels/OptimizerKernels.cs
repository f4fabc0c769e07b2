using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Optimizer steps over flat parameter buffers, one thread per element: Adam (dense, and row-sparse over
/// <c>[*, dim]</c> matrices for embedding tables) and plain SGD. The formulas are those of
/// <see cref="Ncf.Backends.AdamSettings"/>.
/// </summary>
internal sealed class OptimizerKernels(Accelerator accelerator)
{
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamConstants>? _adam;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, ArrayView<int>, AdamConstants>? _adamRows;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, float, float>? _sgd;

    public void Adam(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, in Ncf.Backends.AdamSettings settings) =>
        (_adam ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamConstants>(AdamKernel))
        ((int)p.Length, p, g, m, v, AdamConstants.From(settings));

    public void AdamRows(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, int dim, ArrayView<int> rows,
        in Ncf.Backends.AdamSettings settings) =>
        (_adamRows ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, ArrayView<int>, AdamConstants>(AdamRowsKernel))
        ((int)rows.Length * dim, p, g, m, v, dim, rows, AdamConstants.From(settings));

    public void Sgd(ArrayView<float> p, ArrayView<float> g, float learningRate, float l2) =>
        (_sgd ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float, float>(SgdKernel))
        ((int)p.Length, p, g, learningRate, l2);

    /// <summary>Adam's per-step constants, bias corrections precomputed in double on the host.</summary>
    internal readonly record struct AdamConstants(float Beta1, float Beta2, float Epsilon, float L2, float StepSize, float InverseSqrtBiasCorrection2)
    {
        public static AdamConstants From(in Ncf.Backends.AdamSettings s) =>
            new(s.Beta1, s.Beta2, s.Epsilon, s.L2, s.StepSize, s.InverseSqrtBiasCorrection2);
    }

    // p, g, m, v are [n]: g += l2·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p -= step·m / (sqrt(v)·invBc2 + ε).
    private static void AdamKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamConstants c) =>
        Update(p, g, m, v, i, c);

    // p, g, m, v are [*, dim]; thread i updates element d of row rows[n] (rows distinct; out-of-range rows skipped).
    private static void AdamRowsKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, int dim,
        ArrayView<int> rows, AdamConstants c)
    {
        int n = i / dim;
        int d = i - n * dim;
        int row = rows[n];
        if ((uint)row < (uint)(p.IntLength / dim))
        {
            Update(p, g, m, v, row * dim + d, c);
        }
    }

    private static void Update(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, int index, AdamConstants c)
    {
        float pi = p[index];
        float gi = g[index] + c.L2 * pi;
        float mi = c.Beta1 * m[index] + (1f - c.Beta1) * gi;
        float vi = c.Beta2 * v[index] + (1f - c.Beta2) * gi * gi;
        m[index] = mi;
        v[index] = vi;
        p[index] = pi - c.StepSize * mi / (XMath.Sqrt(vi) * c.InverseSqrtBiasCorrection2 + c.Epsilon);
    }

    // p -= lr·(g + l2·p).
    private static void SgdKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, float learningRate, float l2)
    {
        float pi = p[i];
        p[i] = pi - learningRate * (g[i] + l2 * pi);
    }
}
