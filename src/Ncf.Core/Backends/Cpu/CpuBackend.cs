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
/// <remarks>
/// Models on several threads may share one backend: its multi-threaded kernels take turns (each uses every core
/// already), so each model computes exactly what it would alone. One model is not for concurrent use (its scratch
/// buffers are its own); <see cref="NcfRecommender"/> serialises calls on its model. After <see cref="Dispose"/>,
/// multi-threaded work throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class CpuBackend : IBackend, IFusedOptimizerKernels, IDeferredAdamKernels
{
    /// <summary>A backend running the given kernel tier on up to <paramref name="threads"/> threads (0: all cores).</summary>
    public CpuBackend(CpuKernelTier tier = CpuKernelTier.Simd, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        Tier = tier;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        _parallel = tier == CpuKernelTier.Simd ? new ParallelKernels(Threads) : null;
    }

    private readonly ParallelKernels? _parallel;

    /// <summary>Worker threads the kernels may use. Results do not depend on it.</summary>
    public int Threads { get; }

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
    public void Dispose() => _parallel?.Dispose();

    /// <summary>Runs <paramref name="job"/> in up to <paramref name="parts"/> parts on the worker threads (all on the caller for the reference tier).</summary>
    internal void RunJob(IParallelJob job, int parts)
    {
        if (_parallel is null)
        {
            job.Execute(0, 1);
        }
        else
        {
            _parallel.Run(job, parts);
        }
    }

    private static (T[] Array, int Offset) Raw<T>(View<T> view) where T : unmanaged =>
        view.IsEmpty ? (System.Array.Empty<T>(), 0) : (((CpuBuffer<T>)view.Buffer).Array, view.Offset);

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
    public void Fill(View<float> destination, float value)
    {
        var span = Span(destination);
        if (_parallel is null)
        {
            span.Fill(value);
            return;
        }

        var (array, offset) = Raw(destination);
        _parallel.Fill(array, offset, span.Length, value);
    }

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
        if (_parallel is not null)
        {
            var table = Span(tableGradient);
            GatherKernel.Validate(table, dim, Span(ids), Span(rowGradients));
            var (rows, rowOffset) = Raw(rowGradients);
            var (idArray, idOffset) = Raw(ids);
            var (tableArray, tableOffset) = Raw(tableGradient);
            _parallel.ScatterAdd(rows, rowOffset, idArray, idOffset, ids.Length, dim, tableArray, tableOffset, table.Length, simd: true);
        }
        else
        {
            ScatterAddKernel.Reference(Span(rowGradients), Span(ids), dim, Span(tableGradient));
        }
    }

    /// <inheritdoc />
    public void DenseForward(View<float> x, View<float> weight, View<float> bias, View<float> y, int rows, int inDim, int outDim)
    {
        if (_parallel is not null)
        {
            DenseKernel.ForwardSimd(Span(x), Span(weight), Span(bias), Span(y), 0, inDim, outDim); // validates shapes
            Check(x, rows * inDim, nameof(x));
            Check(y, rows * outDim, nameof(y));
            var (xa, xo) = Raw(x);
            var (wa, wo) = Raw(weight);
            var (ba, bo) = Raw(bias);
            var (ya, yo) = Raw(y);
            _parallel.DenseForward(xa, xo, wa, wo, ba, bo, ya, yo, rows, inDim, outDim, simd: true);
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
        if (_parallel is not null)
        {
            DenseKernel.BackwardSimd(Span(x), Span(weight), Span(dy), Span(dx), Span(dWeight), Span(dBias), 0, inDim, outDim); // validates shapes
            Check(x, rows * inDim, nameof(x));
            Check(dy, rows * outDim, nameof(dy));
            if (!dx.IsEmpty)
            {
                Check(dx, rows * inDim, nameof(dx));
            }

            var (xa, xo) = Raw(x);
            var (wa, wo) = Raw(weight);
            var (dya, dyo) = Raw(dy);
            var (dxa, dxo) = Raw(dx);
            var (dwa, dwo) = Raw(dWeight);
            var (dba, dbo) = Raw(dBias);
            _parallel.DenseBackward(xa, xo, wa, wo, dya, dyo, dx.IsEmpty ? null : dxa, dxo, dwa, dwo, dba, dbo, rows, inDim, outDim, simd: true);
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
    public void AdamStepClearingGradients(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings)
    {
        if (_parallel is null)
        {
            AdamStep(parameters, gradients, firstMoment, secondMoment, settings);
            Fill(gradients, 0f);
            return;
        }

        AdamParallel(parameters, gradients, firstMoment, secondMoment, settings, clearGradients: true);
    }

    /// <inheritdoc />
    public void AdamStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings)
    {
        if (_parallel is not null)
        {
            AdamParallel(parameters, gradients, firstMoment, secondMoment, settings, clearGradients: false);
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
    public void AdamDeferredRowsStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        int dim, View<int> rows, Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        if (Simd)
        {
            AdamKernel.DeferredRowsSimd(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), dim, Span(rows), lastStep,
                settings, catchUp);
        }
        else
        {
            AdamKernel.DeferredRowsReference(Span(parameters), Span(gradients), Span(firstMoment), Span(secondMoment), dim, Span(rows), lastStep,
                settings);
        }
    }

    /// <inheritdoc />
    public void AdamCatchUpRows(View<float> parameters, View<float> firstMoment, View<float> secondMoment, int dim, View<int> rows,
        Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        if (Simd)
        {
            AdamKernel.CatchUpRowsSimd(Span(parameters), Span(firstMoment), Span(secondMoment), dim, Span(rows), lastStep, settings, catchUp);
        }
        else
        {
            AdamKernel.CatchUpRowsReference(Span(parameters), Span(firstMoment), Span(secondMoment), dim, Span(rows), lastStep, settings);
        }
    }

    /// <inheritdoc />
    public void AdamCatchUpTable(View<float> parameters, View<float> firstMoment, View<float> secondMoment, int dim, Span<int> lastStep,
        in AdamSettings settings, AdamCatchUp catchUp)
    {
        if (Simd)
        {
            AdamKernel.CatchUpSimd(Span(parameters), Span(firstMoment), Span(secondMoment), dim, lastStep, settings, catchUp);
        }
        else
        {
            AdamKernel.CatchUpReference(Span(parameters), Span(firstMoment), Span(secondMoment), dim, lastStep, settings);
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

    private void AdamParallel(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings, bool clearGradients)
    {
        var p = Span(parameters);
        AdamKernel.Simd(p[..0], Span(gradients)[..0], Span(firstMoment)[..0], Span(secondMoment)[..0], settings); // validates settings
        if (gradients.Length != p.Length || firstMoment.Length != p.Length || secondMoment.Length != p.Length)
        {
            throw new ArgumentException("Adam needs parameters, gradients and both moments of equal length.");
        }

        var (pa, po) = Raw(parameters);
        var (ga, go) = Raw(gradients);
        var (ma, mo) = Raw(firstMoment);
        var (va, vo) = Raw(secondMoment);
        _parallel!.Adam(pa, po, ga, go, ma, mo, va, vo, p.Length, settings, simd: true, clearGradients);
    }

    private static void Check(View<float> view, int required, string name)
    {
        if (view.Length < required)
        {
            throw new ArgumentException($"{name} has {view.Length} elements; at least {required} are needed.", name);
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
