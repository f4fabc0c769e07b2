using Ncf.Kernels;

namespace Ncf.Backends.Cpu;

/// <summary>Which tier of the CPU kernels runs.</summary>
public enum CpuKernelTier
{
    /// <summary><see cref="System.Numerics.Vector{T}"/> SIMD kernels (the default).</summary>
    Simd,

    /// <summary>The plain scalar reference kernels: slow, the test oracle.</summary>
    Reference,
}

/// <summary>
/// The CPU backend: buffers are managed arrays, kernels are the SIMD (or, on request, scalar reference)
/// kernels of <see cref="Ncf.Kernels"/>. Results depend only on the inputs, never on timing.
/// </summary>
public sealed class CpuBackend : IBackend
{
    /// <summary>A backend running the given kernel tier.</summary>
    public CpuBackend(CpuKernelTier tier = CpuKernelTier.Simd)
    {
        Tier = tier;
    }

    /// <summary>The kernel tier in use.</summary>
    public CpuKernelTier Tier { get; }

    /// <inheritdoc />
    public string Name => Tier == CpuKernelTier.Simd ? "cpu" : "cpu-reference";

    private bool Simd => Tier == CpuKernelTier.Simd;

    /// <inheritdoc />
    public DeviceBuffer<float> AllocateFloat(int length) => new CpuBuffer<float>(this, length);

    /// <inheritdoc />
    public DeviceBuffer<int> AllocateInt(int length) => new CpuBuffer<int>(this, length);

