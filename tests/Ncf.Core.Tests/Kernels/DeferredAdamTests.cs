using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;
using Ncf.Randomness;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Deferred Adam against exact Adam stepped one step at a time: the closed-form coefficient against the sum it stands
/// for, a hand-worked catch-up, random sparse schedules against dense Adam, and rows idle past every table.
/// </summary>
public class DeferredAdamTests
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;
    private static readonly AdamCatchUp Tables = new(Beta1, Beta2, Epsilon);

    [Theory]
    [InlineData(0, false, 1)]
    [InlineData(0, false, 5)]
    [InlineData(3, false, 200)] // past the horizon from the first steps, where the bias corrections matter most
    [InlineData(100, false, 1000)]
    [InlineData(-50, true, 100)] // from just before the steady step to past it
    [InlineData(10, true, 7)]
    [InlineData(25_000, false, 5_000)] // past both decay tables
    public void Coefficients_equal_the_sums_and_powers_they_stand_for(int start, bool fromSteadyStep, int skipped)
    {
        int lastStep = fromSteadyStep ? Tables.SteadyStep + start : start;
        const float LearningRate = 0.01f;
        var c = Tables.For(lastStep, lastStep + skipped, LearningRate);

        // Σ_j lr·a_j and the a-weighted mean of ε_j over every skipped step, no horizon, powers from Math.Pow:
        // a_j = b_t·r^j, b_t = sqrt(1 − β2^t) / (1 − β1^t), r = β1 / sqrt(β2), ε_j = ε·sqrt(1 − β2^t) / β2^(j/2).
        double ratio = Beta1 / Math.Sqrt(Beta2), sum = 0, weightedEpsilon = 0;
        for (int j = 1; j <= skipped; j++)
        {
            int t = lastStep + j;
            double a = Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t)) * Math.Pow(ratio, j);
            sum += LearningRate * a;
            weightedEpsilon += a * Epsilon * Math.Sqrt(1 - Math.Pow(Beta2, t)) / Math.Pow(Beta2, j / 2.0);
        }

        weightedEpsilon *= LearningRate / sum;

        // Float results of double sums: a few float ulps (2^-24 ≈ 6e-8) of relative error.
        Assert.Equal(1, c.Step / sum, 1e-6);
        Assert.Equal(Math.Pow(Beta1, skipped), c.Decay1, Math.Max(1e-6 * Math.Pow(Beta1, skipped), 1e-38));
        Assert.Equal(1, c.Decay2 / Math.Pow(Beta2, skipped), 1e-6);
        Assert.Equal(1, c.Epsilon / weightedEpsilon, 1e-6);
    }

    [Fact]
    public void No_skipped_step_changes_nothing_and_bad_settings_are_refused()
    {
        Assert.True(Tables.For(7, 7, 0.1f).IsNone);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamCatchUp(0.99f, 0.99f, 1e-8f)); // β1 ≥ β2
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamCatchUp(0.9f, 1f, 1e-8f));
        float[] p = new float[6], m = new float[6], v = new float[6];
        int[] lastStep = [4, 0]; // row 0 claims a step not yet taken
        var settings = new AdamSettings(0.1f, Beta1, Beta2, Epsilon, 0, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamKernel.CatchUpSimd(p, m, v, 3, lastStep, settings, Tables));
        Assert.Throws<ArgumentException>(() => AdamKernel.CatchUpSimd(p, m, v, 3, new int[3], settings, Tables));
        Assert.Throws<ArgumentException>(() => AdamKernel.CatchUpSimd(p, m, v, 3, new int[2], settings with { Beta1 = 0.8f }, Tables));
    }

    /// <summary>
    /// The hand example of <see cref="OptimizerKernelTests"/> after step 3 (p = 0.8075551, m = 0.118, v = 0.00131193775,
    /// lr = 0.1), then two steps without a gradient, worked in double:
    /// step 4: m = 0.1062, v = 0.00131062581; m̂ = 0.1062/0.3439; v̂ = v/0.003994004; p = 0.7536466;
    /// step 5: m = 0.09558, v = 0.00130931519; m̂ = 0.09558/0.40951; v̂ = v/0.004990010; p = 0.7080816.
    /// </summary>
    [Theory]
    [InlineData(CpuKernelTier.Simd)]
    [InlineData(CpuKernelTier.Reference)]
    public void Catching_up_two_steps_matches_hand_arithmetic(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        var p = Buffer(backend, 0.8075551f);
        var m = Buffer(backend, 0.118f);
        var v = Buffer(backend, 0.00131193775f);
        int[] lastStep = [3];
        ((IDeferredAdamKernels)backend).AdamCatchUpTable(p.All, m.All, v.All, 1, lastStep, new AdamSettings(0.1f, Beta1, Beta2, Epsilon, 0, 5), Tables);
        // √v̂ ≈ 0.57 against ε = 1e-8: ε's placement is invisible; float storage of the inputs leaves ~1e-7.
        Assert.Equal(0.7080816, p.ToArray()[0], 1e-6);
        Assert.Equal(0.09558, m.ToArray()[0], 1e-7);
        Assert.Equal(0.00130931519, v.ToArray()[0], 1e-10);
        Assert.Equal(5, lastStep[0]);
    }

    private static DeviceBuffer<float> Buffer(CpuBackend backend, float value)
    {
        var buffer = backend.AllocateFloat(1);
        buffer.Write(0, [value]);
        return buffer;
    }

    /// <summary>
    /// Rows touched with probabilities from 1 to 1/32 over 300 steps, deferred (SIMD and reference) and caught up at
    /// the middle and at the end, against dense Adam in double fed zero gradients for untouched rows. From step 1 the
    /// SIMD kernel catches up step by step (<see cref="AdamCatchUp.StepwiseUntil"/>); from step 20,000, with moments
    /// already built up, in closed form. Gradients of order 1, and of order 1e-7, where ε is a sizeable part of Adam's
    /// denominator (embedding gradients early in training are this small).
    /// </summary>
    [Theory]
    [InlineData(1, 1, 1.0)]
    [InlineData(7, 1, 1.0)]
    [InlineData(16, 1, 1.0)]
    [InlineData(19, 1, 1.0)]
    [InlineData(40, 1, 1.0)]
    [InlineData(19, 1, 1e-7)]
    [InlineData(7, 20_000, 1.0)]
    [InlineData(19, 20_000, 1.0)]
    [InlineData(40, 20_000, 1e-7)]
    public void Deferred_rows_then_catch_up_equal_dense_adam_on_a_sparse_schedule(int dim, int firstStep, double gradientScale)
    {
        const int TableRows = 18, Steps = 300;
        var settings = new AdamSettings(0.01f, Beta1, Beta2, Epsilon, 0, 0);
        int length = TableRows * dim;
        float[] p0 = TestData.Uniform(length, (ulong)dim, stream: 1);
        float[] m0 = new float[length], v0 = new float[length];
        if (firstStep > 1)
        {
            // Moments as after a long run with gradients of this scale: |m| up to the scale, v up to its square.
            m0 = TestData.Uniform(length, (ulong)dim, (float)-gradientScale, (float)gradientScale, stream: 2);
            v0 = TestData.Uniform(length, (ulong)dim, (float)(0.01 * gradientScale * gradientScale), (float)(gradientScale * gradientScale), stream: 3);
        }

        float[] pd = (float[])p0.Clone(), md = (float[])m0.Clone(), vd = (float[])v0.Clone();
        float[] ps = (float[])p0.Clone(), ms = (float[])m0.Clone(), vs = (float[])v0.Clone();
        float[] pr = (float[])p0.Clone(), mr = (float[])m0.Clone(), vr = (float[])v0.Clone();
        int[] lastSimd = Enumerable.Repeat(firstStep - 1, TableRows).ToArray(), lastReference = (int[])lastSimd.Clone();
        var rng = new Rng(11, (ulong)dim);
        var rows = new List<int>();
        for (int step = firstStep; step < firstStep + Steps; step++)
        {
            rows.Clear();
            for (int row = 0; row < TableRows; row++)
            {
                if (rng.NextDouble() < 1.0 / (1 << (row % 6)))
                {
                    rows.Add(row);
                }
            }

            float[] g = new float[length];
            foreach (int row in rows)
            {
                for (int c = 0; c < dim; c++)
                {
                    g[row * dim + c] = (float)(gradientScale * (2 * rng.NextDouble() - 1));
                }
            }

            var now = settings with { Step = step };
            AdamKernel.Reference(pd, g, md, vd, now);
            if (step % 2 == 0)
            {
                // As training does before the forward pass; on odd steps the deferred step catches up by itself.
                AdamKernel.CatchUpRowsSimd(ps, ms, vs, dim, rows.ToArray(), lastSimd, now with { Step = step - 1 }, Tables);
            }

            AdamKernel.DeferredRowsSimd(ps, g, ms, vs, dim, rows.ToArray(), lastSimd, now, Tables);
            AdamKernel.DeferredRowsReference(pr, g, mr, vr, dim, rows.ToArray(), lastReference, now);
            if (step == firstStep + Steps / 2 || step == firstStep + Steps - 1)
            {
                AdamKernel.CatchUpSimd(ps, ms, vs, dim, lastSimd, now, Tables);
                AdamKernel.CatchUpReference(pr, mr, vr, dim, lastReference, now);
                Assert.All(lastSimd, s => Assert.Equal(step, s));
                string at = $"[dim={dim}, step={step}, scale={gradientScale}]";

                // The reference takes dense Adam's own steps: the same arithmetic per element, so the same bits.
                Tolerance.AssertClose(pd, pr, 0, 0, "reference p" + at);
                Tolerance.AssertClose(md, mr, 0, 0, "reference m" + at);
                Tolerance.AssertClose(vd, vr, 0, 0, "reference v" + at);

                // Float SIMD and the catch-up against stepwise double: each step moves p by at most about lr = 0.01,
                // with float rounding (~1e-7 relative); over 300 steps that stays under 2e-6. A wrong power, bias term
                // or ε weighting shows at 1e-5 or above (the first closed form, with ε at its first term, was 4e-5 off
                // in training). Moments: relative, at the gradients' scale.
                double scale2 = gradientScale * gradientScale;
                Tolerance.AssertClose(pd, ps, 1e-5, 2e-6, "deferred p" + at);
                Tolerance.AssertClose(md, ms, 1e-5, 1e-7 * gradientScale, "deferred m" + at);
                Tolerance.AssertClose(vd, vs, 1e-5, 1e-10 * scale2, "deferred v" + at);
            }
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.01f)]
    public void Every_row_every_step_equals_dense_simd_bit_for_bit(float l2)
    {
        // Nothing is ever skipped, so the deferred kernel is dense Adam's arithmetic, L2 included.
        const int TableRows = 9, Dim = 21, Steps = 12;
        int length = TableRows * Dim;
        float[] pd = TestData.Uniform(length, 3, stream: 1), md = new float[length], vd = new float[length];
        float[] ps = (float[])pd.Clone(), ms = new float[length], vs = new float[length];
        int[] lastStep = new int[TableRows];
        int[] all = Enumerable.Range(0, TableRows).Reverse().ToArray();
        for (int step = 1; step <= Steps; step++)
        {
            float[] g = TestData.Uniform(length, (ulong)step, stream: 2);
            var settings = new AdamSettings(0.01f, Beta1, Beta2, Epsilon, l2, step);
            AdamKernel.Simd(pd, g, md, vd, settings);
            AdamKernel.DeferredRowsSimd(ps, g, ms, vs, Dim, all, lastStep, settings, Tables);
        }

        Tolerance.AssertClose(pd, ps, 0, 0, "p");
        Tolerance.AssertClose(md, ms, 0, 0, "m");
        Tolerance.AssertClose(vd, vs, 0, 0, "v");
    }

    [Fact]
    public void Rows_idle_for_every_kind_of_spell_match_dense_adam()
    {
        // Each row's touched steps pick out one path of the catch-up (defaults: stepwise before step 4,801, horizon
        // 266 steps, differences of stored tails before the steady step ~21,500, decay tables of 4,096 steps):
        //   row 0: every step (never skipped, so bit-identical to dense Adam);
        //   row 1: 1, 2, steady + 10, 30,000 — stepwise for 266 steps then ~20,000 of pure decay (past the tables),
        //          then ~9,700 steps in the steady closed form;
        //   row 2: never (must not move);
        //   row 3: 100, 1,500, 3,000, 6,000, 6,500 — stepwise spells longer than the horizon (1,399, 1,499, 2,999
        //          steps: the decay after the horizon must count from its end), then a tail-difference spell of 499;
        //   row 4: 5,000, 5,100 — a tail-difference spell shorter than the horizon.
        const int Dim = 5, Rows = 5, Steps = 30_000;
        int steady = Tables.SteadyStep;
        Assert.True(Tables.StepwiseUntil is > 3_000 and < 5_000 && steady is > 6_500 and < Steps - 5_000, $"{Tables.StepwiseUntil}, {steady}");
        var touched = new[]
        {
            Enumerable.Range(1, Steps).ToHashSet(),
            new HashSet<int> { 1, 2, steady + 10, Steps },
            new HashSet<int>(),
            new HashSet<int> { 100, 1_500, 3_000, 6_000, 6_500 },
            new HashSet<int> { 5_000, 5_100 },
        };
        float[] pd = TestData.Uniform(Rows * Dim, 5, stream: 1), md = new float[Rows * Dim], vd = new float[Rows * Dim];
        float[] ps = (float[])pd.Clone(), ms = new float[Rows * Dim], vs = new float[Rows * Dim];
        float[] p0 = (float[])pd.Clone();
        int[] lastStep = new int[Rows];
        float[] g = new float[Rows * Dim];
        var rows = new List<int>();
        for (int step = 1; step <= Steps; step++)
        {
            rows.Clear();
            for (int row = 0; row < Rows; row++)
            {
                bool now = touched[row].Contains(step);
                if (now)
                {
                    rows.Add(row);
                }

                for (int c = 0; c < Dim; c++)
                {
                    g[row * Dim + c] = now ? MathF.Cos(step * 0.37f + c + row) : 0;
                }
            }

            var settings = new AdamSettings(0.001f, Beta1, Beta2, Epsilon, 0, step);
            AdamKernel.Simd(pd, g, md, vd, settings);
            AdamKernel.DeferredRowsSimd(ps, g, ms, vs, Dim, rows.ToArray(), lastStep, settings, Tables);
        }

        AdamKernel.CatchUpSimd(ps, ms, vs, Dim, lastStep, new AdamSettings(0.001f, Beta1, Beta2, Epsilon, 0, Steps), Tables);

        // Both sides are float. Row 0 is bit-identical; the others differ by one closed form (or one power for a long
        // decay) against thousands of rounded steps: 1e-5 relative on parameters of order 1 that move by 1e-3 a step,
        // 1e-4 relative on moments that decayed by up to β2^20,000 (2e-9). A decay counted from the wrong step is
        // off by β2^266 = 0.77 in v, a wrong bias term by more than 1e-3 in p.
        Tolerance.AssertClose(pd.AsSpan(0, Dim), ps.AsSpan(0, Dim), 0, 0, "row 0 p");
        Tolerance.AssertClose(pd, ps, 1e-5, 1e-6, "p");
        Tolerance.AssertClose(md, ms, 1e-4, 1e-12, "m");
        Tolerance.AssertClose(vd, vs, 1e-4, 1e-20, "v");
        Assert.True(p0.AsSpan(2 * Dim, Dim).SequenceEqual(ps.AsSpan(2 * Dim, Dim)), "a row never touched moved");
    }
}
