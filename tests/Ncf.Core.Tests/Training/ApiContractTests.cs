using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

/// <summary>
/// What an application embedding the library relies on: a backend shared by threads, disposal, argument checks,
/// an uninitialised model, divergence. Each case was found broken by a probe written as such an application.
/// </summary>
public sealed class ApiContractTests
{
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 300, Items = 400, MeanPerUser = 20 });

    private static NcfModel NewModel(CpuBackend backend, ulong seed)
    {
        var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Factors = 8 });
        model.Initialize(seed);
        return model;
    }

    private static async Task<float[]> Trained(CpuBackend backend, Action? alongside = null)
    {
        using var model = NewModel(backend, 3);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 1, Seed = 3, EvaluateEachEpoch = false });
        using var stop = new CancellationTokenSource();
        var other = alongside is null ? Task.CompletedTask : Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                alongside();
            }
        });
        trainer.Fit();
        await stop.CancelAsync();
        await other;
        return model.Parameters.ToArray();
    }

    // The backend's kernels share cached jobs, scratch arrays and one worker pool: two models on one backend from two
    // threads corrupted each other (an AccessViolationException in the scorer, or silently other trained weights).
    [Fact]
    public async Task Models_sharing_a_backend_from_several_threads_get_the_results_each_gets_alone()
    {
        using var backend = new CpuBackend(threads: 2);
        using var first = new NcfRecommender(NewModel(backend, 1), Small);
        using var second = new NcfRecommender(NewModel(backend, 2), Small);
        string[] users = [.. Small.UserIds.Ids.Take(40)];
        var expectedFirst = users.Select(u => first.Recommend(u, 10)).ToArray();
        var expectedSecond = users.Select(u => second.Recommend(u, 10)).ToArray();

        var a = Task.Run(() => Enumerable.Range(0, 5).SelectMany(_ => users.Select(u => first.Recommend(u, 10))).ToArray());
        var b = Task.Run(() => Enumerable.Range(0, 5).SelectMany(_ => users.Select(u => second.Recommend(u, 10))).ToArray());
        var (fromFirst, fromSecond) = (await a, await b);

        for (int n = 0; n < fromFirst.Length; n++)
        {
            Assert.Equal(expectedFirst[n % users.Length], fromFirst[n]);
            Assert.Equal(expectedSecond[n % users.Length], fromSecond[n]);
        }

        // Training beside a model being served on the same backend trains exactly as alone.
        using var own = new CpuBackend(threads: 2);
        float[] alone = await Trained(own);
        using var shared = new CpuBackend(threads: 2);
        using var served = new NcfRecommender(NewModel(shared, 9), Small);
        Assert.Equal(alone, await Trained(shared, () => served.Recommend(users[0], 10)));
    }

    [Fact]
    public void An_empty_candidate_list_recommends_nothing_not_the_whole_catalogue()
    {
        using var backend = new CpuBackend();
        using var recommender = new NcfRecommender(NewModel(backend, 1), Small);
        string user = Small.UserIds[0];

        Assert.Empty(recommender.Recommend(user, 10, []));
        Assert.All(recommender.RecommendAll(10, []), u => Assert.Empty(u.Items));
        Assert.Equal(10, recommender.Recommend(user, 10).Count); // null: every item
        Assert.Throws<ArgumentException>(() => recommender.Recommend(user, 10, [Small.ItemIds[0], null!]));
    }

    [Fact]
    public void A_disposed_recommender_refuses_work_and_arguments_are_checked()
    {
        using var backend = new CpuBackend();
        var recommender = new NcfRecommender(NewModel(backend, 1), Small);
        recommender.Dispose();
        recommender.Dispose(); // twice is harmless

        Assert.Throws<ObjectDisposedException>(() => recommender.Recommend(Small.UserIds[0]));
        Assert.Throws<ObjectDisposedException>(() => recommender.RecommendAll());

        // A lazy RecommendAll started before Dispose stops at the next user instead of scoring with a freed model.
        var another = new NcfRecommender(NewModel(backend, 1), Small);
        using (var lazy = another.RecommendAll(3, [Small.ItemIds[0], Small.ItemIds[1]]).GetEnumerator())
        {
            Assert.True(lazy.MoveNext());
            another.Dispose();
            Assert.Throws<ObjectDisposedException>(() => lazy.MoveNext());
        }
        Assert.Throws<ObjectDisposedException>(() => recommender.Save(Path.Combine(Path.GetTempPath(), "never.ncf")));

        using var model = NewModel(backend, 1);
        Assert.Throws<ArgumentNullException>(() => new NcfRecommender(null!, Small));
        Assert.Throws<ArgumentNullException>(() => new NcfRecommender(model, (NcfDataset)null!));
        Assert.Throws<ArgumentNullException>(() => new NcfTrainer(null!, Small));
        Assert.Throws<ArgumentNullException>(() => new NcfTrainer(model, null!));
        using var live = new NcfRecommender(NewModel(backend, 1), Small);
        Assert.Throws<ArgumentNullException>(() => live.Recommend(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => live.Recommend(Small.UserIds[0], -1));

        var pooled = new CpuBackend(threads: 2);
        using var orphan = NewModel(pooled, 1);
        pooled.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => orphan.Score([0], [0], new float[1]));
        Assert.Equal(nameof(CpuBackend), error.ObjectName);
    }

    [Fact]
    public void A_batch_outside_the_model_is_an_argument_error_not_an_index_crash()
    {
        using var backend = new CpuBackend();
        using var model = NewModel(backend, 1);
        using var trainer = new NcfTrainer(model, Small);

        Assert.Throws<ArgumentException>(() => trainer.TrainBatch([0], [Small.ItemCount], [1f]));
        Assert.Throws<ArgumentException>(() => trainer.TrainBatch([-1], [0], [1f]));
        Assert.Throws<ArgumentException>(() => trainer.TrainBatch([0], [0], [2f]));
        Assert.True(double.IsFinite(trainer.TrainBatch([0, 1], [0, 1], [1f, 0f])));
    }

    [Theory]
    [InlineData("optimizer")]
    [InlineData("ties")]
    [InlineData("sampler")]
    public void Options_out_of_their_enums_or_ranges_are_refused(string which)
    {
        var options = which switch
        {
            "optimizer" => new TrainingOptions { Optimizer = (OptimizerKind)99 },
            "ties" => new TrainingOptions { Ties = (Ncf.Evaluation.TieBreaking)99 },
            _ => new TrainingOptions { SamplerThreads = -1 },
        };

        Assert.Throws<NcfException>(options.Validate);
    }

    [Fact]
    public void A_model_never_initialised_is_initialised_by_the_trainer_with_its_seed()
    {
        // From all zeros every item would score the same and nothing would be learned (HR@10 0 in the probe).
        using var backend = new CpuBackend();
        using var fresh = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Factors = 8 });
        using var trainer = new NcfTrainer(fresh, Small, new TrainingOptions { Epochs = 1, Seed = 5, EvaluateEachEpoch = false });
        using var seeded = NewModel(backend, 5);

        Assert.Equal(seeded.Parameters.ToArray(), fresh.Parameters.ToArray());

        // Refused options leave the caller's model as it was.
        using var untouched = new NcfModel(backend, Small.UserCount + 1, Small.ItemCount, new ModelOptions { Factors = 8 });
        Assert.Throws<NcfException>(() => new NcfTrainer(untouched, Small));
        Assert.True(untouched.Parameters.ToArray().AsSpan().IndexOfAnyExcept(0f) < 0);
    }

    [Fact]
    public void A_batch_larger_than_an_epoch_sizes_the_buffers_to_the_epoch()
    {
        // At the largest batch the buffers used to take ~24 GB for a log of a few thousand examples (the OOM killer).
        using var backend = new CpuBackend();
        using var model = NewModel(backend, 1);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 1, BatchSize = 1 << 24, EvaluateEachEpoch = false });
        long epoch = (long)Small.TrainCount * 5;

        var result = trainer.Fit();

        Assert.Equal(epoch, result.Final!.Samples);
        Assert.Throws<ArgumentException>(() => trainer.TrainBatch(new int[(1 << 16) + 1], new int[(1 << 16) + 1], new float[(1 << 16) + 1]));
        Assert.True(GC.GetTotalMemory(forceFullCollection: false) < 1L << 30);
    }

    // The fused step sized its per-chunk buffers by the chunk count at the capacity, but 2,048 rows split into 16
    // chunks where 2,100 split into 15: a last batch of 1,921-2,048 rows at --batch 2100 ran off the end.
    [Theory]
    [InlineData(2100, 2048)]
    [InlineData(2100, 1921)]
    [InlineData(3600, 2048)]
    public void The_fused_step_takes_every_batch_size_up_to_its_capacity(int capacity, int rows)
    {
        using var backend = new CpuBackend();
        using var model = NewModel(backend, 1);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { BatchSize = capacity });
        var users = Enumerable.Range(0, rows).Select(n => n % Small.UserCount).ToArray();
        var items = Enumerable.Range(0, rows).Select(n => n * 7 % Small.ItemCount).ToArray();
        var labels = Enumerable.Range(0, rows).Select(n => (float)(n % 2)).ToArray();

        Assert.True(double.IsFinite(trainer.TrainBatch(users, items, labels)));
    }

    [Fact]
    public void A_diverging_run_stops_and_says_so()
    {
        using var backend = new CpuBackend();
        using var model = NewModel(backend, 1);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 5, Optimizer = OptimizerKind.Sgd, LearningRate = 1e8f });

        var result = trainer.Fit();

        Assert.True(result.Diverged);
        Assert.Single(result.Epochs);
        Assert.True(double.IsNaN(result.Final!.Loss));
        Assert.False(Ncf.IO.NcfModelFile.AllFinite(model.Parameters.ToArray()));
    }
}
