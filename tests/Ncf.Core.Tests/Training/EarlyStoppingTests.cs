using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

/// <summary>
/// <see cref="TrainingOptions.EarlyStoppingPatience"/> against the run without it: the epochs trained must be that run's
/// epochs, bit for bit, up to the first epoch that is <c>patience</c> epochs past the best HR@10 so far, computed here
/// from the full run's reports.
/// </summary>
public sealed class EarlyStoppingTests : IDisposable
{
    // lr 0.03 makes HR@10 on this small set peak within a few epochs and then wander: a stop to find.
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 150, Items = 90, MeanPerUser = 12, TestNegatives = 20, Seed = 4 });
    private static readonly TrainingOptions Base = new() { Seed = 6, Epochs = 12, BatchSize = 64, LearningRate = 0.03f };
    private readonly string _folder = Directory.CreateTempSubdirectory("ncf-stop-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static NcfModel NewModel(CpuBackend backend)
    {
        var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 2 });
        model.Initialize(6);
        return model;
    }

    private static TrainingResult Run(TrainingOptions options, IProgress<EpochReport>? progress = null)
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, options);
        return trainer.Fit(progress);
    }

    /// <summary>The epoch at which patience <paramref name="patience"/> stops the run whose reports are <paramref name="full"/>, or null.</summary>
    private static int? StopEpoch(IReadOnlyList<EpochReport> full, int patience)
    {
        double best = double.NegativeInfinity;
        int bestEpoch = 0;
        foreach (var report in full)
        {
            if (report.Test!.Value.HitRate > best)
            {
                (best, bestEpoch) = (report.Test.Value.HitRate, report.Epoch);
            }

            if (report.Epoch - bestEpoch >= patience && report.Epoch < full.Count)
            {
                return report.Epoch;
            }
        }

        return null;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Training_stops_patience_epochs_after_the_best_and_the_epochs_before_are_the_full_run_s(int patience)
    {
        var full = Run(Base).Epochs;
        int? stop = StopEpoch(full, patience);
        Assert.True(patience > 2 || stop is not null, "the scenario should stop early at small patience");

        var stopped = Run(Base with { EarlyStoppingPatience = patience });
        Assert.Equal(stop is not null, stopped.StoppedEarly);
        Assert.Equal(stop ?? full.Count, stopped.Epochs.Count);
        Assert.Equal(full.Take(stopped.Epochs.Count).Select(r => (r.Loss, r.Test)), stopped.Epochs.Select(r => (r.Loss, r.Test)));
        // The stop leaves the best epoch patience epochs behind it (or the run ran out of epochs first).
        var trained = full.Take(stopped.Epochs.Count).ToList();
        double bestHitRate = trained.Max(r => r.Test!.Value.HitRate);
        int bestEpoch = trained.First(r => r.Test!.Value.HitRate == bestHitRate).Epoch;
        Assert.Equal(bestEpoch, stopped.Best!.Epoch);
        Assert.True(!stopped.StoppedEarly || stopped.Epochs.Count - bestEpoch == patience);
    }

    [Fact]
    public void The_best_so_far_carries_over_a_saved_state_so_a_resumed_run_stops_where_the_whole_run_stops()
    {
        var options = Base with { EarlyStoppingPatience = 2 };
        var whole = Run(options);
        Assert.True(whole.StoppedEarly);
        string path = Path.Combine(_folder, "run.state"), atStop = Path.Combine(_folder, "stop.state");
        using (var backend = new CpuBackend(threads: 1))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, options))
        {
            // Saved one epoch before the stop, after the best: a resumed run that forgot the best would go on. And at the
            // stop: a run restored there has nothing left to train.
            trainer.Fit(whole.Epochs.Count, new InlineProgress<EpochReport>(r => trainer.SaveState(r.Epoch == whole.Epochs.Count ? atStop : path)));
        }

        using (var backend = new CpuBackend(threads: 1))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, options))
        {
            trainer.RestoreState(path);
            var rest = trainer.Fit(options.Epochs - trainer.EpochsDone);
            Assert.True(rest.StoppedEarly);
            Assert.Equal(whole.Epochs.Skip(whole.Epochs.Count - 1).Select(r => (r.Epoch, r.Loss, r.Test)), rest.Epochs.Select(r => (r.Epoch, r.Loss, r.Test)));
        }

        using (var backend = new CpuBackend(threads: 1))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, options))
        {
            trainer.RestoreState(atStop);
            var rest = trainer.Fit(options.Epochs - trainer.EpochsDone);
            Assert.True(rest.StoppedEarly);
            Assert.Empty(rest.Epochs);
            Assert.Equal(whole.Epochs.Count, trainer.EpochsDone);
        }
    }

    [Fact]
    public void Patience_without_evaluation_or_below_zero_is_refused()
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend);
        Assert.Contains("needs EvaluateEachEpoch", Assert.Throws<NcfException>(() =>
            new NcfTrainer(model, Small, Base with { EarlyStoppingPatience = 3, EvaluateEachEpoch = false })).Message);
        Assert.Contains("got -1", Assert.Throws<NcfException>(() => new NcfTrainer(model, Small, Base with { EarlyStoppingPatience = -1 })).Message);
    }
}
