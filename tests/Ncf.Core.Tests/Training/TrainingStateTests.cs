using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

/// <summary>
/// <see cref="NcfTrainer.SaveState(string)"/> / <see cref="NcfTrainer.RestoreState(string)"/> against the oracle that
/// matters: a run stopped after some epochs and continued by a new trainer from the saved state must end with the same
/// parameters, bit for bit, and the same epoch losses as the run that never stopped (same seed, same CPU backend).
/// </summary>
public sealed class TrainingStateTests : IDisposable
{
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 120, Items = 90, MeanPerUser = 15, TestNegatives = 20, Seed = 8 });
    private readonly string _folder = Directory.CreateTempSubdirectory("ncf-state-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static NcfModel NewModel(CpuBackend backend, ModelKind kind = ModelKind.NeuMF, ulong seed = 3)
    {
        var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = kind, Factors = 8, Layers = 2 });
        model.Initialize(seed);
        return model;
    }

    private static TrainingOptions Options(OptimizerKind optimizer, int averageFrom) =>
        new() { Seed = 5, Optimizer = optimizer, AverageFromEpoch = averageFrom, BatchSize = 64, EvaluateEachEpoch = false };

    /// <summary>Losses of each epoch and the final parameters of a run of <paramref name="epochs"/> epochs without a stop.</summary>
    private static (double[] Losses, float[] Parameters) Uninterrupted(OptimizerKind optimizer, int averageFrom, int epochs, int threads)
    {
        using var backend = new CpuBackend(threads: threads);
        using var model = NewModel(backend);
        using var trainer = new NcfTrainer(model, Small, Options(optimizer, averageFrom));
        var losses = Enumerable.Range(0, epochs).Select(_ => trainer.TrainEpoch().Loss).ToArray();
        return (losses, model.Parameters.ToArray());
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0, 1)]
    [InlineData(OptimizerKind.Adam, 2, 2)]
    [InlineData(OptimizerKind.LazyAdam, 0, 1)]
    [InlineData(OptimizerKind.DeferredAdam, 0, 1)]
    [InlineData(OptimizerKind.DeferredAdam, 3, 2)]
    [InlineData(OptimizerKind.Sgd, 2, 1)]
    public void A_run_continued_from_its_saved_state_ends_exactly_where_the_run_that_never_stopped_ends(OptimizerKind optimizer, int averageFrom, int threads)
    {
        const int Epochs = 5, StopAfter = 3;
        var (expectedLosses, expected) = Uninterrupted(optimizer, averageFrom, Epochs, threads);
        string path = Path.Combine(_folder, "run.state");
        var losses = new List<double>();
        using (var backend = new CpuBackend(threads: threads))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, Options(optimizer, averageFrom)))
        {
            for (int e = 0; e < StopAfter; e++)
            {
                losses.Add(trainer.TrainEpoch().Loss);
            }

            trainer.SaveState(path);
        }

        // A fresh process would start from another initialisation: the state must replace all of it.
        using (var backend = new CpuBackend(threads: threads))
        using (var model = NewModel(backend, seed: 99))
        using (var trainer = new NcfTrainer(model, Small, Options(optimizer, averageFrom)))
        {
            trainer.RestoreState(path);
            Assert.Equal(StopAfter, trainer.EpochsDone);
            Assert.Equal(averageFrom == 0 ? 0 : StopAfter - averageFrom + 1, trainer.AveragedEpochs);
            for (int e = StopAfter; e < Epochs; e++)
            {
                var report = trainer.TrainEpoch();
                Assert.Equal(e + 1, report.Epoch);
                losses.Add(report.Loss);
            }

            Assert.Equal(expectedLosses, losses);
            Assert.Equal(expected, model.Parameters.ToArray());
        }
    }

    [Fact]
    public void A_state_saved_from_Fit_s_progress_resumes_Fit_with_the_same_reports_and_no_second_evaluation_before_training()
    {
        // What `ncf train --state` does: save at each epoch end from the progress callback, with the next epoch's build
        // already under way in the background, and evaluation before training (epoch 0) and after each epoch.
        var options = new TrainingOptions { Seed = 5, Epochs = 4, BatchSize = 64, EvaluateBeforeTraining = true, Optimizer = OptimizerKind.DeferredAdam };
        string path = Path.Combine(_folder, "fit.state");
        List<EpochReport> full;
        float[] expected;
        using (var backend = new CpuBackend(threads: 2))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, options))
        {
            full = [.. trainer.Fit(new InlineProgress<EpochReport>(r =>
            {
                if (r.Epoch == 2)
                {
                    trainer.SaveState(path, "reports of epochs 0-2"u8);
                }
            })).Epochs];
            expected = model.Parameters.ToArray();
        }

        using (var backend = new CpuBackend(threads: 2))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, options))
        {
            Assert.Equal("reports of epochs 0-2"u8.ToArray(), NcfTrainer.ReadStateCallerData(path));
            Assert.Equal("reports of epochs 0-2"u8.ToArray(), trainer.RestoreState(path));
            var rest = trainer.Fit(options.Epochs - trainer.EpochsDone).Epochs;
            Assert.Equal([3, 4], rest.Select(r => r.Epoch));
            Assert.Equal(full.Skip(3).Select(r => (r.Loss, r.Test)), rest.Select(r => (r.Loss, r.Test)));
            Assert.Equal(expected, model.Parameters.ToArray());
        }
    }

    [Fact]
    public void A_state_read_once_restores_two_trainers_that_each_end_where_the_run_that_never_stopped_ends()
    {
        // Averaging from epoch 2, so the state carries a running mean: the first trainer's later epochs update its mean,
        // which must not be the state's own array, or the second trainer would resume from the first one's mean.
        const int Epochs = 5, StopAfter = 3, AverageFrom = 2;
        var (expectedLosses, expected) = Uninterrupted(OptimizerKind.DeferredAdam, AverageFrom, Epochs, threads: 1);
        string path = Path.Combine(_folder, "twice.state");
        using (var backend = new CpuBackend(threads: 1))
        using (var model = NewModel(backend))
        using (var trainer = new NcfTrainer(model, Small, Options(OptimizerKind.DeferredAdam, AverageFrom)))
        {
            for (int e = 0; e < StopAfter; e++)
            {
                trainer.TrainEpoch();
            }

            trainer.SaveState(path, "caller"u8);
        }

        TrainingState state = NcfTrainer.ReadState(path);
        Assert.Equal("caller"u8.ToArray(), state.CallerData.ToArray());
        Assert.Equal(StopAfter, state.EpochsDone);
        Assert.Equal(path, state.Name);
        File.Delete(path); // restoring reads nothing more from the file
        for (int run = 0; run < 2; run++)
        {
            using var backend = new CpuBackend(threads: 1);
            using var model = NewModel(backend, seed: 99);
            using var trainer = new NcfTrainer(model, Small, Options(OptimizerKind.DeferredAdam, AverageFrom));
            Assert.Equal("caller"u8.ToArray(), trainer.RestoreState(state));
            var losses = Enumerable.Range(StopAfter, Epochs - StopAfter).Select(_ => trainer.TrainEpoch().Loss);
            Assert.Equal(expectedLosses.Skip(StopAfter), losses);
            Assert.Equal(expected, model.Parameters.ToArray());
        }
    }

    [Fact]
    public void A_state_saved_through_a_stream_restores_through_a_stream()
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend, ModelKind.Gmf);
        using var trainer = new NcfTrainer(model, Small, Options(OptimizerKind.Adam, 0));
        trainer.TrainEpoch();
        using var buffer = new MemoryStream();
        trainer.SaveState(buffer);
        var saved = model.Parameters.ToArray();
        trainer.TrainEpoch();
        buffer.Position = 0;
        Assert.Empty(trainer.RestoreState(buffer));
        Assert.Equal(saved, model.Parameters.ToArray());
        Assert.Equal(1, trainer.EpochsDone);
    }

    /// <summary>A state written by a GMF trained with exact Adam for one epoch, averaging from epoch 1.</summary>
    private string SavedGmfState(string name, int averageFrom = 0)
    {
        string path = Path.Combine(_folder, name);
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend, ModelKind.Gmf);
        using var trainer = new NcfTrainer(model, Small, Options(OptimizerKind.Adam, averageFrom));
        trainer.TrainEpoch();
        trainer.SaveState(path);
        return path;
    }

    /// <summary>Restores <paramref name="path"/> into a fresh trainer and returns the error, after checking that the
    /// failed restore changed nothing.</summary>
    private static NcfException RefusedBy(string path, ModelKind kind = ModelKind.Gmf, OptimizerKind optimizer = OptimizerKind.Adam, int averageFrom = 0)
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend, kind);
        using var trainer = new NcfTrainer(model, Small, Options(optimizer, averageFrom));
        var before = model.Parameters.ToArray();
        var error = Assert.Throws<NcfException>(() => trainer.RestoreState(path));
        Assert.Equal(before, model.Parameters.ToArray());
        Assert.Equal(0, trainer.EpochsDone);
        Assert.Equal(0, trainer.Optimizer.StepCount);
        return error;
    }

    [Fact]
    public void A_state_for_another_model_optimizer_or_averaging_is_refused_naming_what_differs()
    {
        string path = SavedGmfState("gmf.state");
        Assert.Contains("the state is of a Gmf", RefusedBy(path, ModelKind.Mlp).Message);
        Assert.Contains("written with Adam; this trainer uses SGD", RefusedBy(path, optimizer: OptimizerKind.Sgd).Message);
        Assert.Contains("written with Adam; this trainer uses deferred Adam", RefusedBy(path, optimizer: OptimizerKind.DeferredAdam).Message);
        Assert.Contains("averaging from epoch 1 needs one", RefusedBy(path, averageFrom: 1).Message);
        string averaged = SavedGmfState("averaged.state", averageFrom: 1);
        Assert.Contains("these options do not average", RefusedBy(averaged).Message);
    }

    [Fact]
    public void A_damaged_truncated_foreign_or_missing_file_is_refused_naming_the_file_and_the_problem()
    {
        string path = SavedGmfState("good.state");
        var bytes = File.ReadAllBytes(path);

        string flipped = Path.Combine(_folder, "flipped.state");
        var copy = (byte[])bytes.Clone();
        copy[copy.Length / 2] ^= 0x10;
        File.WriteAllBytes(flipped, copy);
        Assert.Contains($"{flipped}: checksum mismatch", RefusedBy(flipped).Message);

        string truncated = Path.Combine(_folder, "truncated.state");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        Assert.Contains("checksum mismatch", RefusedBy(truncated).Message);

        string newer = Path.Combine(_folder, "newer.state");
        copy = (byte[])bytes.Clone();
        copy[8] = 3;
        File.WriteAllBytes(newer, copy);
        Assert.Contains("training state format version 3; this build reads version 2", RefusedBy(newer).Message);
        copy[8] = 1;
        File.WriteAllBytes(newer, copy);
        Assert.Contains("training state format version 1; this build reads version 2", RefusedBy(newer).Message);

        string model = Path.Combine(_folder, "model.ncf");
        File.WriteAllBytes(model, "NCFMODEL\u0003\0\0\0"u8.ToArray());
        Assert.Contains("not an Ncf.Native training state", RefusedBy(model).Message);

        string missing = Path.Combine(_folder, "missing.state");
        Assert.Contains($"{missing}: cannot read the training state", RefusedBy(missing).Message);

        // LooksLikeState reads the magic bytes only: a damaged state still looks like one; a model file, a file shorter
        // than the magic, a missing file and a folder do not.
        Assert.True(NcfTrainer.LooksLikeState(path));
        Assert.True(NcfTrainer.LooksLikeState(flipped));
        Assert.False(NcfTrainer.LooksLikeState(model));
        string shortFile = Path.Combine(_folder, "short.state");
        File.WriteAllBytes(shortFile, "NCFST"u8.ToArray());
        Assert.False(NcfTrainer.LooksLikeState(shortFile));
        Assert.False(NcfTrainer.LooksLikeState(missing));
        Assert.False(NcfTrainer.LooksLikeState(_folder));
    }

    [Fact]
    public void A_forged_parameter_count_behind_a_valid_checksum_is_refused_before_it_is_allocated()
    {
        var bytes = File.ReadAllBytes(SavedGmfState("forged.state"));
        const int CountOffset = 8 + 4 + 4 * 5; // after magic, version and kind, factors, layers, users, items
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(CountOffset), int.MaxValue / 8);
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)).CopyTo(bytes.AsSpan(bytes.Length - 32));
        string path = Path.Combine(_folder, "forged.state");
        File.WriteAllBytes(path, bytes);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<NcfException>(() => NcfTrainer.ReadStateCallerData(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(error.Message.Contains("truncated or inconsistent"), error.Message);
        // The file itself (~40 KB) is read; 268 M parameters would be 1 GB.
        Assert.True(allocated < 4 * bytes.Length + (1 << 20), $"{allocated:N0} bytes allocated");
        Assert.Contains("truncated or inconsistent", RefusedBy(path).Message);
    }

    [Fact]
    public void No_state_is_saved_part_way_through_an_epoch()
    {
        using var backend = new CpuBackend(threads: 1);
        using var model = NewModel(backend, ModelKind.Gmf);
        using var trainer = new NcfTrainer(model, Small, Options(OptimizerKind.Adam, 0));
        trainer.TrainEpoch();
        using var cancel = new CancellationTokenSource();
        var progress = new InlineProgress<BatchProgress>(_ => { });
        cancel.Cancel();
        Assert.Throws<OperationCanceledException>(() => trainer.TrainEpoch(cancel.Token, progress));
        var error = Assert.Throws<NcfException>(() => trainer.SaveState(Path.Combine(_folder, "partial.state")));
        Assert.Contains("Epoch 2 was cancelled", error.Message);
        Assert.False(File.Exists(Path.Combine(_folder, "partial.state")));

        // A completed epoch is an epoch end again.
        trainer.TrainEpoch();
        trainer.SaveState(Path.Combine(_folder, "after.state"));
    }
}
