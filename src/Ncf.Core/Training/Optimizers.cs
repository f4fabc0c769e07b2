using Ncf.Backends;
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

    /// <summary>Plain stochastic gradient descent (used to fine-tune a pre-trained NeuMF, as in the paper).</summary>
    Sgd,
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
        LearningRate = learningRate;
        L2 = l2;
    }

    /// <summary>The parameters updated.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Step size.</summary>
    public float LearningRate { get; set; }

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

    /// <summary>Update embedding tables only in the batch's rows. Default false (exact dense Adam).</summary>
    public bool Lazy { get; init; }
}

/// <summary>Adam with moments mirroring the parameter layout; dense, or row-sparse for embedding tables.</summary>
public sealed class Adam : Optimizer
{
    private readonly DeviceBuffer<float> _firstMoment, _secondMoment;

    /// <summary>Creates Adam over <paramref name="parameters"/>.</summary>
    public Adam(ParameterSet parameters, AdamOptions? options = null)
        : base(parameters, (options ??= new AdamOptions()).LearningRate, options.L2)
    {
        Options = options;
        _firstMoment = parameters.Backend.AllocateFloat(parameters.Layout.Length);
        _secondMoment = parameters.Backend.AllocateFloat(parameters.Layout.Length);
    }

    /// <summary>The settings.</summary>
    public AdamOptions Options { get; }

    internal DeviceBuffer<float> FirstMoment => _firstMoment;

    internal DeviceBuffer<float> SecondMoment => _secondMoment;

    /// <inheritdoc />
    public override bool IsRowSparse => Options.Lazy;

    /// <inheritdoc />
    public override void Step(in BatchRows rows)
    {
        StepCount++;
        var settings = new AdamSettings(LearningRate, Options.Beta1, Options.Beta2, Options.Epsilon, L2, StepCount);
        var backend = Parameters.Backend;
        if (!Options.Lazy)
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
