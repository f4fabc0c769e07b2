using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Ncf.Backends;
using Ncf.Data;
using Ncf.Gpu.Kernels;
using Ncf.Training;

namespace Ncf.Gpu;

/// <summary>
/// <see cref="IBackend"/> on an ILGPU accelerator: CUDA, OpenCL (2.0+, generic address space) or ILGPU's CPU
/// accelerator. Kernels are compiled on first use and reused; every launch and copy goes through one lock (ILGPU's
/// OpenCL backend sets kernel arguments without one) onto the accelerator's default stream, so calls run in order.
/// </summary>
/// <remarks>
/// Semantics are those of <see cref="Ncf.Backends.Cpu.CpuBackend"/>: activation gradients are overwritten,
/// parameter gradients accumulate. Differences: sums run in float (the reference sums in double), and ids and
/// rows that live on the device are not validated on the host (that would cost a round trip per batch): kernels
/// skip out-of-range ids. Training epochs are built on the device (<see cref="IEpochSamplerFactory"/>, see
/// <see cref="DeviceEpochSampler"/>), so <see cref="NcfTrainer"/> copies no examples per batch.
/// </remarks>
public sealed class IlgpuBackend : IBackend, Ncf.Evaluation.ISampledRankingEvaluator, IEpochSamplerFactory
{
    /// <summary>
    /// The CPU accelerator's simulated device: one multiprocessor of 16 warps of 16 threads, i.e. 256 threads per
    /// group, the most any kernel here uses (16×16 GEMM tiles, 256-thread sort and reduction groups). ILGPU's
    /// default CPU device allows only 16 threads per group; CPUDevice.Nvidia simulates 1024 threads, each a .NET
    /// thread, which only slows the simulator down.
    /// </summary>
    private static readonly CPUDevice CpuDevice = new(numThreadsPerWarp: 16, numWarpsPerMultiprocessor: 16, numMultiprocessors: 1);

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly MemoryKernels _memory;
    private readonly ActivationKernels _activations;
    private readonly EmbeddingKernels _embeddings;
    private readonly DenseKernels _dense;
    private readonly LossKernels _losses;
    private readonly OptimizerKernels _optimizers;
    private readonly ScoringKernels _scoring;
    private MemoryBuffer1D<long, Stride1D.Dense>? _sortKeys;
    private MemoryBuffer1D<float, Stride1D.Dense>? _lossScratch;
    private MemoryBuffer1D<float, Stride1D.Dense>? _denseScratch;
    private bool _disposed;

