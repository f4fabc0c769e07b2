using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Ncf.Backends;

namespace Ncf.Kernels;

/// <summary>
/// Deferred Adam over embedding rows: exact Adam's result at row-sparse cost. Each row remembers the step it was last
/// brought up to (<c>lastStep</c>, one int per row, 0 for never). A batch's rows are first caught up on the
/// zero-gradient steps they sat out, in closed form (<see cref="AdamCatchUp"/>), before the forward pass reads them
/// (<see cref="CatchUpRowsSimd"/>); after the backward pass they take the step with their gradients
/// (<see cref="DeferredRowsSimd"/>); the rest catch up whenever the whole model must be current (<see cref="CatchUpSimd"/>).
/// Skipped steps carry no gradient at all, not even the L2 term, so this equals dense Adam when L2 is 0.
/// </summary>
public static partial class AdamKernel
{
    /// <summary>
    /// Scalar oracle: each row of <paramref name="rows"/> takes <see cref="Reference"/> once per skipped step with a
    /// zero gradient (and no L2, <see cref="CatchUpRowsReference"/>), then once with its gradient; its
    /// <paramref name="lastStep"/> becomes the step's. Costs a pass over the row per skipped step: for tests.
    /// </summary>
    public static void DeferredRowsReference(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment,
        Span<float> secondMoment, int dim, ReadOnlySpan<int> rows, Span<int> lastStep, in AdamSettings settings)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        CatchUpRowsReference(parameters, firstMoment, secondMoment, dim, rows, lastStep, settings with { Step = settings.Step - 1 });
        foreach (int row in rows)
        {
            var slice = new Range(row * dim, row * dim + dim);
            Reference(parameters[slice], gradients[slice], firstMoment[slice], secondMoment[slice], settings);
            lastStep[row] = settings.Step;
        }
    }

    /// <summary>
    /// The SIMD kernel of <see cref="DeferredRowsReference"/>, with the skipped steps in closed form. In training the
    /// rows were caught up before the forward pass (their gradients must be taken at the caught-up values), so this
    /// finds nothing skipped and takes the plain step.
    /// </summary>
    public static void DeferredRowsSimd(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment,
        Span<float> secondMoment, int dim, ReadOnlySpan<int> rows, Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        Validate(parameters, gradients, firstMoment, secondMoment, settings);
        ValidateRows(parameters.Length, dim, rows);
        ValidateLastStep(parameters.Length, dim, lastStep);
        ValidateCatchUp(catchUp, settings);
        float stepSize = settings.StepSize, inverseSqrtBc2 = settings.InverseSqrtBiasCorrection2;
        var previous = settings with { Step = settings.Step - 1 };
        foreach (int row in rows)
        {
            CatchUpRow(parameters, firstMoment, secondMoment, dim, row, lastStep, previous, catchUp);
            int start = row * dim;
            Update(parameters.Slice(start, dim), gradients.Slice(start, dim), firstMoment.Slice(start, dim), secondMoment.Slice(start, dim),
                settings.Beta1, settings.Beta2, settings.Epsilon, settings.L2, stepSize, inverseSqrtBc2);
            lastStep[row] = settings.Step;
        }
    }

    /// <summary>
    /// Scalar oracle of the catch-up alone: every row of <c>[*, dim]</c> behind step <c>settings.Step</c> takes
    /// <see cref="Reference"/> with a zero gradient (and no L2) for each step it missed, up to and including that step.
    /// </summary>
    public static void CatchUpReference(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, int dim,
        Span<int> lastStep, in AdamSettings settings) =>
        CatchUpRowsReference(parameters, firstMoment, secondMoment, dim, AllRows(lastStep.Length), lastStep, settings);

    /// <summary><see cref="CatchUpReference"/> for rows <paramref name="rows"/> only.</summary>
    public static void CatchUpRowsReference(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, int dim,
        ReadOnlySpan<int> rows, Span<int> lastStep, in AdamSettings settings)
    {
        ValidateCatchUpBuffers(parameters, firstMoment, secondMoment, dim, lastStep, settings);
        ValidateRows(parameters.Length, dim, rows);
        var zeros = new float[dim];
        foreach (int row in rows)
        {
            var slice = new Range(row * dim, row * dim + dim);
            for (int t = LastStep(lastStep, row, settings.Step) + 1; t <= settings.Step; t++)
            {
                Reference(parameters[slice], zeros, firstMoment[slice], secondMoment[slice], settings with { Step = t, L2 = 0 });
            }

            lastStep[row] = settings.Step;
        }
    }

    /// <summary>The SIMD kernel of <see cref="CatchUpReference"/>, one pass over each row that is behind.</summary>
    public static void CatchUpSimd(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, int dim,
        Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        ValidateCatchUpBuffers(parameters, firstMoment, secondMoment, dim, lastStep, settings);
        ValidateCatchUp(catchUp, settings);
        for (int row = 0; row < lastStep.Length; row++)
        {
            CatchUpRow(parameters, firstMoment, secondMoment, dim, row, lastStep, settings, catchUp);
        }
    }

    /// <summary>The SIMD kernel of <see cref="CatchUpRowsReference"/>: rows <paramref name="rows"/> brought to step <c>settings.Step</c>.</summary>
    public static void CatchUpRowsSimd(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, int dim,
        ReadOnlySpan<int> rows, Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        ValidateCatchUpBuffers(parameters, firstMoment, secondMoment, dim, lastStep, settings);
        ValidateRows(parameters.Length, dim, rows);
        ValidateCatchUp(catchUp, settings);
        foreach (int row in rows)
        {
            CatchUpRow(parameters, firstMoment, secondMoment, dim, row, lastStep, settings, catchUp);
        }
    }

    private static void CatchUpRow(Span<float> parameters, Span<float> firstMoment, Span<float> secondMoment, int dim, int row,
        Span<int> lastStep, in AdamSettings settings, AdamCatchUp catchUp)
    {
        int last = LastStep(lastStep, row, settings.Step);
        if (last == settings.Step)
        {
            return;
        }

        int start = row * dim;
        var p = parameters.Slice(start, dim);
        var m = firstMoment.Slice(start, dim);
        var v = secondMoment.Slice(start, dim);
        if (last + 1 < catchUp.StepwiseUntil)
        {
            // Early in training ε's share changes too fast from step to step for one closed form (AdamCatchUp): exact
            // Adam's zero-gradient steps one by one, as far as they still move the row, then the moments' decay.
            int end = Math.Min(settings.Step, last + catchUp.Horizon);
            for (int t = last + 1; t <= end; t++)
            {
                Update<ZeroGradient>(p, default, m, v, settings.Beta1, settings.Beta2, settings.Epsilon, 0,
                    catchUp.StepSize(t, settings.LearningRate), catchUp.InverseSqrtBiasCorrection2(t));
            }

            CatchUpRow(p, m, v, catchUp.DecayOnly(settings.Step - end));
        }
        else
        {
            CatchUpRow(p, m, v, catchUp.For(last, settings.Step, settings.LearningRate));
        }

        lastStep[row] = settings.Step;
    }

    private static int[] AllRows(int count) => Enumerable.Range(0, count).ToArray();

    /// <summary><c>p −= c.Step·m / (sqrt(v) + c.Epsilon); m ·= c.Decay1; v ·= c.Decay2</c>, the tail as a lane computes it.</summary>
    private static void CatchUpRow(Span<float> p, Span<float> m, Span<float> v, AdamCatchUp.Coefficients c)
    {
        if (c.IsNone)
        {
            return;
        }

        ref float pS = ref MemoryMarshal.GetReference(p);
        ref float mS = ref MemoryMarshal.GetReference(m);
        ref float vS = ref MemoryMarshal.GetReference(v);
        int n = p.Length, width = Vector<float>.Count, i = 0;
        var step = new Vector<float>(c.Step);
        var eps = new Vector<float>(c.Epsilon);
        var d1 = new Vector<float>(c.Decay1);
        var d2 = new Vector<float>(c.Decay2);
        for (; i <= n - width; i += width)
        {
            var mv = Vector.LoadUnsafe(ref mS, (nuint)i);
            var vv = Vector.LoadUnsafe(ref vS, (nuint)i);
            (Vector.LoadUnsafe(ref pS, (nuint)i) - step * mv / (Vector.SquareRoot(vv) + eps)).StoreUnsafe(ref pS, (nuint)i);
            (mv * d1).StoreUnsafe(ref mS, (nuint)i);
            (vv * d2).StoreUnsafe(ref vS, (nuint)i);
        }

        // 8 lanes at once for rows narrower than Vector<float> (see the Adam kernel's Update).
        if (Vector<float>.Count > 8 && Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var mv = Vector256.LoadUnsafe(ref mS, (nuint)i);
                var vv = Vector256.LoadUnsafe(ref vS, (nuint)i);
                (Vector256.LoadUnsafe(ref pS, (nuint)i) - Vector256.Create(c.Step) * mv / (Vector256.Sqrt(vv) + Vector256.Create(c.Epsilon)))
                    .StoreUnsafe(ref pS, (nuint)i);
                (mv * Vector256.Create(c.Decay1)).StoreUnsafe(ref mS, (nuint)i);
                (vv * Vector256.Create(c.Decay2)).StoreUnsafe(ref vS, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            p[i] -= c.Step * m[i] / (MathF.Sqrt(v[i]) + c.Epsilon);
            m[i] *= c.Decay1;
            v[i] *= c.Decay2;
        }
    }

    private static void ValidateCatchUpBuffers(ReadOnlySpan<float> parameters, ReadOnlySpan<float> firstMoment, ReadOnlySpan<float> secondMoment,
        int dim, ReadOnlySpan<int> lastStep, in AdamSettings settings)
    {
        Check.SameLength(parameters.Length, firstMoment.Length, nameof(firstMoment));
        Check.SameLength(parameters.Length, secondMoment.Length, nameof(secondMoment));
        ArgumentOutOfRangeException.ThrowIfNegative(settings.Step, nameof(settings));
        ValidateLastStep(parameters.Length, dim, lastStep);
    }

    /// <summary>One entry per row.</summary>
    private static void ValidateLastStep(int length, int dim, ReadOnlySpan<int> lastStep)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        if (length % dim != 0 || lastStep.Length != length / dim)
        {
            throw new ArgumentException($"Expected one last-step entry per row ({length} / {dim}), got {lastStep.Length}.", nameof(lastStep));
        }
    }

    /// <summary>A row's last step, checked to lie in 0..<paramref name="latest"/>: a row cannot have seen a step not yet taken.</summary>
    private static int LastStep(ReadOnlySpan<int> lastStep, int row, int latest)
    {
        int step = lastStep[row];
        if ((uint)step > (uint)latest)
        {
            throw new ArgumentOutOfRangeException(nameof(lastStep), $"Row {row}'s last step {step} is outside 0..{latest}.");
        }

        return step;
    }

    private static void ValidateCatchUp(AdamCatchUp catchUp, in AdamSettings settings)
    {
        ArgumentNullException.ThrowIfNull(catchUp);
        if (!catchUp.Matches(settings.Beta1, settings.Beta2, settings.Epsilon))
        {
            throw new ArgumentException("The catch-up tables were built for other Adam settings.", nameof(catchUp));
        }
    }
}
