using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Binary cross-entropy on probabilities and the fused sigmoid + BCE on logits: the returned loss sum and the
/// gradients, SIMD against the double reference over the length sweep, and the fused kernel against an independent
/// double computation for logits up to ±100. Also the CPU backend's Kahan loss accumulator.
/// </summary>
public class LossKernelTests
{
    private const float Scale = 0.37f;

    /// <summary>Probabilities in [0, 1] with planted saturations (0, 1, 1e-9, the clamp edges, 0.5).</summary>
    private static float[] Probabilities(int n, ulong seed)
    {
        float[] p = TestData.Uniform(n, seed, 0, 1);
        float[] planted = [0f, 1f, 1e-9f, 1e-7f, 1 - 1e-7f, 0.5f, 0.9999f, 1e-4f];
        for (int i = 0; i < n; i++)
        {
            if (i % 4 == 1)
            {
                p[i] = planted[(i / 4) % planted.Length];
            }
        }

        return p;
    }

    /// <summary>Logits: a third in [-8, 8], a third in [-100, 100], a third planted at the extremes and around 0.</summary>
    private static float[] Logits(int n, ulong seed)
    {
        float[] narrow = TestData.Uniform(n, seed, -8, 8);
        float[] wide = TestData.Uniform(n, seed, -100, 100, stream: 1);
        float[] planted = [100f, -100f, 0f, 1e-3f, -1e-3f, 88.7f, -88.7f, 17f, -17f, 30f, -30f];
        var z = new float[n];
        for (int i = 0; i < n; i++)
        {
            z[i] = (i % 3) switch { 0 => narrow[i], 1 => wide[i], _ => planted[(i / 3) % planted.Length] };
        }

        return z;
    }