    private IlgpuBackend(Context context, Accelerator accelerator, GpuDeviceKind kind)
    {
        _context = context;
        _accelerator = accelerator;
        Kind = kind;
        Name = KindName(kind);
        _memory = new MemoryKernels(accelerator);
        _activations = new ActivationKernels(accelerator);
        _embeddings = new EmbeddingKernels(accelerator);
        _dense = new DenseKernels(accelerator);
        _losses = new LossKernels(accelerator);
        _optimizers = new OptimizerKernels(accelerator);
        _scoring = new ScoringKernels(accelerator);
        ScatterAddMethod = ScatterAddMethod.Auto;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The accelerator kind in use (never <see cref="GpuDeviceKind.Auto"/>).</summary>
    public GpuDeviceKind Kind { get; }

    /// <summary>The device's name as the driver reports it.</summary>
    public string DeviceName => _accelerator.Name;

    /// <summary>The ILGPU accelerator, for kernel families outside this class (launch them under <see cref="Locked"/>).</summary>
    public Accelerator Accelerator => _accelerator;

    /// <summary>The lock every launch and copy on this accelerator takes.</summary>
    public object LaunchLock { get; } = new();

    /// <summary>
    /// How <see cref="ScatterAdd(View{float}, View{int}, int, View{float})"/> works; <see cref="ScatterAddMethod.Auto"/>
    /// (the default) picks atomics on CUDA and on the CPU accelerator, and the deterministic sorted method on OpenCL.
    /// </summary>
    /// <remarks>
    /// Atomic float adds land in whatever order the hardware runs them, so training with them repeats a run's figures
    /// only to the last bits, which drift apart over epochs; <see cref="ScatterAddMethod.Sorted"/> gives the same bits
    /// every run (the CPU reference's) at the cost measured in docs/opencl.md. Every model on this backend uses the
    /// setting: set it before sharing the backend.
    /// </remarks>
    public ScatterAddMethod ScatterAddMethod { get; set; }

    /// <summary>The method <see cref="ScatterAdd(View{float}, View{int}, int, View{float})"/> uses now, with <see cref="ScatterAddMethod.Auto"/> resolved.</summary>
    public ScatterAddMethod EffectiveScatterAddMethod => ScatterAddMethod != ScatterAddMethod.Auto
        ? ScatterAddMethod
        : Kind == GpuDeviceKind.OpenCL ? ScatterAddMethod.Sorted : ScatterAddMethod.Atomic;

    /// <summary>The short name of a kind: "cuda", "opencl", "ilgpu-cpu" (and "auto").</summary>
    public static string KindName(GpuDeviceKind kind) => kind switch
    {
        GpuDeviceKind.Cuda => "cuda",
        GpuDeviceKind.OpenCL => "opencl",
        GpuDeviceKind.IlgpuCpu => "ilgpu-cpu",
        _ => "auto",
    };

    /// <summary>Parses "auto", "cuda", "opencl" or "ilgpu-cpu" (case-insensitive; "cpu" also means ilgpu-cpu).</summary>
    /// <exception cref="NcfException">The name is none of these.</exception>
    public static GpuDeviceKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "auto" => GpuDeviceKind.Auto,
        "cuda" => GpuDeviceKind.Cuda,
        "opencl" or "cl" => GpuDeviceKind.OpenCL,
        "ilgpu-cpu" or "cpu" => GpuDeviceKind.IlgpuCpu,
        _ => throw new NcfException($"Unknown device kind '{name}'; expected auto, cuda, opencl or ilgpu-cpu."),
    };

