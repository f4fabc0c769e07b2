using Ncf.Backends;
using Ncf.Kernels;
using Ncf.Tensors;

namespace Ncf.Training;

/// <summary>Which optimizer the trainer uses.</summary>
public enum OptimizerKind
{
    /// <summary>Adam over every parameter every step (the semantics of PyTorch and the paper's code).</summary>
    Adam,

    /// <summary>
    /// Adam whose embedding tables are updated only in the rows of the current batch ("lazy" Adam): moments of
    /// untouched rows are not decayed. Much cheaper for large catalogues; slightly different trajectories.
    /// </summary>
    LazyAdam,

    /// <summary>
    /// Adam with exact (dense) Adam's result at close to lazy Adam's cost: an embedding row is updated only when a batch
    /// touches it, first catching up on the zero-gradient steps it sat out (see <see cref="AdamEmbeddingUpdate.Deferred"/>).
    /// Exact only without L2: skipped steps carry no L2 term. CPU backend only.
    /// </summary>
    DeferredAdam,

    /// <summary>Plain stochastic gradient descent (used to fine-tune a pre-trained NeuMF, as in the paper).</summary>
    Sgd,

    /// <summary>
    /// Exact Adam's updates, taken the faster of two ways: <see cref="DeferredAdam"/> when it gives exact Adam's result
    /// (no L2) on a backend that has it (the CPU) and the embedding tables hold at least
    /// <see cref="NcfTrainer.DeferredAdamThreshold"/> parameters, else <see cref="Adam"/>. Which one a model gets:
    /// <see cref="NcfTrainer.ResolveOptimizer"/>. The default.
    /// </summary>
    Auto,
}

/// <summary>
/// The distinct ids of one batch, on the model's backend: the rows a lazy optimizer touches and the rows whose
/// gradients must be cleared.
/// </summary>
public readonly record struct BatchRows(View<int> Users, View<int> Items)
{
    /// <summary>The rows for a table indexed by <paramref name="ids"/>.</summary>
    public View<int> For(IdSpace ids) => ids == IdSpace.User ? Users : Items;
}

/// <summary>Updates a <see cref="ParameterSet"/> from its gradients and clears them for the next step.</summary>
public abstract class Optimizer : IDisposable
{
    /// <summary>Creates the optimizer over <paramref name="parameters"/>.</summary>
    protected Optimizer(ParameterSet parameters, float learningRate, float l2)
    {
        Parameters = parameters;
        _learningRate = learningRate;
        L2 = l2;
    }

    /// <summary>The parameters updated.</summary>
    public ParameterSet Parameters { get; }

    private float _learningRate;

