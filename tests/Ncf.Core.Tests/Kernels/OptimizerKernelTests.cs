using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Adam and SGD: three steps against values worked out by hand, for every entry point (Reference, Simd, the rows
/// variants and <see cref="CpuBackend"/> on both tiers); SIMD against reference over the length sweep; row-sparse
/// Adam leaves untouched rows bit for bit unchanged.
/// </summary>
public class OptimizerKernelTests
{
    private const float LearningRate = 0.1f, Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;

    /// <summary>The gradient of steps 1, 2, 3 of the hand example.</summary>
    private static readonly float[] HandGradients = [0.5f, -0.25f, 1.0f];

    /// <summary>
    /// p₀ = 1, lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8, L2 = 0; bias corrections bc1 = 1-β1^t, bc2 = 1-β2^t.
    /// Step 1, g = 0.5:   m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025; m̂ = 0.05/0.1 = 0.5; v̂ = 0.00025/0.001 = 0.25;
    ///                    p = 1 - 0.1·0.5/(0.5 + 1e-8) = 0.9 (0.900000002).
    /// Step 2, g = -0.25: m = 0.9·0.05 + 0.1·(-0.25) = 0.02; v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225;
    ///                    m̂ = 0.02/0.19 = 0.1052632; v̂ = 0.00031225/0.001999 = 0.1562031, √v̂ = 0.3952254;
    ///                    p = 0.9 - 0.1·0.1052632/0.3952254 = 0.9 - 0.0266337 = 0.8733663.
    /// Step 3, g = 1:     m = 0.9·0.02 + 0.1·1 = 0.118; v = 0.999·0.00031225 + 0.001·1 = 0.00131193775;
    ///                    m̂ = 0.118/0.271 = 0.4354244; v̂ = 0.00131193775/0.002997001 = 0.4377502, √v̂ = 0.6616269;
    ///                    p = 0.8733663 - 0.1·0.4354244/0.6616269 = 0.8733663 - 0.0658112 = 0.8075551.
    /// </summary>
    private static readonly (double P, double M, double V)[] HandNoL2 =
    [
        (0.900000002, 0.05, 0.00025),
        (0.8733663, 0.02, 0.00031225),
        (0.8075551, 0.118, 0.00131193775),
    ];

    /// <summary>
    /// As above with L2 = 0.01 (g += 0.01·p before the moments).
    /// Step 1: g = 0.5 + 0.01·1 = 0.51; m = 0.051; v = 0.001·0.2601 = 0.0002601; m̂ = 0.51; v̂ = 0.2601, √v̂ = 0.51;
    ///         p = 1 - 0.1·0.51/0.51 = 0.9.
    /// Step 2: g = -0.25 + 0.01·0.9 = -0.241; m = 0.9·0.051 - 0.0241 = 0.0218; v = 0.999·0.0002601 + 0.001·0.058081
    ///         = 0.0003179209; m̂ = 0.0218/0.19 = 0.1147368; v̂ = 0.1590400, √v̂ = 0.3987982;
    ///         p = 0.9 - 0.1·0.1147368/0.3987982 = 0.9 - 0.0287707 = 0.8712293.
    /// Step 3: g = 1 + 0.01·0.8712293 = 1.0087123; m = 0.9·0.0218 + 0.1·1.0087123 = 0.1204912;
    ///         v = 0.999·0.0003179209 + 0.001·1.0175004 = 0.0013351034; m̂ = 0.1204912/0.271 = 0.4446171;
    ///         v̂ = 0.0013351034/0.002997001 = 0.4454798, √v̂ = 0.6674427; p = 0.8712293 - 0.0666150 = 0.8046143.
    /// </summary>
    private static readonly (double P, double M, double V)[] HandWithL2 =
    [
        (0.900000002, 0.051, 0.0002601),
        (0.8712293, 0.0218, 0.0003179209),
        (0.8046143, 0.1204912, 0.0013351034),
    ];

    /// <summary>One Adam step over (p, g, m, v) by some entry point.</summary>
    public delegate void AdamUpdate(float[] p, float[] g, float[] m, float[] v, AdamSettings settings);

    private static readonly Dictionary<string, AdamUpdate> AdamVariants = new()
    {
        ["Reference"] = (p, g, m, v, s) => AdamKernel.Reference(p, g, m, v, s),
        ["Simd"] = (p, g, m, v, s) => AdamKernel.Simd(p, g, m, v, s),
        // The rows variants see the same 9 values as one row of 9.
        ["RowsReference"] = (p, g, m, v, s) => AdamKernel.RowsReference(p, g, m, v, p.Length, [0], s),
        ["RowsSimd"] = (p, g, m, v, s) => AdamKernel.RowsSimd(p, g, m, v, p.Length, [0], s),
        ["CpuBackend.AdamStep(simd)"] = (p, g, m, v, s) => ThroughBackend(CpuKernelTier.Simd, p, g, m, v, s, rows: false),
        ["CpuBackend.AdamStep(reference)"] = (p, g, m, v, s) => ThroughBackend(CpuKernelTier.Reference, p, g, m, v, s, rows: false),
        ["CpuBackend.AdamRowsStep(simd)"] = (p, g, m, v, s) => ThroughBackend(CpuKernelTier.Simd, p, g, m, v, s, rows: true),
        ["CpuBackend.AdamRowsStep(reference)"] = (p, g, m, v, s) => ThroughBackend(CpuKernelTier.Reference, p, g, m, v, s, rows: true),
    };

    public static TheoryData<string, float> AdamCases()
    {
        var data = new TheoryData<string, float>();
        foreach (string name in AdamVariants.Keys)
        {
            data.Add(name, 0f);
            data.Add(name, 0.01f);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AdamCases))]
    public void Adam_ThreeSteps_MatchHandArithmetic(string variant, float l2)
    {
        // 9 copies: 8 go through the vector body, 1 through the scalar tail; all must give the hand values.
        const int n = 9;
        var p = Enumerable.Repeat(1f, n).ToArray();
        var m = new float[n];
        var v = new float[n];
        var expected = l2 == 0 ? HandNoL2 : HandWithL2;
        for (int step = 1; step <= 3; step++)
        {
            var g = Enumerable.Repeat(HandGradients[step - 1], n).ToArray();
            AdamVariants[variant](p, g, m, v, new AdamSettings(LearningRate, Beta1, Beta2, Epsilon, l2, step));

            // p and m: rtol 1e-6 (the hand values have 7 digits; float β1 = 0.9f is 2e-8 off 0.9).
            // v: rtol 3e-5, because the kernels see β2 = 0.999f = 0.99900001, so 1-β2 is 1.3e-5 relatively off 0.001;
            // in p that error cancels against the same β2 in the bias correction 1-β2^t.
            var (pe, me, ve) = expected[step - 1];
            for (int i = 0; i < n; i++)
            {
                Tolerance.AssertClose(pe, p[i], 1e-6, 0, $"{variant} p[{i}] after step {step}");
                Tolerance.AssertClose(me, m[i], 1e-6, 0, $"{variant} m[{i}] after step {step}");
                Tolerance.AssertClose(ve, v[i], 3e-5, 0, $"{variant} v[{i}] after step {step}");
            }
        }
    }

    [Fact]
    public void Adam_Simd_EqualsReference_OverLengthSweep()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] p0 = TestData.Uniform(n, (ulong)n, stream: 1);
            var expectedP = (float[])p0.Clone();
            var expectedM = new float[n];
            var expectedV = new float[n];
            var p = new Guarded(p0);
            var m = new Guarded(n);
            var v = new Guarded(n);
            m.Span.Clear();
            v.Span.Clear();
            for (int step = 1; step <= 3; step++)
            {
                // Gradients spanning three orders of magnitude so v and the ratio m/√v vary widely.
                float[] g = TestData.Uniform(n, (ulong)n, stream: (ulong)(10 + step));
                for (int i = 0; i < n; i++)
                {
                    g[i] *= MathF.Pow(10, -(i % 4));
                }

                var settings = new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, 1e-2f, step);
                AdamKernel.Reference(expectedP, g, expectedM, expectedV, settings);
                AdamKernel.Simd(p.Span, g, m.Span, v.Span, settings);
            }

            // Float (with FMA) against double, a handful of roundings per step: rtol 1e-6. m can cancel to ~0 across
            // steps of opposite sign, so its error is bounded by the size of its terms, not its value: each step rounds
            // (1-β1)·g (|g| ≤ 1, so ≤ ulp(0.1)/2 = 3.7e-9) and the sum: atol 3e-8 for three steps. v is a sum of
            // positive terms (atol only for denormal-size values). p moves by ~lr per step: atol 1e-7 < ulp(1).
            Tolerance.AssertClose(expectedM, m.Span, 1e-6, 3e-8, $"adam m[n={n}]");
            Tolerance.AssertClose(expectedV, v.Span, 1e-6, 1e-20, $"adam v[n={n}]");
            Tolerance.AssertClose(expectedP, p.Span, 1e-6, 1e-7, $"adam p[n={n}]");
            p.AssertCanaries($"adam p[n={n}]");
            m.AssertCanaries($"adam m[n={n}]");
            v.AssertCanaries($"adam v[n={n}]");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-2f)]
    public void AdamZeroGradient_EqualsSimdOverAClearedGradient_BitForBit(float l2)
    {
        // The fused step updates rows no example touched without reading their (zero) gradient; it must give exactly
        // what the dense kernel gives over zeros, tails included, with and without L2. Moments start from a real
        // step so the zero-gradient steps decay non-zero values.
        foreach (int n in TestData.Lengths())
        {
            float[] p0 = TestData.Uniform(n, (ulong)n, stream: 2);
            float[] g1 = TestData.Uniform(n, (ulong)n, stream: 3);
            var dense = ((float[])p0.Clone(), new float[n], new float[n]);
            var zero = (new Guarded(p0), new Guarded(n), new Guarded(n));
            zero.Item2.Span.Clear();
            zero.Item3.Span.Clear();
            var first = new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, l2, 1);
            AdamKernel.Simd(dense.Item1, g1, dense.Item2, dense.Item3, first);
            AdamKernel.Simd(zero.Item1.Span, g1, zero.Item2.Span, zero.Item3.Span, first);
            for (int step = 2; step <= 4; step++)
            {
                var settings = new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, l2, step);
                AdamKernel.Simd(dense.Item1, new float[n], dense.Item2, dense.Item3, settings);
                AdamKernel.SimdZeroGradient(zero.Item1.Span, zero.Item2.Span, zero.Item3.Span, settings);
            }

            Assert.Equal(dense.Item1, zero.Item1.Span.ToArray());
            Assert.Equal(dense.Item2, zero.Item2.Span.ToArray());
            Assert.Equal(dense.Item3, zero.Item3.Span.ToArray());
            zero.Item1.AssertCanaries($"p[n={n}]");
            zero.Item2.AssertCanaries($"m[n={n}]");
            zero.Item3.AssertCanaries($"v[n={n}]");
        }
    }

    [Fact]
    public void Adam_And_Sgd_InPieces_EqualOneCall_BitForBit()
    {
        // Cut points off every lane boundary: elements move between vector lanes and scalar tails, which must agree.
        const int n = 1027;
        int[] cuts = [0, 5, 13, 14, 700, 1019, n];
        float[] p0 = TestData.Uniform(n, 9, stream: 1);
        float[] g = TestData.Uniform(n, 9, stream: 2);
        float[] m0 = TestData.Uniform(n, 9, stream: 3);
        float[] v0 = TestData.Uniform(n, 9, stream: 4).Select(MathF.Abs).ToArray();
        var settings = new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, 1e-2f, 3);
        var whole = ((float[])p0.Clone(), (float[])m0.Clone(), (float[])v0.Clone());
        var pieces = ((float[])p0.Clone(), (float[])m0.Clone(), (float[])v0.Clone());
        AdamKernel.Simd(whole.Item1, g, whole.Item2, whole.Item3, settings);
        var sgdWhole = (float[])p0.Clone();
        var sgdPieces = (float[])p0.Clone();
        SgdKernel.Simd(sgdWhole, g, 0.05f, 1e-3f);
        for (int k = 0; k + 1 < cuts.Length; k++)
        {
            var range = new Range(cuts[k], cuts[k + 1]);
            AdamKernel.Simd(pieces.Item1.AsSpan(range), g.AsSpan(range), pieces.Item2.AsSpan(range), pieces.Item3.AsSpan(range), settings);
            SgdKernel.Simd(sgdPieces.AsSpan(range), g.AsSpan(range), 0.05f, 1e-3f);
        }

        Assert.Equal(whole.Item1, pieces.Item1);
        Assert.Equal(whole.Item2, pieces.Item2);
        Assert.Equal(whole.Item3, pieces.Item3);
        Assert.Equal(sgdWhole, sgdPieces);
    }

    [Fact]
    public void AdamRows_UpdatesOnlyListedRows_AndLeavesTheRestBitForBit()
    {
        const int tableRows = 23;
        int[] selected = [0, 3, 4, 11, 22, 7]; // distinct, unsorted, includes the first and last rows
        for (int dim = 1; dim <= 67; dim++)
        {
            int length = tableRows * dim;
            float[] p0 = TestData.Uniform(length, (ulong)dim, stream: 1);
            float[] m0 = TestData.Uniform(length, (ulong)dim, -0.1f, 0.1f, stream: 2);
            float[] v0 = TestData.Uniform(length, (ulong)dim, 0, 0.01f, stream: 3);
            float[] g = TestData.Uniform(length, (ulong)dim, stream: 4); // non-zero everywhere: untouched rows must ignore it
            var settings = new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, 1e-2f, 5);

            float[] pr = (float[])p0.Clone(), mr = (float[])m0.Clone(), vr = (float[])v0.Clone();
            float[] ps = (float[])p0.Clone(), ms = (float[])m0.Clone(), vs = (float[])v0.Clone();
            AdamKernel.RowsReference(pr, g, mr, vr, dim, selected, settings);
            AdamKernel.RowsSimd(ps, g, ms, vs, dim, selected, settings);

            // Dense Adam restricted to one row is what a selected row must get; run both tiers per row.
            float[] pd = (float[])p0.Clone(), md = (float[])m0.Clone(), vd = (float[])v0.Clone();
            foreach (int row in selected)
            {
                var r = new Range(row * dim, row * dim + dim);
                AdamKernel.Simd(pd.AsSpan(r), g.AsSpan(r), md.AsSpan(r), vd.AsSpan(r), settings);
            }

            for (int row = 0; row < tableRows; row++)
            {
                var r = new Range(row * dim, row * dim + dim);
                string name = $"[dim={dim}, row={row}]";
                if (Array.IndexOf(selected, row) < 0)
                {
                    foreach (var (original, updated, tensor) in new[] { (p0, pr, "ref p"), (m0, mr, "ref m"), (v0, vr, "ref v"),
                                 (p0, ps, "simd p"), (m0, ms, "simd m"), (v0, vs, "simd v") })
                    {
                        Assert.True(original.AsSpan(r).SequenceEqual(updated.AsSpan(r)), $"untouched row changed: {tensor}{name}");
                    }
                }
                else
                {
                    // Same code path as dense SIMD on the slice: identical bits.
                    Tolerance.AssertClose(pd.AsSpan(r), ps.AsSpan(r), 0, 0, "rows-simd vs dense-simd p" + name);
                    Tolerance.AssertClose(md.AsSpan(r), ms.AsSpan(r), 0, 0, "rows-simd vs dense-simd m" + name);
                    Tolerance.AssertClose(vd.AsSpan(r), vs.AsSpan(r), 0, 0, "rows-simd vs dense-simd v" + name);
                    Assert.False(p0.AsSpan(r).SequenceEqual(ps.AsSpan(r)), "selected row did not move" + name);
                }
            }

            // Float against double over one step (see the dense sweep for the reasoning).
            Tolerance.AssertClose(pr, ps, 1e-6, 1e-7, $"rows adam p[dim={dim}]");
            Tolerance.AssertClose(mr, ms, 1e-6, 3e-8, $"rows adam m[dim={dim}]");
            Tolerance.AssertClose(vr, vs, 1e-6, 1e-20, $"rows adam v[dim={dim}]");
        }
    }

    [Theory]
    [InlineData(CpuKernelTier.Simd)]
    [InlineData(CpuKernelTier.Reference)]
    public void AdamRowsStep_ThroughBackend_LeavesUntouchedRowsUnchanged(CpuKernelTier tier)
    {
        const int rows = 6, dim = 9;
        float[] p0 = TestData.Uniform(rows * dim, 70, stream: 1);
        float[] m0 = TestData.Uniform(rows * dim, 70, -0.1f, 0.1f, stream: 2);
        float[] v0 = TestData.Uniform(rows * dim, 70, 0, 0.01f, stream: 3);
        float[] g = TestData.Uniform(rows * dim, 70, stream: 4);
        using var backend = new CpuBackend(tier);
        using var pb = Upload(backend, p0);
        using var gb = Upload(backend, g);
        using var mb = Upload(backend, m0);
        using var vb = Upload(backend, v0);
        using var ids = backend.AllocateInt(2);
        ids.Write(0, [4, 1]);
        backend.AdamRowsStep(pb.All, gb.All, mb.All, vb.All, dim, ids.All, new AdamSettings(1e-3f, Beta1, Beta2, Epsilon, 0, 3));
        float[] p = pb.ToArray(), m = mb.ToArray(), v = vb.ToArray();
        foreach (int row in new[] { 0, 2, 3, 5 })
        {
            var r = new Range(row * dim, row * dim + dim);
            Assert.True(p0.AsSpan(r).SequenceEqual(p.AsSpan(r)), $"p row {row}");
            Assert.True(m0.AsSpan(r).SequenceEqual(m.AsSpan(r)), $"m row {row}");
            Assert.True(v0.AsSpan(r).SequenceEqual(v.AsSpan(r)), $"v row {row}");
        }

        foreach (int row in new[] { 1, 4 })
        {
            Assert.False(p0.AsSpan(row * dim, dim).SequenceEqual(p.AsSpan(row * dim, dim)), $"row {row} did not move");
        }
    }

    /// <summary>
    /// p₀ = 1, lr = 0.1, L2 = 0.01, p ← p - lr·(g + L2·p):
    /// step 1, g = 0.5:   p = 1 - 0.1·(0.5 + 0.01) = 0.949;
    /// step 2, g = -0.25: p = 0.949 - 0.1·(-0.25 + 0.00949) = 0.949 + 0.024051 = 0.973051;
    /// step 3, g = 1:     p = 0.973051 - 0.1·(1 + 0.00973051) = 0.973051 - 0.100973051 = 0.872077949.
    /// Without L2: 1 - 0.05 = 0.95; 0.95 + 0.025 = 0.975; 0.975 - 0.1 = 0.875.
    /// </summary>
    [Theory]
    [InlineData("Reference", 0.01f, 0.949, 0.973051, 0.872077949)]
    [InlineData("Simd", 0.01f, 0.949, 0.973051, 0.872077949)]
    [InlineData("CpuBackend(simd)", 0.01f, 0.949, 0.973051, 0.872077949)]
    [InlineData("CpuBackend(reference)", 0.01f, 0.949, 0.973051, 0.872077949)]
    [InlineData("Reference", 0f, 0.95, 0.975, 0.875)]
    [InlineData("Simd", 0f, 0.95, 0.975, 0.875)]
    public void Sgd_ThreeSteps_MatchHandArithmetic(string variant, float l2, double p1, double p2, double p3)
    {
        const int n = 9;
        var p = Enumerable.Repeat(1f, n).ToArray();
        double[] expected = [p1, p2, p3];
        for (int step = 0; step < 3; step++)
        {
            var g = Enumerable.Repeat(HandGradients[step], n).ToArray();
            switch (variant)
            {
                case "Reference": SgdKernel.Reference(p, g, LearningRate, l2); break;
                case "Simd": SgdKernel.Simd(p, g, LearningRate, l2); break;
                default:
                    using (var backend = new CpuBackend(variant.Contains("simd", StringComparison.Ordinal) ? CpuKernelTier.Simd : CpuKernelTier.Reference))
                    using (var pb = Upload(backend, p))
                    using (var gb = Upload(backend, g))
                    {
                        backend.SgdStep(pb.All, gb.All, LearningRate, l2);
                        p = pb.ToArray();
                    }

                    break;
            }

            // rtol 1e-6: lr = 0.1f and l2 = 0.01f are not exact in binary (relative errors ~1e-8), plus a few roundings.
            for (int i = 0; i < n; i++)
            {
                Tolerance.AssertClose(expected[step], p[i], 1e-6, 0, $"{variant} p[{i}] after step {step + 1}");
            }
        }
    }

    [Fact]
    public void Sgd_Simd_EqualsReference_OverLengthSweep()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] p0 = TestData.Uniform(n, (ulong)n, stream: 1);
            float[] g = TestData.Uniform(n, (ulong)n, stream: 2);
            var expected = (float[])p0.Clone();
            var actual = new Guarded(p0);
            SgdKernel.Reference(expected, g, 0.05f, 1e-3f);
            SgdKernel.Simd(actual.Span, g, 0.05f, 1e-3f);
            // The SIMD form folds the decay, (1 - lr·l2)·p - lr·g with an FMA: 3 float roundings vs double: rtol 1e-6,
            // atol 1e-7 (< ulp(1)) where p - lr·g cancels towards 0.
            Tolerance.AssertClose(expected, actual.Span, 1e-6, 1e-7, $"sgd p[n={n}]");
            actual.AssertCanaries($"sgd p[n={n}]");
        }
    }

    private static DeviceBuffer<float> Upload(CpuBackend backend, float[] values)
    {
        var buffer = backend.AllocateFloat(values.Length);
        buffer.Write(0, values);
        return buffer;
    }

    private static void ThroughBackend(CpuKernelTier tier, float[] p, float[] g, float[] m, float[] v, AdamSettings settings, bool rows)
    {
        using var backend = new CpuBackend(tier);
        using var pb = Upload(backend, p);
        using var gb = Upload(backend, g);
        using var mb = Upload(backend, m);
        using var vb = Upload(backend, v);
        if (rows)
        {
            using var ids = backend.AllocateInt(1);
            ids.Write(0, [0]);
            backend.AdamRowsStep(pb.All, gb.All, mb.All, vb.All, p.Length, ids.All, settings);
        }
        else
        {
            backend.AdamStep(pb.All, gb.All, mb.All, vb.All, settings);
        }

        pb.Read(0, p);
        mb.Read(0, m);
        vb.Read(0, v);
    }
}