    /// <summary>
    /// Every device ILGPU can use here: CUDA GPUs, OpenCL devices with generic address space support (ILGPU skips
    /// the others), and the CPU accelerator (always present). Used by <c>ncf devices</c>.
    /// </summary>
    public static IReadOnlyList<GpuDeviceInfo> ListDevices()
    {
        var result = new List<GpuDeviceInfo>();
        foreach (var kind in new[] { GpuDeviceKind.Cuda, GpuDeviceKind.OpenCL, GpuDeviceKind.IlgpuCpu })
        {
            try
            {
                using var context = CreateContext(kind);
                int index = 0;
                foreach (var device in DevicesOf(context, kind))
                {
                    // The CPU accelerator reports an unbounded size; its memory is the host's.
                    long memory = kind == GpuDeviceKind.IlgpuCpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : device.MemorySize;
                    result.Add(new GpuDeviceInfo(kind, index++, device.Name, memory));
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException
                                          or NotSupportedException or InvalidOperationException)
            {
                // A missing or broken driver means no device of this kind.
            }
        }

        return result;
    }

    /// <summary>True when at least one device of <paramref name="kind"/> is available.</summary>
    public static bool IsAvailable(GpuDeviceKind kind) =>
        kind == GpuDeviceKind.Auto || ListDevices().Any(d => d.Kind == kind);

    /// <summary>
    /// Opens device <paramref name="index"/> of <paramref name="kind"/>; <see cref="GpuDeviceKind.Auto"/> takes the
    /// first CUDA device, else the first OpenCL device, else the CPU accelerator.
    /// </summary>
    /// <exception cref="NcfException">No such device, with what is available instead.</exception>
    public static IlgpuBackend Create(GpuDeviceKind kind = GpuDeviceKind.Auto, int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (kind == GpuDeviceKind.Auto)
        {
            foreach (var candidate in new[] { GpuDeviceKind.Cuda, GpuDeviceKind.OpenCL, GpuDeviceKind.IlgpuCpu })
            {
                var backend = TryCreate(candidate, index);
                if (backend is not null)
                {
                    return backend;
                }
            }
        }
        else if (TryCreate(kind, index) is { } backend)
        {
            return backend;
        }

        var available = ListDevices();
        string list = available.Count == 0 ? "none" : string.Join("; ", available);
        string hint = kind == GpuDeviceKind.OpenCL
            ? " OpenCL needs libOpenCL.so (package ocl-icd-opencl-dev) and a 2.0+ device with generic address space support, e.g. PoCL 6 (tools/install-pocl.sh)."
            : kind == GpuDeviceKind.Cuda ? " CUDA needs an NVIDIA GPU and its driver (libcuda.so)." : "";
        throw new NcfException($"No {KindName(kind)} device {index} found. Available: {list}.{hint}");
    }

    private static IlgpuBackend? TryCreate(GpuDeviceKind kind, int index)
    {
        Context? context = null;
        try
        {
            context = CreateContext(kind);
            var devices = DevicesOf(context, kind);
            if (index >= devices.Count)
            {
                context.Dispose();
                return null;
            }

            var accelerator = devices[index].CreateAccelerator(context);
            return new IlgpuBackend(context, accelerator, kind);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException
                                      or NotSupportedException or InvalidOperationException)
        {
            context?.Dispose();
            return null;
        }
    }

    /// <summary>The devices of one kind in index order (a context can also hold ILGPU's implicit CPU device).</summary>
    private static List<Device> DevicesOf(Context context, GpuDeviceKind kind)
    {
        var type = kind switch
        {
            GpuDeviceKind.Cuda => AcceleratorType.Cuda,
            GpuDeviceKind.OpenCL => AcceleratorType.OpenCL,
            _ => AcceleratorType.CPU,
        };
        // OpenCL GPUs before OpenCL CPUs (PoCL): opencl:0 is the GPU where a machine has both, as the H100 host had.
        return context.Devices.Where(d => d.AcceleratorType == type)
            .OrderBy(d => d is CLDevice cl && (cl.DeviceType & CLDeviceType.CL_DEVICE_TYPE_GPU) != 0 ? 0 : 1)
            .ToList();
    }

    private static Context CreateContext(GpuDeviceKind kind) => Context.Create(builder =>
    {
        builder.EnableAlgorithms();
        _ = kind switch
        {
            GpuDeviceKind.Cuda => builder.Cuda(),
            GpuDeviceKind.OpenCL => builder.OpenCL(),
            _ => builder.CPU(CpuDevice),
        };
    });

    /// <inheritdoc />
    public DeviceBuffer<float> AllocateFloat(int length) => new IlgpuBuffer<float>(this, length);

    /// <inheritdoc />
    public DeviceBuffer<int> AllocateInt(int length) => new IlgpuBuffer<int>(this, length);

    /// <inheritdoc />
    public void Synchronize()
    {
        lock (LaunchLock)
        {
            ThrowIfDisposed();
            _accelerator.Synchronize();
        }
    }

    /// <summary>Runs <paramref name="launch"/> under <see cref="LaunchLock"/>.</summary>
    /// <exception cref="ObjectDisposedException">The backend was disposed (checked under the lock, so a
    /// <see cref="Dispose"/> on another thread cannot slip in between).</exception>
    public void Locked(Action launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        lock (LaunchLock)
        {
            ThrowIfDisposed();
            launch();
        }
    }

    /// <summary>
    /// Throws <see cref="ObjectDisposedException"/> once the backend is disposed. Disposing the accelerator frees every
    /// buffer it allocated, and a view of a freed ILGPU buffer fails an assertion that ends the process, so every
    /// entry point checks first.
    /// </summary>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>The ILGPU view behind a view of one of this backend's buffers.</summary>
    /// <exception cref="ArgumentException">The view belongs to another backend.</exception>
    /// <exception cref="ObjectDisposedException">The backend was disposed (<see cref="IlgpuBuffer{T}.View"/> checks).</exception>
    public ArrayView<T> GetView<T>(View<T> view) where T : unmanaged
    {
        if (view.Buffer is not IlgpuBuffer<T> buffer || !ReferenceEquals(buffer.Backend, this))
        {
            throw new ArgumentException("The view belongs to another backend.", nameof(view));
        }

        return buffer.View(view.Offset, view.Length);
    }

    /// <inheritdoc />
    public void Fill(View<float> destination, float value)
    {
        var d = GetView(destination);
        if (destination.Length > 0)
        {
            Locked(() => _memory.Fill(d, value));
        }
    }

    /// <inheritdoc />
    public void ZeroRows(View<float> matrix, int dim, View<int> rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        var m = GetView(matrix);
        var r = GetView(rows);
        if (rows.Length > 0 && matrix.Length >= dim)
        {
            Locked(() => _memory.ZeroRows(m, dim, r));
        }
    }

    /// <inheritdoc />
    public void Gather(View<float> table, int dim, View<int> ids, View<float> output)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        Ncf.Kernels.Check.AtLeast(ids.Length * dim, output.Length, nameof(output));
        var t = GetView(table);
        var i = GetView(ids);
        var o = GetView(output);
        if (ids.Length > 0)
        {
            Locked(() => _embeddings.Gather(t, dim, i, o));
        }
    }

