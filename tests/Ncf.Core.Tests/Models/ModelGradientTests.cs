using Ncf.Backends.Cpu;
using Ncf.Core.Tests.Layers;
using Ncf.Models;
using static Ncf.Core.Tests.Layers.FiniteDifference;

namespace Ncf.Core.Tests.Models;

/// <summary>
/// End-to-end gradient checks: the engine's forward, fused loss and backward for GMF, MLP and NeuMF against
/// finite differences of the double-precision reference model, for every parameter of every slice.
/// </summary>
public class ModelGradientTests
{
    private static readonly int[] Users = [0, 3, 1, 3, 2, 0, 3];
    private static readonly int[] Items = [4, 1, 1, 0, 2, 4, 3];
    private static readonly float[] Labels = [1, 0, 1, 1, 0, 0, 1];

    public static TheoryData<ModelKind, CpuKernelTier> Cases => new()
    {
        { ModelKind.Gmf, CpuKernelTier.Simd },
        { ModelKind.Mlp, CpuKernelTier.Simd },
        { ModelKind.NeuMF, CpuKernelTier.Simd },
        { ModelKind.NeuMF, CpuKernelTier.Reference },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_gradient_matches_finite_differences_for_every_slice(ModelKind kind, CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        var options = new ModelOptions { Kind = kind, Factors = 3, Layers = 2 };
        using var model = new NcfModel(backend, 4, 5, options);
        var layout = model.Parameters.Layout;

        // Larger values than the N(0, 0.01) initialisation, so every term of the gradient is well above rounding.
        var theta = AsFloatValues(Random(layout.Length, 99, 0.8));
        model.Parameters.Load(ToFloat(theta));
        model.ZeroGradients();
        var logits = model.Forward(Users, Items);
        var dLogits = model.LogitGradients(Users.Length);
        var labels = backend.AllocateFloat(Labels.Length);
        labels.Write(0, Labels);
        var accumulator = backend.AllocateFloat(2);
        backend.SigmoidBinaryCrossEntropy(logits, labels.All, dLogits, 1f / Users.Length, accumulator.All);
        model.Backward(dLogits, Users.Length);
        var analytic = model.Parameters.Gradients.ToArray();

        double expectedLoss = ReferenceNcf.MeanLoss(theta, layout, options, Users, Items, Labels);
        Assert.Equal(expectedLoss, accumulator.ToArray()[0] / Users.Length, 5);
        var numeric = Gradient(p => ReferenceNcf.MeanLoss(p, layout, options, Users, Items, Labels), (double[])theta.Clone());
        foreach (var slice in layout.Slices)
        {
            FiniteDifference.AssertMatches(numeric.AsSpan(slice.Offset, slice.Length), analytic.AsSpan(slice.Offset, slice.Length), slice.Name);
        }

        // The check must be able to fail: a gradient that misses one term is caught.
        Assert.Contains(numeric, g => Math.Abs(g) > 1e-3);
    }

    [Theory]
    [InlineData(ModelKind.Gmf)]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.NeuMF)]
    public void Forward_matches_reference_model_after_initialisation(ModelKind kind)
    {
        using var backend = new CpuBackend();
        var options = new ModelOptions { Kind = kind, Factors = 8, Layers = 3 };
        using var model = new NcfModel(backend, 7, 9, options);
        model.Initialize(5);
        var theta = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        int[] users = [0, 6, 3, 3];
        int[] items = [8, 0, 4, 4];
        var scores = new float[4];
        model.Score(users, items, scores);
        for (int n = 0; n < users.Length; n++)
        {
            Assert.Equal(ReferenceNcf.Logit(theta, model.Parameters.Layout, options, users[n], items[n]), scores[n], 1e-6);
        }
    }

    [Theory]
    [InlineData(ModelKind.Gmf, 1, 8, 37, 1)]
    [InlineData(ModelKind.Mlp, 1, 8, 37, 1)]
    [InlineData(ModelKind.NeuMF, 3, 8, 37, 1)]
    [InlineData(ModelKind.NeuMF, 1, 8, 37, 1)]
    [InlineData(ModelKind.NeuMF, 3, 8, 600, 2)] // three blocks of items (the last one short) over two threads
    [InlineData(ModelKind.NeuMF, 2, 12, 300, 2)] // rows off SIMD-lane boundaries
    [InlineData(ModelKind.Gmf, 1, 5, 300, 2)]
    public void Full_catalogue_scoring_equals_pair_scoring(ModelKind kind, int layers, int factors, int items, int threads)
    {
        using var backend = new CpuBackend(threads: threads);
        using var model = new NcfModel(backend, 6, items, new ModelOptions { Kind = kind, Factors = factors, Layers = layers });
        model.Parameters.Load(ToFloat(Random(model.Parameters.Layout.Length, 31, 0.5)));
        int[] users = [4, 0, 4, 5];
        var fast = new float[users.Length * items];
        model.ScoreAllItems(users, fast);
        var pairs = new float[items];
        for (int u = 0; u < users.Length; u++)
        {
            // The layer-by-layer forward pass (each layer's own kernel) is the reference.
            var logits = model.Forward(Enumerable.Repeat(users[u], items).ToArray(), Enumerable.Range(0, items).ToArray());
            logits.Buffer.Read(logits.Offset, pairs);
            for (int i = 0; i < items; i++)
            {
                // The first layer's sum is split in two and reordered: float rounding only (|logit| ~ 1, ~1e-7 relative).
                Assert.True(Math.Abs(fast[u * items + i] - pairs[i]) <= 1e-5 + 1e-5 * Math.Abs(pairs[i]), $"user {users[u]} item {i}: {fast[u * items + i]} vs {pairs[i]}");
            }
        }

        // The same user twice in one call gets the same scores, bit for bit.
        Assert.Equal(fast.AsSpan(0, items).ToArray(), fast.AsSpan(2 * items, items).ToArray());
    }

    [Fact]
    public void Pair_scoring_after_scoring_the_catalogue_for_several_users_reuses_no_short_buffer()
    {
        // Regression: scoring the catalogue for 4 users grew the shared user buffer only, and 2 pairs scored next
        // then overran the pair-item buffer. Each pair must score as it does on a fresh model, bit for bit.
        using var backend = new CpuBackend(threads: 2);
        Assert.Equal(CpuKernelTier.Simd, backend.Tier); // the fused scorer, where the buffers live, runs on this tier only
        var options = new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 2 };
        using var used = new NcfModel(backend, 6, 40, options);
        using var fresh = new NcfModel(backend, 6, 40, options);
        var theta = ToFloat(Random(used.Parameters.Layout.Length, 7, 0.5));
        used.Parameters.Load(theta);
        fresh.Parameters.Load(theta);
        used.ScoreAllItems([0, 1, 2, 3], new float[4 * 40]);
        int[] users = [5, 1], items = [39, 3];
        var expected = new float[2];
        var actual = new float[2];
        fresh.Score(users, items, expected);
        used.Score(users, items, actual);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(ModelKind.NeuMF, 3, 1)]
    [InlineData(ModelKind.NeuMF, 3, 2)]
    [InlineData(ModelKind.Mlp, 2, 2)]
    [InlineData(ModelKind.Gmf, 1, 2)]
    public void Pair_scoring_equals_the_layer_by_layer_forward_pass(ModelKind kind, int layers, int threads)
    {
        // 700 pairs (three blocks of 256, the last short) in runs of equal users, as the evaluator sends them, and
        // with users changing from row to row.
        using var backend = new CpuBackend(threads: threads);
        using var model = new NcfModel(backend, 9, 150, new ModelOptions { Kind = kind, Factors = 8, Layers = layers });
        model.Parameters.Load(ToFloat(Random(model.Parameters.Layout.Length, 37, 0.5)));
        int[] users = Enumerable.Range(0, 700).Select(n => n < 400 ? n / 100 : n % 9).ToArray();
        int[] items = Enumerable.Range(0, 700).Select(n => (n * 37) % 150).ToArray();
        var scored = new float[700];
        model.Score(users, items, scored);
        var reference = new float[700];
        var logits = model.Forward(users, items);
        logits.Buffer.Read(logits.Offset, reference);
        for (int n = 0; n < 700; n++)
        {
            // The first layer's sum is split in two and reordered: float rounding only.
            Assert.True(Math.Abs(scored[n] - reference[n]) <= 1e-5 + 1e-5 * Math.Abs(reference[n]), $"pair {n}: {scored[n]} vs {reference[n]}");
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => model.Score([0, 9], [1, 1], new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Score([0], [150], new float[1]));
    }

    /// <summary>Hides the full-catalogue path, so the evaluator scores pair by pair.</summary>
    private sealed class PairsOnly(IScorer inner) : IScorer
    {
        public int UserCount => inner.UserCount;

        public int ItemCount => inner.ItemCount;

        public void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) => inner.Score(users, items, scores);
    }

    [Fact]
    public void Full_ranking_and_top_k_give_the_same_answers_through_the_full_catalogue_path()
    {
        var data = Ncf.Data.SyntheticData.Generate(new Ncf.Data.SyntheticDataOptions { Users = 150, Items = 200, MeanPerUser = 20 });
        using var backend = new CpuBackend();
        using var model = new NcfModel(backend, data.UserCount, data.ItemCount, new ModelOptions());
        model.Initialize(8);
        using (var trainer = new Ncf.Training.NcfTrainer(model, data, new Ncf.Training.TrainingOptions { Epochs = 2 }))
        {
            trainer.Fit();
        }

        var fast = Ncf.Evaluation.Evaluator.FullRanking(model, data.Test!, data.Train, 10);
        var slow = Ncf.Evaluation.Evaluator.FullRanking(new PairsOnly(model), data.Test!, data.Train, 10);
        Assert.Equal(slow.HitRate, fast.HitRate, 3);
        Assert.Equal(slow.Ndcg, fast.Ndcg, 3);
        Assert.True(fast.HitRate > 0, "the check needs some hits to compare");
        var topFast = Ncf.Evaluation.TopK.ForUser(model, 7, 10, data.Train);
        var topSlow = Ncf.Evaluation.TopK.ForUser(new PairsOnly(model), 7, 10, data.Train);
        Assert.Equal(topSlow.Select(r => r.Item), topFast.Select(r => r.Item));
    }

    [Fact]
    public void Initialisation_follows_the_documented_distributions()
    {
        using var backend = new CpuBackend();
        using var model = new NcfModel(backend, 3000, 2000, new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 3 });
        model.Initialize(1);
        var values = model.Parameters.ToArray();
        var layout = model.Parameters.Layout;
        var user = values.AsSpan(layout["mlp.user"].Offset, layout["mlp.user"].Length).ToArray();
        double mean = user.Average(v => (double)v), std = Math.Sqrt(user.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, -0.0005, 0.0005);
        Assert.InRange(std, 0.0097, 0.0103); // N(0, 0.01²) over 96,000 draws: std error of the std ≈ 2.3e-5
        var w0 = layout["mlp.0.weight"];
        double glorot = Math.Sqrt(6.0 / (w0.Rows + w0.Columns));
        var tower = values.AsSpan(w0.Offset, w0.Length).ToArray();
        Assert.All(tower, v => Assert.InRange(v, -glorot, glorot));
        Assert.True(tower.Max() > 0.9 * glorot && tower.Min() < -0.9 * glorot);
        Assert.All(values.AsSpan(layout["mlp.0.bias"].Offset, layout["mlp.0.bias"].Length).ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(0f)]
    [InlineData(0.3f)]
    [InlineData(1f)]
    public void Pretrained_neumf_scores_as_the_alpha_blend_of_gmf_and_mlp(float alpha)
    {
        using var backend = new CpuBackend();
        using var gmf = new NcfModel(backend, 5, 6, new ModelOptions { Kind = ModelKind.Gmf, Factors = 4 });
        using var mlp = new NcfModel(backend, 5, 6, new ModelOptions { Kind = ModelKind.Mlp, Factors = 4, Layers = 2 });
        gmf.Parameters.Load(ToFloat(Random(gmf.Parameters.Layout.Length, 20)));
        mlp.Parameters.Load(ToFloat(Random(mlp.Parameters.Layout.Length, 21)));
        using var neumf = NcfModel.FromPretrained(gmf, mlp, alpha);
        int[] users = [0, 1, 2, 3, 4, 4];
        int[] items = [5, 4, 3, 2, 1, 0];
        var g = new float[6];
        var m = new float[6];
        var n = new float[6];
        gmf.Score(users, items, g);
        mlp.Score(users, items, m);
        neumf.Score(users, items, n);

        // logit_NeuMF = α·(h_g·φ_g) + (1-α)·(h_m·φ_m) + α·b_g + (1-α)·b_m = α·logit_GMF + (1-α)·logit_MLP.
        for (int k = 0; k < 6; k++)
        {
            Assert.Equal(alpha * g[k] + (1 - alpha) * m[k], n[k], 5);
        }
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Pretraining_refuses_an_alpha_outside_zero_to_one(float alpha)
    {
        using var backend = new CpuBackend();
        using var gmf = new NcfModel(backend, 5, 6, new ModelOptions { Kind = ModelKind.Gmf, Factors = 4 });
        using var mlp = new NcfModel(backend, 5, 6, new ModelOptions { Kind = ModelKind.Mlp, Factors = 4, Layers = 2 });
        var error = Assert.Throws<NcfException>(() => NcfModel.FromPretrained(gmf, mlp, alpha));
        Assert.Contains("alpha", error.Message);
    }
}