    [Fact]
    public void BinaryCrossEntropy_Simd_EqualsReference()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] p = Probabilities(n, (ulong)n);
            float[] t = TestData.Labels(n, (ulong)n, stream: 1);
            var expectedGrad = new float[n];
            var grad = new Guarded(n);
            double expectedLoss = BinaryCrossEntropyKernel.Reference(p, t, expectedGrad, Scale);
            double loss = BinaryCrossEntropyKernel.Simd(p, t, grad.Span, Scale);

            // Loss: float log (a few ulps) of positive terms, summed in double; log(1-p) is taken of the float 1-p,
            // whose rounding (≤ 6e-8 absolute) is an absolute error of ≤ 1.2e-7 per term: rtol 1e-6, atol 2e-7·n.
            Tolerance.AssertClose(expectedLoss, loss, 1e-6, 2e-7 * n, $"bce loss[n={n}]");
            // Gradient: scale·(p-t)/(p(1-p)), four float roundings plus the 1-p rounding above, relative: rtol 1e-6.
            Tolerance.AssertClose(expectedGrad, grad.Span, 1e-6, 0, $"bce dp[n={n}]");
            grad.AssertCanaries($"bce dp[n={n}]");
            Assert.True(double.IsFinite(loss));
            Assert.All(grad.ToArray(), g => Assert.True(float.IsFinite(g)));
        }
    }

    [Fact]
    public void BinaryCrossEntropy_ByHand()
    {
        // p = 0.8, t = 1: loss = -ln 0.8 = 0.22314355, dp = (0.8-1)/(0.8·0.2) = -1.25.
        // p = 0.25, t = 0: loss = -ln 0.75 = 0.28768207, dp = 0.25/(0.25·0.75) = 1.3333333.
        float[] p = [0.8f, 0.25f], t = [1, 0];
        foreach (bool simd in new[] { false, true })
        {
            var dp = new float[2];
            double loss = simd ? BinaryCrossEntropyKernel.Simd(p, t, dp, 1) : BinaryCrossEntropyKernel.Reference(p, t, dp, 1);
            Tolerance.AssertClose(0.22314355 + 0.28768207, loss, 1e-6, 0, $"bce loss simd={simd}");
            Tolerance.AssertClose([-1.25f, 1.3333333f], dp, 1e-6, 0, $"bce dp simd={simd}");
        }
    }

    [Fact]
    public void SigmoidBinaryCrossEntropy_Simd_EqualsReference()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] z = Logits(n, (ulong)n);
            float[] t = TestData.Labels(n, (ulong)n, stream: 2);
            var expectedGrad = new float[n];
            var grad = new Guarded(n);
            double expectedLoss = SigmoidBinaryCrossEntropyKernel.Reference(z, t, expectedGrad, Scale);
            double loss = SigmoidBinaryCrossEntropyKernel.Simd(z, t, grad.Span, Scale);

            // Loss terms are non-negative, each a few float roundings (max(z,0) - z·t is exact for t in {0,1}): the sum
            // is within a few ulps relative: rtol 2e-6.
            Tolerance.AssertClose(expectedLoss, loss, 2e-6, 1e-30, $"sbce loss[n={n}]");
            // σ is rounded to float (twice: u = 1 + e, then 1/u) before σ - t, so where σ ≈ t the error is up to ulp(1)
            // absolute, whatever the size of σ - t: atol 1.2e-7·scale.
            Tolerance.AssertClose(expectedGrad, grad.Span, 1e-6, 1.2e-7 * Scale, $"sbce dz[n={n}]");
            grad.AssertCanaries($"sbce dz[n={n}]");
        }
    }

    [Fact]
    public void SigmoidBinaryCrossEntropy_IsFiniteAndAccurate_ForLogitsUpTo100()
    {
        var grid = new List<float>();
        for (float z = -100; z <= 100; z += 0.25f)
        {
            grid.Add(z);
        }

        grid.AddRange([-88.72f, 88.72f, -87.3f, 87.3f, -16.6f, 16.6f, -1e-3f, 1e-3f, -1e-7f, 1e-7f]);
        foreach (float z in grid)
        {
            foreach (float t in new[] { 0f, 1f })
            {
                // Independent double computation: softplus(z) - z·t with log1p, σ(z) - t.
                double zd = z;
                double expectedLoss = Math.Max(zd, 0) - zd * t + Log1P(Math.Exp(-Math.Abs(zd)));
                double expectedGrad = Scale * (1 / (1 + Math.Exp(-zd)) - t);

                // 9 copies: 8 through the vector body, 1 through the scalar tail; and one alone (tail only).
                foreach (int n in new[] { 1, 9 })
                {
                    float[] logits = Enumerable.Repeat(z, n).ToArray();
                    float[] targets = Enumerable.Repeat(t, n).ToArray();
                    foreach (bool simd in new[] { false, true })
                    {
                        var grad = new float[n];
                        double loss = simd
                            ? SigmoidBinaryCrossEntropyKernel.Simd(logits, targets, grad, Scale)
                            : SigmoidBinaryCrossEntropyKernel.Reference(logits, targets, grad, Scale);
                        string name = $"{(simd ? "simd" : "reference")} z={z}, t={t}, n={n}";
                        Assert.True(double.IsFinite(loss), name);
                        Assert.All(grad, g => Assert.True(float.IsFinite(g), name));

                        // Loss: relative 2e-6; atol 1e-37 where the true loss is below float's normal range (it is
                        // then e^{-|z|} ≤ 1e-38 and may flush to zero).
                        Tolerance.AssertClose(expectedLoss, loss / n, 2e-6, 1e-37, "loss " + name);
                        // Gradient: σ - t in float, see the sweep test: rtol 1e-6, atol ulp(1)·scale (σ = 1/u rounds
                        // twice, u = 1 + e and the division, each up to ulp(1)/2 = 6e-8 near σ ≈ 1).
                        for (int i = 0; i < n; i++)
                        {
                            Tolerance.AssertClose(expectedGrad, grad[i], 1e-6, 1.2e-7 * Scale, $"dz[{i}] " + name);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// log(1 + e) accurate for tiny e (double.LogP1 is log(1 + e) evaluated naively and returns 0 below 1e-16):
    /// log(u)·e/(u - 1) with u = 1 + e cancels the rounding of u (Goldberg's trick).
    /// </summary>
    private static double Log1P(double e)
    {
        double u = 1 + e;
        return u == 1 ? e : Math.Log(u) * e / (u - 1);
    }

    [Fact]
    public void KahanAccumulator_AddsManySmallSumsAccurately()
    {
        // 1,000,000 additions of 0.1: a plain float running sum ends near 100958 (each add rounds at ulp(sum)/2);
        // the compensated one must land on the float nearest 100000 (ulp there is 0.0078).
        var accumulator = new float[2];
        for (int i = 0; i < 1_000_000; i++)
        {
            CpuBackend.KahanAdd(accumulator, 0.1);
        }

        Assert.Equal(100000f, accumulator[0]);

        float naive = 0;
        for (int i = 0; i < 1_000_000; i++)
        {
            naive += 0.1f;
        }

        Assert.True(Math.Abs(naive - 100000f) > 100, $"the naive float sum {naive} should be visibly off, or this test shows nothing");
    }

    [Theory]
    [InlineData(CpuKernelTier.Simd)]
    [InlineData(CpuKernelTier.Reference)]
    public void Backend_LossAccumulator_SumsManyBatchesAccurately(CpuKernelTier tier)
    {
        // 20,000 batches of 37 logits each, losses of very different sizes; the exact total is the double sum of the
        // per-batch returns. The float accumulator must be within one float ulp of it (2 ulps allowed: the final
        // rounding plus the float-stored compensation).
        using var backend = new CpuBackend(tier);
        const int n = 37, batches = 20_000;
        using var logits = backend.AllocateFloat(n);
        using var targets = backend.AllocateFloat(n);
        using var grad = backend.AllocateFloat(n);
        using var accumulator = backend.AllocateFloat(2);
        double exact = 0;
        var rng = new Ncf.Randomness.Rng(99);
        var z = new float[n];
        var t = new float[n];
        var scratch = new float[n];
        for (int b = 0; b < batches; b++)
        {
            float spread = (float)Math.Pow(10, rng.NextInt(4) - 2); // logits of scale 0.01 .. 10
            for (int i = 0; i < n; i++)
            {
                z[i] = (float)(spread * (2 * rng.NextDouble() - 1));
                t[i] = rng.NextInt(2);
            }

            logits.Write(0, z);
            targets.Write(0, t);
            backend.SigmoidBinaryCrossEntropy(logits.All, targets.All, grad.All, 1, accumulator.All);
            exact += tier == CpuKernelTier.Simd
                ? SigmoidBinaryCrossEntropyKernel.Simd(z, t, scratch, 1)
                : SigmoidBinaryCrossEntropyKernel.Reference(z, t, scratch, 1);
        }

        float sum = accumulator.ToArray()[0];
        double ulp = MathF.BitIncrement((float)exact) - (float)exact;
        Assert.True(Math.Abs(sum - exact) <= 2 * ulp, $"accumulated {sum:G9}, exact {exact:G17}, float ulp {ulp:G3}");
    }
}
