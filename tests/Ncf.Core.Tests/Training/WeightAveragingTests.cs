using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

/// <summary>
/// <see cref="TrainingOptions.AverageFromEpoch"/> against the mean computed by hand from a plain run of the same seed:
/// the same examples and steps must be taken (training goes on from its own steps, not from the mean), and the model
/// must hold the mean of the epoch-end parameters between epochs.
/// </summary>
public class WeightAveragingTests
{
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 300, Items = 200, MeanPerUser = 25 });

    // The trainer keeps the running mean in float (mean += (x − mean)/n), the oracle sums in double: each of the n ≤ 4
    // updates rounds once, so they differ by a few float ulps of the parameter, well under 1e-6 of its size.
    private const double Relative = 1e-6;

    /// <summary>Parameters at the end of each epoch of a run without averaging.</summary>
    private static List<float[]> PlainRun(OptimizerKind optimizer, int epochs)
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Seed = 3, Optimizer = optimizer });
        var ends = new List<float[]>();
        for (int e = 0; e < epochs; e++)
        {
            trainer.TrainEpoch();
            ends.Add(model.Parameters.ToArray());
        }

        return ends;
    }

    private static NcfModel NewModel(CpuBackend backend)
    {
        var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8 });
        model.Initialize(3);
        return model;
    }

    private static double[] Mean(IEnumerable<float[]> points)
    {
        var list = points.ToList();
        var mean = new double[list[0].Length];
        foreach (var p in list)
        {
            for (int i = 0; i < mean.Length; i++)
            {
                mean[i] += p[i] / (double)list.Count;
            }
        }

        return mean;
    }

    private static void AssertHolds(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = Relative * Math.Max(1e-2, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}: parameter {i} is {actual[i]}, expected {expected[i]}");
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.DeferredAdam)]
    [InlineData(OptimizerKind.Sgd)]
    public void Between_epochs_the_model_holds_the_mean_of_the_epoch_ends_since_the_start_epoch(OptimizerKind optimizer)
    {
        var plain = PlainRun(optimizer, epochs: 4);
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Seed = 3, Optimizer = optimizer, AverageFromEpoch = 2 });

        var first = trainer.TrainEpoch();
        Assert.Equal(0, first.AveragedEpochs);
        Assert.Equal(plain[0], model.Parameters.ToArray());

        for (int epoch = 2; epoch <= 4; epoch++)
        {
            var report = trainer.TrainEpoch();
            Assert.Equal(epoch - 1, report.AveragedEpochs);
            Assert.Equal(epoch - 1, trainer.AveragedEpochs);
            // Epochs 3 and 4 end where the plain run's do only if training went on from its own steps, not the mean.
            AssertHolds(Mean(plain.Skip(1).Take(epoch - 1)), model.Parameters.ToArray(), $"after epoch {epoch}");
        }

        Assert.NotEqual(plain[3], model.Parameters.ToArray());
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.DeferredAdam)] // its catch-up before each evaluation must leave the mean alone
    public void Fit_reports_and_returns_the_mean_and_its_metrics(OptimizerKind optimizer)
    {
        var plain = PlainRun(optimizer, epochs: 3);
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Seed = 3, Epochs = 3, AverageFromEpoch = 1, Optimizer = optimizer });
        var result = trainer.Fit();

        Assert.Equal([1, 2, 3], result.Epochs.Select(e => e.AveragedEpochs));
        AssertHolds(Mean(plain), model.Parameters.ToArray(), "after Fit");
        // The last report's metrics are those of the model Fit leaves behind: the mean, not the last step.
        var metrics = Evaluator.SampledRanking(model, Small.Test!, 10, TieBreaking.Pessimistic);
        Assert.Equal(metrics, result.Final!.Test);
    }

    [Fact]
    public void A_cancelled_epoch_leaves_the_mean_in_the_model_and_training_resumes_from_its_own_steps()
    {
        var plain = PlainRun(OptimizerKind.Adam, epochs: 3);
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Seed = 3, AverageFromEpoch = 1 });
        trainer.TrainEpoch();
        trainer.TrainEpoch();

        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.TrainEpoch(cancel.Token));
        AssertHolds(Mean(plain.Take(2)), model.Parameters.ToArray(), "after the cancelled epoch");
        Assert.Equal(2, trainer.EpochsDone);

        trainer.TrainEpoch();
        AssertHolds(Mean(plain), model.Parameters.ToArray(), "after the resumed epoch");
    }

    [Fact]
    public void An_epoch_cancelled_midway_keeps_its_steps_for_the_next_step_and_the_mean_in_the_model()
    {
        // Big enough for the trainer's progress report (every 2^20 examples) to come before the epoch's last batch, so
        // the cancel lands mid-epoch at the same batch in both runs: 2,500 users × ~110 positives × 5 ≈ 1.4 M examples.
        var data = SyntheticData.Generate(new SyntheticDataOptions { Users = 2500, Items = 1000, MeanPerUser = 110, Seed = 8 });
        int[] users = [0, 1, 2, 3], items = [4, 5, 6, 7];
        float[] labels = [1, 0, 1, 0];
        float[] Run(int averageFrom, out float[] afterCancel, out float[] firstEpoch)
        {
            using var backend = new CpuBackend(threads: 1);
            using var model = new NcfModel(backend, data.UserCount, data.ItemCount, new ModelOptions { Kind = ModelKind.Gmf, Factors = 8 });
            model.Initialize(8);
            using var trainer = new NcfTrainer(model, data, new TrainingOptions { Seed = 8, AverageFromEpoch = averageFrom });
            trainer.TrainEpoch();
            firstEpoch = model.Parameters.ToArray();
            using var cancel = new CancellationTokenSource();
            long reportedAt = 0;
            Assert.ThrowsAny<OperationCanceledException>(() => trainer.TrainEpoch(cancel.Token, new InlineProgress<BatchProgress>(p =>
            {
                reportedAt = p.SamplesDone;
                cancel.Cancel();
            })));
            Assert.InRange(reportedAt, 1, 1_100_000);
            afterCancel = model.Parameters.ToArray();
            // The same explicit step on both trainers: equal only if the averaged one steps from the cancelled epoch's point.
            trainer.TrainBatch(users, items, labels);
            return model.Parameters.ToArray();
        }

        var plainAfterStep = Run(0, out var plainAfterCancel, out _);
        var averagedAfterStep = Run(1, out var averagedAfterCancel, out var averagedFirstEpoch);
        Assert.NotEqual(averagedFirstEpoch, plainAfterCancel);
        Assert.Equal(averagedFirstEpoch, averagedAfterCancel);
        Assert.Equal(plainAfterStep, averagedAfterStep);
    }

    [Fact]
    public void A_negative_start_epoch_is_refused()
    {
        var error = Assert.Throws<NcfException>(() => new TrainingOptions { AverageFromEpoch = -1 }.Validate());
        Assert.Contains("-1", error.Message);
    }
}
