using Ncf.Backends.Cpu;
using Ncf.Kernels;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

/// <summary>
/// The fused CPU step (whole forward and backward per chunk of rows, one fork-join, then one owner per table) against
/// the layer-by-layer path, which runs each layer's own kernel and is itself checked against finite differences.
/// </summary>
public class FusedCpuStepTests
{
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 300, Items = 200, MeanPerUser = 25 });

    private static (float[] Parameters, double[] Losses, double[] HitRates) Train(ModelKind kind, OptimizerKind optimizer, bool fused,
        int threads, int batch, int epochs = 2, int factors = 8, float l2 = 0)
    {
        using var backend = new CpuBackend(threads: threads);
        using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = kind, Factors = factors, Layers = 3 });
        model.Initialize(11);
        var options = new TrainingOptions
        {
            Epochs = epochs, Seed = 3, BatchSize = batch, Optimizer = optimizer, FusedCpuStep = fused,
            LearningRate = optimizer == OptimizerKind.Sgd ? 0.05f : 0.001f, L2 = l2,
        };
        using var trainer = new NcfTrainer(model, Small, options);
        var result = trainer.Fit();
        return (model.Parameters.ToArray(), result.Epochs.Select(e => e.Loss).ToArray(), result.Epochs.Select(e => e.Test!.Value.HitRate).ToArray());
    }

    [Theory]
    [InlineData(ModelKind.NeuMF, OptimizerKind.Adam)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.LazyAdam)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.Sgd)]
    [InlineData(ModelKind.Gmf, OptimizerKind.Adam)]
    [InlineData(ModelKind.Gmf, OptimizerKind.LazyAdam)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.DeferredAdam)]
    [InlineData(ModelKind.Gmf, OptimizerKind.DeferredAdam, 1e-4f)]
    [InlineData(ModelKind.Mlp, OptimizerKind.Adam)]
    [InlineData(ModelKind.Mlp, OptimizerKind.Sgd)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.Adam, 1e-4f)] // L2: untouched rows still decay towards 0
    [InlineData(ModelKind.NeuMF, OptimizerKind.Sgd, 1e-4f)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.Adam, 0f, 16)] // f = 16: MLP rows of 64 floats, walked by runs of rows
    [InlineData(ModelKind.NeuMF, OptimizerKind.Adam, 1e-4f, 16)]
    public void Fused_steps_give_the_layer_by_layer_parameters_bit_for_bit(ModelKind kind, OptimizerKind optimizer, float l2 = 0, int factors = 8)
    {
        // Batch 256 (two chunks of 128) with a ragged last batch of the epoch. Every row is computed by the same
        // kernels, and the dense-layer gradients are summed per the same 128-row blocks in the same order, so the
        // parameters must agree exactly. Only the reported loss may differ: its double-precision sum is taken per
        // chunk and then across chunks, so it is compared to 1e-12 relative. Embedding rows the batch did not touch are
        // updated without reading their zero gradient (Adam) or skipped (SGD without L2): bit-identical by design.
        var layered = Train(kind, optimizer, fused: false, threads: 2, batch: 256, l2: l2, factors: factors);
        var fused = Train(kind, optimizer, fused: true, threads: 2, batch: 256, l2: l2, factors: factors);
        Assert.Equal(layered.Parameters, fused.Parameters);
        Assert.Equal(layered.HitRates, fused.HitRates);
        for (int e = 0; e < layered.Losses.Length; e++)
        {
            Assert.True(Math.Abs(layered.Losses[e] - fused.Losses[e]) <= 1e-12 * layered.Losses[e], $"epoch {e + 1}: {layered.Losses[e]} vs {fused.Losses[e]}");
        }
    }

    [Theory]
    [InlineData(256, OptimizerKind.Adam, 8)] // dense Adam: chunks and table owners on both threads
    [InlineData(3000, OptimizerKind.Adam, 8)] // 16 chunks of 192 rows, the last one short
    [InlineData(100, OptimizerKind.Adam, 8)] // a single chunk
    [InlineData(256, OptimizerKind.LazyAdam, 8)] // lazy Adam on a narrow tower: one thread does everything
    [InlineData(256, OptimizerKind.LazyAdam, 32)] // lazy Adam on a wide tower: both threads again
    [InlineData(256, OptimizerKind.DeferredAdam, 32)] // a wide tower, so both threads run (catch-up phase included)
    public void Fused_steps_do_not_depend_on_the_thread_count(int batch, OptimizerKind optimizer, int factors)
    {
        var one = Train(ModelKind.NeuMF, optimizer, fused: true, threads: 1, batch: batch, epochs: 1, factors: factors);
        var two = Train(ModelKind.NeuMF, optimizer, fused: true, threads: 2, batch: batch, epochs: 1, factors: factors);
        Assert.Equal(one.Parameters, two.Parameters);
        Assert.Equal(one.Losses.Select(BitConverter.DoubleToInt64Bits), two.Losses.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Rows_and_slices_off_SIMD_lane_boundaries_match_too()
    {
        // f = 12: GMF rows of 12 floats and tower slices of 12, 24, 48 floats start off 8- and 16-float lane
        // boundaries, so elements that the whole-buffer kernel runs in a vector fall to a scalar tail here (and back);
        // the tails repeat a lane's arithmetic, so the bits agree.
        var layered = Train(ModelKind.NeuMF, OptimizerKind.Adam, fused: false, threads: 2, batch: 256, epochs: 1, factors: 12);
        var fused = Train(ModelKind.NeuMF, OptimizerKind.Adam, fused: true, threads: 2, batch: 256, epochs: 1, factors: 12);
        Assert.Equal(layered.Parameters, fused.Parameters);
    }

    [Fact]
    public void A_large_batch_matches_the_layer_by_layer_path_too()
    {
        // 16 chunks whose starts are multiples of 16 rows, so the loss kernel runs each row on the same SIMD lane path.
        var layered = Train(ModelKind.NeuMF, OptimizerKind.LazyAdam, fused: false, threads: 2, batch: 3000, epochs: 1);
        var fused = Train(ModelKind.NeuMF, OptimizerKind.LazyAdam, fused: true, threads: 2, batch: 3000, epochs: 1);
        Assert.Equal(layered.Parameters, fused.Parameters);
    }

    [Theory]
    [InlineData(0.999f, 2)] // the defaults: these ~290 steps all fall in the stepwise range (the first ~4,800)
    [InlineData(0.95f, 4)] // β2 = 0.95: stepwise to step ~120, tail differences to ~420, then the steady closed form
    public void Deferred_adam_trains_as_exact_adam_does(float beta2, int epochs)
    {
        // Same model, data and examples; deferred Adam applies exact Adam's zero-gradient steps late, so only rounding
        // and the closed form's second-order ε spread separate them. Relative L2 distance of all the parameters from
        // exact Adam's, measured: 0 at the defaults (the stepwise range repeats exact Adam's arithmetic bit for bit),
        // 1.8e-7 at β2 = 0.95, against 1e-6 allowed. Lazy Adam drops those steps and ends more than 1e-3 away.
        float[] Run(AdamEmbeddingUpdate embeddings, out double[] losses, out AdamCatchUp? tables)
        {
            using var backend = new CpuBackend(threads: 2);
            using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Factors = 8, Layers = 3 });
            model.Initialize(11);
            var adam = new Adam(model.Parameters, new AdamOptions { Beta2 = beta2, Embeddings = embeddings });
            using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = epochs, Seed = 3 }, adam);
            losses = trainer.Fit().Epochs.Select(e => e.Loss).ToArray();
            tables = adam.CatchUpTables;
            Assert.True(adam.StepCount > (tables?.SteadyStep ?? 0) || beta2 > 0.99f, $"{adam.StepCount} steps");
            return model.Parameters.ToArray();
        }

        float[] exact = Run(AdamEmbeddingUpdate.Dense, out var exactLosses, out _);
        float[] deferred = Run(AdamEmbeddingUpdate.Deferred, out var deferredLosses, out var catchUp);
        float[] lazy = Run(AdamEmbeddingUpdate.Lazy, out _, out _);
        double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum() / a.Sum(x => (double)x * x));
        Assert.True(Distance(exact, deferred) < 1e-6, $"deferred vs exact {Distance(exact, deferred):E2} (stepwise until {catchUp!.StepwiseUntil})");
        Assert.True(Distance(exact, lazy) > 1e-3, $"lazy vs exact {Distance(exact, lazy):E2}");
        for (int e = 0; e < epochs; e++)
        {
            Assert.Equal(exactLosses[e], deferredLosses[e], 1e-6);
        }
    }

    [Theory]
    [InlineData(true, 100, 50, false)] // guessed two cores, one is twice as fast: switches
    [InlineData(true, 50, 100, true)] // guessed right: stays
    [InlineData(false, 98, 100, false)] // within the 5 % noise margin: keeps the guess
    public void The_threading_probe_keeps_the_faster_mode(bool guess, long parallelTicks, long serialTicks, bool expected)
    {
        var probe = new ThreadingProbe();
        for (int step = 0; step < 1000; step++)
        {
            bool parallel = probe.Choose(possible: true, guess);
            probe.Record(parallel ? parallelTicks : serialTicks);
        }

        Assert.Equal(expected, probe.Parallel);
        var single = new ThreadingProbe();
        Assert.False(single.Choose(possible: false, guess: true));
    }

    [Fact]
    public void The_reference_tier_keeps_the_layer_by_layer_path()
    {
        using var backend = new CpuBackend(CpuKernelTier.Reference);
        using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
        using var optimizer = NcfTrainer.CreateOptimizer(model, new TrainingOptions());
        Assert.Null(FusedCpuStep.TryCreate(model, optimizer, 256));
        using var simd = new CpuBackend();
        using var simdModel = new NcfModel(simd, Small.UserCount, Small.ItemCount, new ModelOptions());
        using var simdOptimizer = NcfTrainer.CreateOptimizer(simdModel, new TrainingOptions());
        Assert.NotNull(FusedCpuStep.TryCreate(simdModel, simdOptimizer, 256));
    }
}