    /// <inheritdoc />
    public void ScatterAdd(View<float> rowGradients, View<int> ids, int dim, View<float> tableGradient) =>
        ScatterAdd(rowGradients, ids, dim, tableGradient, EffectiveScatterAddMethod);

    /// <summary><see cref="ScatterAdd(View{float}, View{int}, int, View{float})"/> with an explicit method.</summary>
    public void ScatterAdd(View<float> rowGradients, View<int> ids, int dim, View<float> tableGradient, ScatterAddMethod method)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        Ncf.Kernels.Check.AtLeast(ids.Length * dim, rowGradients.Length, nameof(rowGradients));
        var g = GetView(rowGradients);
        var i = GetView(ids);
        var t = GetView(tableGradient);
        if (ids.Length == 0)
        {
            return;
        }

        if (method == ScatterAddMethod.Auto)
        {
            method = Kind == GpuDeviceKind.OpenCL ? ScatterAddMethod.Sorted : ScatterAddMethod.Atomic;
        }

        Locked(() =>
        {
            if (method == ScatterAddMethod.Atomic)
            {
                _embeddings.ScatterAddAtomic(g, i, dim, t);
            }
            else
            {
                int keyCount = EmbeddingKernels.SortedKeyCount(ids.Length);
                var keys = Scratch(ref _sortKeys, keyCount).SubView(0, keyCount);
                _embeddings.ScatterAddSorted(g, i, dim, t, keys);
            }
        });
    }

    /// <inheritdoc />
    public void DenseForward(View<float> x, View<float> weight, View<float> bias, View<float> y, int rows, int inDim, int outDim)
    {
        ValidateDense(x, weight, bias, y, rows, inDim, outDim);
        var xv = GetView(x);
        var w = GetView(weight);
        var b = GetView(bias);
        var yv = GetView(y);
        if (rows > 0)
        {
            Locked(() => _dense.Forward(xv, w, b, yv, rows, inDim, outDim));
        }
    }

    /// <inheritdoc />
    public void DenseBackward(View<float> x, View<float> weight, View<float> dy, View<float> dx, View<float> dWeight, View<float> dBias,
        int rows, int inDim, int outDim)
    {
        ValidateDense(x, weight, dBias, dy, rows, inDim, outDim);
        Ncf.Kernels.Check.SameLength(outDim * inDim, dWeight.Length, nameof(dWeight));
        if (!dx.IsEmpty)
        {
            Ncf.Kernels.Check.AtLeast(rows * inDim, dx.Length, nameof(dx));
        }

        var xv = GetView(x);
        var w = GetView(weight);
        var dyv = GetView(dy);
        ArrayView<float>? dxv = dx.IsEmpty ? null : GetView(dx);
        var dw = GetView(dWeight);
        var db = GetView(dBias);
        if (rows > 0)
        {
            int scratchLength = DenseKernels.BackwardScratchLength(rows, inDim, outDim);
            Locked(() =>
            {
                var scratch = scratchLength > 0 ? Scratch(ref _denseScratch, scratchLength) : default;
                _dense.Backward(xv, w, dyv, dxv, dw, db, rows, inDim, outDim, scratch);
            });
        }
    }

    /// <inheritdoc />
    public void ReluForward(View<float> x, View<float> y) => Unary(x, y, _activations.ReluForward);

    /// <inheritdoc />
    public void ReluBackward(View<float> y, View<float> dy, View<float> dx) => Binary(y, dy, dx, _activations.ReluBackward);

    /// <inheritdoc />
    public void Sigmoid(View<float> x, View<float> y) => Unary(x, y, _activations.SigmoidForward);

    /// <inheritdoc />
    public void SigmoidBackward(View<float> y, View<float> dy, View<float> dx) => Binary(y, dy, dx, _activations.SigmoidBackward);

    /// <inheritdoc />
    public void Multiply(View<float> a, View<float> b, View<float> y) => Binary(a, b, y, _activations.MultiplyForward);

    /// <inheritdoc />
    public void MultiplyBackward(View<float> a, View<float> b, View<float> dy, View<float> da, View<float> db)
    {
        Ncf.Kernels.Check.SameLength(a.Length, b.Length, nameof(b));
        Ncf.Kernels.Check.SameLength(a.Length, dy.Length, nameof(dy));
        Ncf.Kernels.Check.SameLength(a.Length, da.Length, nameof(da));
        Ncf.Kernels.Check.SameLength(a.Length, db.Length, nameof(db));
        var av = GetView(a);
        var bv = GetView(b);
        var dyv = GetView(dy);
        var dav = GetView(da);
        var dbv = GetView(db);
        if (a.Length > 0)
        {
            Locked(() => _activations.MultiplyBackward(av, bv, dyv, dav, dbv));
        }
    }

    /// <inheritdoc />
    public void CopyColumns(View<float> source, int sourceStride, View<float> destination, int destinationStride, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceStride, columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(destinationStride, columns);
        var s = GetView(source);
        var d = GetView(destination);
        if (rows == 0 || columns == 0)
        {
            return;
        }

        Ncf.Kernels.Check.AtLeast((rows - 1) * sourceStride + columns, source.Length, nameof(source));
        Ncf.Kernels.Check.AtLeast((rows - 1) * destinationStride + columns, destination.Length, nameof(destination));
        Locked(() => _memory.CopyColumns(s, sourceStride, d, destinationStride, rows, columns));
    }

    /// <inheritdoc />
    public void BinaryCrossEntropy(View<float> probabilities, View<float> targets, View<float> dProbabilities, float scale,
        View<float> lossAccumulator) =>
        Loss(probabilities, targets, dProbabilities, scale, lossAccumulator, _losses.BinaryCrossEntropy);

    /// <inheritdoc />
    public void SigmoidBinaryCrossEntropy(View<float> logits, View<float> targets, View<float> dLogits, float scale,
        View<float> lossAccumulator) =>
        Loss(logits, targets, dLogits, scale, lossAccumulator, _losses.SigmoidBinaryCrossEntropy);

    /// <inheritdoc />
    public void AdamStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings)
    {
        ValidateAdam(parameters, gradients, firstMoment, secondMoment, settings);
        var p = GetView(parameters);
        var g = GetView(gradients);
        var m = GetView(firstMoment);
        var v = GetView(secondMoment);
        var s = settings;
        if (parameters.Length > 0)
        {
            Locked(() => _optimizers.Adam(p, g, m, v, s));
        }
    }

    /// <inheritdoc />
    public void AdamRowsStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        int dim, View<int> rows, in AdamSettings settings)
    {
        ValidateAdam(parameters, gradients, firstMoment, secondMoment, settings);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        var p = GetView(parameters);
        var g = GetView(gradients);
        var m = GetView(firstMoment);
        var v = GetView(secondMoment);
        var r = GetView(rows);
        var s = settings;
        if (rows.Length > 0 && parameters.Length >= dim)
        {
            Locked(() => _optimizers.AdamRows(p, g, m, v, dim, r, s));
        }
    }

    /// <inheritdoc />
    public void SgdStep(View<float> parameters, View<float> gradients, float learningRate, float l2)
    {
        Ncf.Kernels.Check.SameLength(parameters.Length, gradients.Length, nameof(gradients));
        var p = GetView(parameters);
        var g = GetView(gradients);
        if (parameters.Length > 0)
        {
            Locked(() => _optimizers.Sgd(p, g, learningRate, l2));
        }
    }

    /// <summary>
    /// The <paramref name="k"/> best columns of each row of <paramref name="scores"/> <c>[rows, columns]</c>, by
    /// descending score (ties: lower column first; NaN never chosen): <paramref name="topColumns"/> and
    /// <paramref name="topScores"/> are <c>[rows, k]</c>; rows with fewer than k scores are padded with -1 / -∞.
    /// One thread per row: meant for full-ranking evaluation with a small k.
    /// </summary>
    public void TopK(View<float> scores, int rows, int columns, int k, View<int> topColumns, View<float> topScores)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        Ncf.Kernels.Check.AtLeast(rows * columns, scores.Length, nameof(scores));
        Ncf.Kernels.Check.AtLeast(rows * k, topColumns.Length, nameof(topColumns));
        Ncf.Kernels.Check.AtLeast(rows * k, topScores.Length, nameof(topScores));
        var s = GetView(scores);
        var c = GetView(topColumns);
        var t = GetView(topScores);
        if (rows > 0)
        {
            Locked(() => _scoring.TopK(s, rows, columns, k, c, t));
        }
    }

    /// <summary>
    /// For each row r of <paramref name="scores"/> <c>[rows, columns]</c>: <c>ranks[r]</c> = the number of other
    /// columns scoring at least as high as column <c>targetColumns[r]</c> (ties count against the target, the NCF
    /// paper's convention; 0 = best). HR@K is the share of ranks below K; NDCG@K averages
    /// <c>log 2 / log(rank + 2)</c> over those. -1 marks an out-of-range target.
    /// </summary>
    public void TargetRanks(View<float> scores, int rows, int columns, View<int> targetColumns, View<int> ranks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        Ncf.Kernels.Check.AtLeast(rows * columns, scores.Length, nameof(scores));
        Ncf.Kernels.Check.AtLeast(rows, targetColumns.Length, nameof(targetColumns));
        Ncf.Kernels.Check.AtLeast(rows, ranks.Length, nameof(ranks));
        var s = GetView(scores);
        var t = GetView(targetColumns);
        var r = GetView(ranks);
        if (rows > 0)
        {
            Locked(() => _scoring.TargetRanks(s, rows, columns, t, r));
        }
    }

    /// <inheritdoc />
    /// <returns>A <see cref="DeviceEpochSampler"/> on this accelerator.</returns>
    public IEpochSampler CreateEpochSampler(NcfDataset data, int negatives, ulong seed) => new DeviceEpochSampler(this, data, negatives, seed);

    /// <summary>
    /// Sampled leave-one-out HR@k and NDCG@k of <paramref name="model"/> (on this backend) over <paramref name="cases"/>,
    /// scored and ranked on the device (<see cref="DeviceEvaluator"/>; pessimistic ties, as the default
    /// <see cref="Ncf.Evaluation.Evaluator.SampledRanking"/>). Uploads the cases on every call: keep a
    /// <see cref="DeviceEvaluator"/> to evaluate repeatedly.
    /// </summary>
    public Ncf.Evaluation.RankingMetrics EvaluateSampled(Ncf.Models.NcfModel model, EvaluationSet cases, int k = 10)
    {
        using var evaluator = new DeviceEvaluator(this, cases);
        return evaluator.Evaluate(model, k);
    }

    /// <inheritdoc />
    /// <remarks>Evaluates on the device for pessimistic ties and a fixed number of negatives per case; otherwise null,
    /// and the caller falls back to the host evaluator.</remarks>
    public Ncf.Evaluation.RankingMetrics? TryEvaluateSampled(Ncf.Models.NcfModel model, EvaluationSet cases, int k, Ncf.Evaluation.TieBreaking ties)
    {
        if (ties != Ncf.Evaluation.TieBreaking.Pessimistic || cases.Count == 0 || !ReferenceEquals(model.Backend, this))
        {
            return null;
        }

        int perCase = cases.NegativeOffsets[1] - cases.NegativeOffsets[0];
        for (int c = 1; c < cases.Count; c++)
        {
            if (cases.NegativeOffsets[c + 1] - cases.NegativeOffsets[c] != perCase)
            {
                return null;
            }
        }

        return EvaluateSampled(model, cases, k);
    }

    /// <summary>Sorts 64-bit keys ascending on the device (length a power of two, at least 512); caller holds <see cref="LaunchLock"/>.</summary>
    internal void SortKeysLocked(ArrayView<long> keys) => _embeddings.SortKeys(keys);

    /// <summary>Releases scratch memory, then the accelerator, then the context. Buffers should be disposed first.</summary>
    public void Dispose()
    {
        lock (LaunchLock)
        {
            if (_disposed)
            {
                return;
            }

            // Marked first: whatever fails below (a sticky device error in Synchronize), no call may use it again.
            _disposed = true;
            try
            {
                _accelerator.Synchronize();
            }
            finally
            {
                _sortKeys?.Dispose();
                _lossScratch?.Dispose();
                _denseScratch?.Dispose();
                _accelerator.Dispose();
                _context.Dispose();
            }
        }
    }

    private void Unary(View<float> x, View<float> y, Action<ArrayView<float>, ArrayView<float>> kernel)
    {
        Ncf.Kernels.Check.SameLength(x.Length, y.Length, nameof(y));
        var xv = GetView(x);
        var yv = GetView(y);
        if (x.Length > 0)
        {
            Locked(() => kernel(xv, yv));
        }
    }

    private void Binary(View<float> a, View<float> b, View<float> y, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>> kernel)
    {
        Ncf.Kernels.Check.SameLength(a.Length, b.Length, nameof(b));
        Ncf.Kernels.Check.SameLength(a.Length, y.Length, nameof(y));
        var av = GetView(a);
        var bv = GetView(b);
        var yv = GetView(y);
        if (a.Length > 0)
        {
            Locked(() => kernel(av, bv, yv));
        }
    }

    private delegate void LossKernel(ArrayView<float> x, ArrayView<float> t, ArrayView<float> dx, float scale, ArrayView<float> losses,
        ArrayView<float> accumulator);

    private void Loss(View<float> x, View<float> targets, View<float> dx, float scale, View<float> accumulator, LossKernel kernel)
    {
        Ncf.Kernels.Check.SameLength(x.Length, targets.Length, nameof(targets));
        Ncf.Kernels.Check.SameLength(x.Length, dx.Length, "gradient");
        if (accumulator.Length < 2)
        {
            throw new ArgumentException("The loss accumulator needs 2 floats (sum, compensation).", nameof(accumulator));
        }

        var xv = GetView(x);
        var tv = GetView(targets);
        var dxv = GetView(dx);
        var acc = GetView(accumulator.Take(2));
        if (x.Length == 0)
        {
            return;
        }

        Locked(() =>
        {
            var losses = Scratch(ref _lossScratch, x.Length).SubView(0, x.Length);
            kernel(xv, tv, dxv, scale, losses, acc);
        });
    }

    /// <summary>A scratch buffer of at least <paramref name="length"/> elements; it only grows (by doubling).</summary>
    private ArrayView<T> Scratch<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, int length) where T : unmanaged
    {
        if (buffer is null || buffer.Length < length)
        {
            long size = Math.Max(length, Math.Max(4096, 2 * (buffer?.Length ?? 0)));
            if (buffer is not null)
            {
                // Earlier launches may still read the old buffer. Dropped before allocating: were the allocation to
                // fail (out of memory), a disposed buffer left here would be handed to the next call.
                _accelerator.Synchronize();
                buffer.Dispose();
                buffer = null;
            }

            buffer = _accelerator.Allocate1D<T>(size);
        }

        return buffer.View;
    }

    private static void ValidateDense(View<float> x, View<float> weight, View<float> bias, View<float> y, int rows, int inDim, int outDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inDim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outDim);
        Ncf.Kernels.Check.AtLeast(rows * inDim, x.Length, nameof(x));
        Ncf.Kernels.Check.SameLength(outDim * inDim, weight.Length, nameof(weight));
        Ncf.Kernels.Check.SameLength(outDim, bias.Length, nameof(bias));
        Ncf.Kernels.Check.AtLeast(rows * outDim, y.Length, nameof(y));
    }

    private static void ValidateAdam(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings)
    {
        Ncf.Kernels.Check.SameLength(parameters.Length, gradients.Length, nameof(gradients));
        Ncf.Kernels.Check.SameLength(parameters.Length, firstMoment.Length, nameof(firstMoment));
        Ncf.Kernels.Check.SameLength(parameters.Length, secondMoment.Length, nameof(secondMoment));
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Step, 1, nameof(settings));
    }
}