    /// <inheritdoc />
    public void Synchronize()
    {
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>The host span behind a view of this backend's buffer.</summary>
    public Span<T> Span<T>(View<T> view) where T : unmanaged
    {
        if (view.IsEmpty)
        {
            return default;
        }

        if (view.Buffer is not CpuBuffer<T> buffer || !ReferenceEquals(buffer.Backend, this))
        {
            throw new ArgumentException("The view belongs to another backend.", nameof(view));
        }

        return buffer.Array.AsSpan(view.Offset, view.Length);
    }

    /// <inheritdoc />
    public void Fill(View<float> destination, float value) => Span(destination).Fill(value);

    /// <inheritdoc />
    public void ZeroRows(View<float> matrix, int dim, View<int> rows)
    {
        var m = Span(matrix);
        var ids = Span(rows);
        AdamKernel.ValidateRows(m.Length, dim, ids);
        foreach (int row in ids)
        {
            m.Slice(row * dim, dim).Clear();
        }
    }

    /// <inheritdoc />
    public void Gather(View<float> table, int dim, View<int> ids, View<float> output)
    {
        if (Simd)
        {
            GatherKernel.Simd(Span(table), dim, Span(ids), Span(output));
        }
        else
        {
            GatherKernel.Reference(Span(table), dim, Span(ids), Span(output));
        }
    }

    /// <inheritdoc />
    public void ScatterAdd(View<float> rowGradients, View<int> ids, int dim, View<float> tableGradient)
    {
        if (Simd)
        {
            ScatterAddKernel.Simd(Span(rowGradients), Span(ids), dim, Span(tableGradient));
        }
        else
        {
            ScatterAddKernel.Reference(Span(rowGradients), Span(ids), dim, Span(tableGradient));
        }
    }

    /// <inheritdoc />
    public void DenseForward(View<float> x, View<float> weight, View<float> bias, View<float> y, int rows, int inDim, int outDim)
    {
        if (Simd)
        {
            // v2, register-blocked: 4-7x v1 at the NeuMF tower shapes (benchmarks/Ncf.Benchmarks DenseBenchmarks).
            DenseKernel.ForwardBlocked(Span(x), Span(weight), Span(bias), Span(y), rows, inDim, outDim);
        }
        else
        {
            DenseKernel.ForwardReference(Span(x), Span(weight), Span(bias), Span(y), rows, inDim, outDim);
        }
    }

    /// <inheritdoc />
    public void DenseBackward(View<float> x, View<float> weight, View<float> dy, View<float> dx, View<float> dWeight, View<float> dBias,
        int rows, int inDim, int outDim)
    {
        if (Simd)
        {
            // v2, register-blocked (see DenseForward).
            DenseKernel.BackwardBlocked(Span(x), Span(weight), Span(dy), Span(dx), Span(dWeight), Span(dBias), rows, inDim, outDim);
        }
        else
        {
            DenseKernel.BackwardReference(Span(x), Span(weight), Span(dy), Span(dx), Span(dWeight), Span(dBias), rows, inDim, outDim);
        }
    }

    /// <inheritdoc />
    public void ReluForward(View<float> x, View<float> y)
    {
        if (Simd)
        {
            ReluKernel.ForwardSimd(Span(x), Span(y));
        }
        else
        {
            ReluKernel.ForwardReference(Span(x), Span(y));
        }
    }

    /// <inheritdoc />
    public void ReluBackward(View<float> y, View<float> dy, View<float> dx)
    {
        if (Simd)
        {
            ReluKernel.BackwardSimd(Span(y), Span(dy), Span(dx));
        }
        else
        {
            ReluKernel.BackwardReference(Span(y), Span(dy), Span(dx));
        }
    }

    /// <inheritdoc />
    public void Sigmoid(View<float> x, View<float> y)
    {
        if (Simd)
        {
            SigmoidKernel.ForwardSimd(Span(x), Span(y));
        }
        else
        {
            SigmoidKernel.ForwardReference(Span(x), Span(y));
        }
    }

    /// <inheritdoc />
    public void SigmoidBackward(View<float> y, View<float> dy, View<float> dx)
    {
        if (Simd)
        {
            SigmoidKernel.BackwardSimd(Span(y), Span(dy), Span(dx));
        }
        else
        {
            SigmoidKernel.BackwardReference(Span(y), Span(dy), Span(dx));
        }
    }

    /// <inheritdoc />
    public void Multiply(View<float> a, View<float> b, View<float> y)
    {
        if (Simd)
        {
            MultiplyKernel.ForwardSimd(Span(a), Span(b), Span(y));
        }
        else
        {
            MultiplyKernel.ForwardReference(Span(a), Span(b), Span(y));
        }
    }

    /// <inheritdoc />
    public void MultiplyBackward(View<float> a, View<float> b, View<float> dy, View<float> da, View<float> db)
    {
        if (Simd)
        {
            MultiplyKernel.BackwardSimd(Span(a), Span(b), Span(dy), Span(da), Span(db));
        }
        else
        {
            MultiplyKernel.BackwardReference(Span(a), Span(b), Span(dy), Span(da), Span(db));
        }
    }

    /// <inheritdoc />
    public void CopyColumns(View<float> source, int sourceStride, View<float> destination, int destinationStride, int rows, int columns)
    {
        if (Simd)
        {
            CopyColumnsKernel.Simd(Span(source), sourceStride, Span(destination), destinationStride, rows, columns);
        }
        else
        {
            CopyColumnsKernel.Reference(Span(source), sourceStride, Span(destination), destinationStride, rows, columns);
        }
    }

    /// <inheritdoc />
    public void BinaryCrossEntropy(View<float> probabilities, View<float> targets, View<float> dProbabilities, float scale,
        View<float> lossAccumulator)
    {
        double loss = Simd
            ? BinaryCrossEntropyKernel.Simd(Span(probabilities), Span(targets), Span(dProbabilities), scale)
            : BinaryCrossEntropyKernel.Reference(Span(probabilities), Span(targets), Span(dProbabilities), scale);
        KahanAdd(Span(lossAccumulator), loss);
    }

    /// <inheritdoc />
    public void SigmoidBinaryCrossEntropy(View<float> logits, View<float> targets, View<float> dLogits, float scale,
        View<float> lossAccumulator)
    {
        double loss = Simd
            ? SigmoidBinaryCrossEntropyKernel.Simd(Span(logits), Span(targets), Span(dLogits), scale)
            : SigmoidBinaryCrossEntropyKernel.Reference(Span(logits), Span(targets), Span(dLogits), scale);
        KahanAdd(Span(lossAccumulator), loss);
    }

    /// <inheritdoc />
    public void AdamStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings)
    {
        if (Simd)
        {
            AdamKernel.Simd(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), settings);
        }
        else
        {
            AdamKernel.Reference(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), settings);
        }
    }

    /// <inheritdoc />
    public void AdamRowsStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        int dim, View<int> rows, in AdamSettings settings)
    {
        if (Simd)
        {
            AdamKernel.RowsSimd(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), dim, Span(rows), settings);
        }
        else
        {
            AdamKernel.RowsReference(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), dim, Span(rows), settings);
        }
    }

    /// <inheritdoc />
    public void SgdStep(View<float> parameters, View<float> gradients, float learningRate, float l2)
    {
        if (Simd)
        {
            SgdKernel.Simd(Span(parameters), Span(gradients), learningRate, l2);
        }
        else
        {
            SgdKernel.Reference(Span(parameters), Span(gradients), learningRate, l2);
        }
    }

    /// <summary>Adds <paramref name="value"/> to a (sum, compensation) pair with Kahan's summation.</summary>
    internal static void KahanAdd(Span<float> accumulator, double value)
    {
        if (accumulator.Length < 2)
        {
            throw new ArgumentException("The loss accumulator needs 2 floats (sum, compensation).", nameof(accumulator));
        }

        double y = value - accumulator[1];
        float sum = accumulator[0];
        float t = (float)(sum + y);
        accumulator[1] = (float)((t - (double)sum) - y);
        accumulator[0] = t;
    }
}