    /// <summary>Step size. Changing it first brings deferred updates up to date (see <see cref="CatchUp"/>), so the steps
    /// already taken keep the rate they were taken at.</summary>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (value != _learningRate)
            {
                CatchUp();
                _learningRate = value;
            }
        }
    }

    /// <summary>L2 penalty added to every gradient (<c>g + l2·p</c>).</summary>
    public float L2 { get; }

    /// <summary>Steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>
    /// True when the optimizer only reads embedding gradients in the batch's rows, so only those rows need
    /// clearing between steps (see <see cref="ZeroGradients"/>).
    /// </summary>
    public virtual bool IsRowSparse => false;

    /// <summary>Set by a <see cref="Step"/> that already cleared every gradient (a fused kernel), so the next
    /// <see cref="ZeroGradients"/> has nothing to do.</summary>
    protected bool GradientsCleared { get; set; }

    /// <summary>Counts a step applied outside <see cref="Step"/> (the fused CPU training step).</summary>
    internal void CountStep() => StepCount++;

    /// <summary>Sets the step count of a restored training state (<see cref="NcfTrainer.RestoreState(string)"/>).</summary>
    internal void RestoreStepCount(int steps) => StepCount = steps;

    /// <summary>
    /// Brings every parameter to the value the optimizer's steps so far imply. Only an optimizer that defers updates of
    /// untouched embedding rows (<see cref="AdamEmbeddingUpdate.Deferred"/>) has anything to do; the trainer calls this
    /// after each epoch and before evaluating, so only code that reads parameters in the middle of its own
    /// <see cref="NcfTrainer.TrainBatch"/> loop needs to call it. Cheap when nothing is behind.
    /// </summary>
    public virtual void CatchUp()
    {
    }

    /// <summary>
    /// Called with the batch's distinct rows before the forward pass reads them. Deferred Adam brings those rows up to
    /// date here, so their gradients are taken where exact Adam's would be; other optimizers have nothing to do. The
    /// trainer calls it; a hand-written loop (forward, backward, <see cref="Step"/>) must call it before its forward pass.
    /// </summary>
    public virtual void BeforeForward(in BatchRows rows)
    {
    }

    /// <summary>Applies one update. <paramref name="rows"/> are the batch's distinct ids (used by row-sparse optimizers).</summary>
    public abstract void Step(in BatchRows rows);

    /// <summary>
    /// Clears the gradients for the next step: every gradient for dense optimizers; for row-sparse ones the dense
    /// layers' gradients and only the batch's rows of each embedding table (the rest are already zero).
    /// </summary>
    public void ZeroGradients(in BatchRows rows)
    {
        var backend = Parameters.Backend;
        if (GradientsCleared)
        {
            GradientsCleared = false;
            return;
        }

        if (!IsRowSparse)
        {
            backend.Fill(Parameters.Gradients.All, 0f);
            return;
        }

        // Indexed, not foreach: enumerating the IReadOnlyList would allocate an enumerator every step.
        var slices = Parameters.Layout.Slices;
        for (int s = 0; s < slices.Count; s++)
        {
            var slice = slices[s];
            if (slice.RowIds == IdSpace.None)
            {
                backend.Fill(Parameters.Gradient(slice), 0f);
            }
            else
            {
                backend.ZeroRows(Parameters.Gradient(slice), slice.Columns, rows.For(slice.RowIds));
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases optimizer state.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>Settings of Adam. Defaults are PyTorch's and the paper's (lr 0.001).</summary>
public sealed record AdamOptions
{
    /// <summary>Step size. Default 0.001.</summary>
    public float LearningRate { get; init; } = 0.001f;

    /// <summary>First-moment decay. Default 0.9.</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Second-moment decay. Default 0.999.</summary>
    public float Beta2 { get; init; } = 0.999f;

    /// <summary>Denominator guard. Default 1e-8.</summary>
    public float Epsilon { get; init; } = 1e-8f;

    /// <summary>L2 penalty coupled into the gradient. Default 0 (the paper uses none).</summary>
    public float L2 { get; init; }

    /// <summary>How embedding tables are updated. Default <see cref="AdamEmbeddingUpdate.Dense"/> (exact Adam).</summary>
    public AdamEmbeddingUpdate Embeddings { get; init; }

    /// <summary>Update embedding tables only in the batch's rows: <see cref="AdamEmbeddingUpdate.Lazy"/>.</summary>
    [Obsolete("Use Embeddings = AdamEmbeddingUpdate.Lazy (or Deferred, exact Adam's result at row-sparse cost).")]
    public bool Lazy
    {
        get => Embeddings == AdamEmbeddingUpdate.Lazy;
        init => Embeddings = value ? AdamEmbeddingUpdate.Lazy : AdamEmbeddingUpdate.Dense;
    }
}

/// <summary>How Adam updates the rows of embedding tables that a batch does not touch.</summary>
public enum AdamEmbeddingUpdate
{
    /// <summary>Every row, every step (exact Adam, as PyTorch and the paper's code do): cost grows with the tables.</summary>
    Dense,

    /// <summary>
    /// Only the batch's rows; untouched rows keep their values and moments ("lazy" Adam, as TensorFlow's LazyAdam and
    /// PyTorch's SparseAdam). The cheapest; its trajectories differ from exact Adam's, since an untouched row stops
    /// instead of coasting on its momentum.
    /// </summary>
    Lazy,

    /// <summary>
    /// Only the batch's rows, each first brought forward in closed form over the zero-gradient steps it sat out
    /// (<see cref="Kernels.AdamCatchUp"/>): exact Adam's result, up to rounding and ε's placement, at about lazy cost.
    /// Skipped steps carry no L2 term, so it equals exact Adam when L2 is 0. Host-indexed backends only (the CPU).
    /// </summary>
    Deferred,
}

/// <summary>Adam with moments mirroring the parameter layout; dense, or row-sparse for embedding tables.</summary>
public sealed class Adam : Optimizer
{
    private readonly DeviceBuffer<float> _firstMoment, _secondMoment;

    // Deferred updates: per slice (null for dense layers), the step each row was last brought up to.
    private readonly int[]?[] _lastStep;
    private readonly AdamCatchUp? _catchUp;

    /// <summary>Creates Adam over <paramref name="parameters"/>.</summary>
    public Adam(ParameterSet parameters, AdamOptions? options = null)
        : base(parameters, (options ??= new AdamOptions()).LearningRate, options.L2)
    {
        Options = options;
        if (options.Embeddings == AdamEmbeddingUpdate.Deferred && parameters.Backend is not IDeferredAdamKernels)
        {
            throw new NcfException($"Deferred Adam keeps per-row step counts on the host and runs on the CPU backend only; on the {parameters.Backend.Name} backend use exact Adam.");
        }

        _firstMoment = parameters.Backend.AllocateFloat(parameters.Layout.Length);
        _secondMoment = parameters.Backend.AllocateFloat(parameters.Layout.Length);
        var slices = parameters.Layout.Slices;
        _lastStep = new int[slices.Count][];
        if (options.Embeddings == AdamEmbeddingUpdate.Deferred)
        {
            _catchUp = new AdamCatchUp(options.Beta1, options.Beta2, options.Epsilon);
            for (int s = 0; s < slices.Count; s++)
            {
                _lastStep[s] = slices[s].RowIds == IdSpace.None ? null : new int[slices[s].Rows];
            }
        }
    }

    /// <summary>The settings.</summary>
    public AdamOptions Options { get; }

    internal DeviceBuffer<float> FirstMoment => _firstMoment;

    internal DeviceBuffer<float> SecondMoment => _secondMoment;

    /// <inheritdoc />
    public override bool IsRowSparse => Options.Embeddings != AdamEmbeddingUpdate.Dense;

    /// <summary>Deferred Adam's catch-up tables; null for dense and lazy Adam.</summary>
    internal AdamCatchUp? CatchUpTables => _catchUp;

    /// <summary>Deferred Adam's per-row last steps of slice <paramref name="sliceIndex"/> (an embedding table).</summary>
    internal int[] LastStep(int sliceIndex) => _lastStep[sliceIndex] ?? throw new InvalidOperationException("Not a deferred embedding table.");

    /// <summary>This step's settings.</summary>
    internal AdamSettings Settings(int step) => new(LearningRate, Options.Beta1, Options.Beta2, Options.Epsilon, L2, step);

    /// <inheritdoc />
    public override void BeforeForward(in BatchRows rows) => CatchUpEmbeddings(rows, batchRowsOnly: true);

    /// <inheritdoc />
    public override void CatchUp() => CatchUpEmbeddings(default, batchRowsOnly: false);

    /// <summary>Deferred Adam: brings the embedding tables' rows (the batch's, or all) up to the last step taken.</summary>
    private void CatchUpEmbeddings(in BatchRows rows, bool batchRowsOnly)
    {
        if (_catchUp is null || StepCount == 0)
        {
            return;
        }

        var kernels = (IDeferredAdamKernels)Parameters.Backend;
        var settings = Settings(StepCount);
        var slices = Parameters.Layout.Slices;
        for (int s = 0; s < slices.Count; s++)
        {
            if (_lastStep[s] is not { } lastStep)
            {
                continue;
            }

            var slice = slices[s];
            var m = _firstMoment.Slice(slice.Offset, slice.Length);
            var v = _secondMoment.Slice(slice.Offset, slice.Length);
            if (batchRowsOnly)
            {
                kernels.AdamCatchUpRows(Parameters.Value(slice), m, v, slice.Columns, rows.For(slice.RowIds), lastStep, settings, _catchUp);
            }
            else
            {
                kernels.AdamCatchUpTable(Parameters.Value(slice), m, v, slice.Columns, lastStep, settings, _catchUp);
            }
        }
    }

    /// <inheritdoc />
    public override void Step(in BatchRows rows)
    {
        StepCount++;
        var settings = Settings(StepCount);
        var backend = Parameters.Backend;
        if (Options.Embeddings == AdamEmbeddingUpdate.Dense)
        {
            if (backend is IFusedOptimizerKernels fused)
            {
                fused.AdamStepClearingGradients(Parameters.Values.All, Parameters.Gradients.All, _firstMoment.All, _secondMoment.All, settings);
                GradientsCleared = true;
            }
            else
            {
                backend.AdamStep(Parameters.Values.All, Parameters.Gradients.All, _firstMoment.All, _secondMoment.All, settings);
            }

            return;
        }

        // Indexed, not foreach: enumerating the IReadOnlyList would allocate an enumerator every step.
        var slices = Parameters.Layout.Slices;
        for (int s = 0; s < slices.Count; s++)
        {
            var slice = slices[s];
            var m = _firstMoment.Slice(slice.Offset, slice.Length);
            var v = _secondMoment.Slice(slice.Offset, slice.Length);
            if (slice.RowIds == IdSpace.None)
            {
                backend.AdamStep(Parameters.Value(slice), Parameters.Gradient(slice), m, v, settings);
            }
            else if (_lastStep[s] is { } lastStep)
            {
                ((IDeferredAdamKernels)backend).AdamDeferredRowsStep(Parameters.Value(slice), Parameters.Gradient(slice), m, v, slice.Columns,
                    rows.For(slice.RowIds), lastStep, settings, _catchUp!);
            }
            else
            {
                backend.AdamRowsStep(Parameters.Value(slice), Parameters.Gradient(slice), m, v, slice.Columns, rows.For(slice.RowIds), settings);
            }
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _firstMoment.Dispose();
        _secondMoment.Dispose();
    }
}

/// <summary>Plain SGD, <c>p -= lr·(g + l2·p)</c>.</summary>
public sealed class Sgd(ParameterSet parameters, float learningRate, float l2 = 0) : Optimizer(parameters, learningRate, l2)
{
    /// <inheritdoc />
    public override void Step(in BatchRows rows)
    {
        StepCount++;
        Parameters.Backend.SgdStep(Parameters.Values.All, Parameters.Gradients.All, LearningRate, L2);
    }
}
