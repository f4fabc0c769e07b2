using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Randomness;
using Ncf.Training;

namespace Ncf.Core.Tests.Training;

public class TrainingTests
{
    // A small version of the embedded default so the test runs in seconds; same generator, same planted structure.
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 400, Items = 300, MeanPerUser = 30 });

    private static TrainingResult Train(ModelKind kind, ulong seed, int epochs, OptimizerKind optimizer = OptimizerKind.Adam, int threads = 1)
    {
        using var backend = new CpuBackend(threads: threads);
        using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = kind });
        model.Initialize(seed);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = epochs, Seed = seed, Optimizer = optimizer });
        return trainer.Fit();
    }

    [Fact]
    public void The_default_optimizer_is_dense_adam_below_four_million_embedding_parameters_and_deferred_adam_from_there_on_the_cpu()
    {
        using var backend = new CpuBackend(threads: 1);
        var options = new TrainingOptions();
        Assert.Equal(OptimizerKind.Auto, options.Optimizer);

        // GMF-f over 1,000 users and 1,000 items has 2,000 f embedding parameters: f = 1,999 is 3,998,000, f = 2,000 is 4,000,000.
        OptimizerKind Resolve(int factors, TrainingOptions? training = null) =>
            NcfTrainer.ResolveOptimizer(training ?? options, new ModelOptions { Kind = ModelKind.Gmf, Factors = factors }, 1_000, 1_000, backend);
        Assert.Equal(OptimizerKind.Adam, Resolve(1_999));
        Assert.Equal(OptimizerKind.DeferredAdam, Resolve(2_000));
        Assert.Equal(NcfTrainer.DeferredAdamThreshold, 2_000L * 2_000);

        // With L2 deferred Adam is not exact Adam (the rows it skips get no L2), so dense Adam it is; a chosen kind stays.
        Assert.Equal(OptimizerKind.Adam, Resolve(2_000, options with { L2 = 1e-6f }));
        foreach (var kind in new[] { OptimizerKind.Adam, OptimizerKind.LazyAdam, OptimizerKind.DeferredAdam, OptimizerKind.Sgd })
        {
            Assert.Equal(kind, Resolve(2_000, options with { Optimizer = kind }));
            Assert.Equal(kind, Resolve(8, options with { Optimizer = kind }));
        }

        // The trainer builds what the resolution names: 2,000 rows of GMF-1,952 (3,904,000) and GMF-2,048 (4,096,000).
        var data = SyntheticData.Generate(new SyntheticDataOptions { Users = 1_880, Items = 120, MeanPerUser = 10, TestNegatives = 20 });
        Assert.Equal(2_000, data.UserCount + data.ItemCount);
        foreach (var (factors, expected) in new[] { (1_952, AdamEmbeddingUpdate.Dense), (2_048, AdamEmbeddingUpdate.Deferred) })
        {
            using var model = new NcfModel(backend, data.UserCount, data.ItemCount, new ModelOptions { Kind = ModelKind.Gmf, Factors = factors });
            using var trainer = new NcfTrainer(model, data, new TrainingOptions { EvaluateEachEpoch = false });
            Assert.Equal(expected, Assert.IsType<Adam>(trainer.Optimizer).Options.Embeddings);
        }
    }

    [Fact]
    public void Disposing_the_trainer_after_an_explicit_loop_brings_deferred_adam_s_rows_up_to_date()
    {
        // A TrainBatch loop under the default options on tables of 4,096,000 parameters trains with deferred Adam, whose
        // rows absent from the last batches still owe those steps. The caller who never chose deferred Adam may not know
        // to call CatchUp: disposing the trainer must leave the model where CatchUp would.
        var data = SyntheticData.Generate(new SyntheticDataOptions { Users = 1_880, Items = 120, MeanPerUser = 10, TestNegatives = 20 });
        float[] Train(bool catchUp, out float[] beforeDispose)
        {
            using var backend = new CpuBackend(threads: 1);
            using var model = new NcfModel(backend, data.UserCount, data.ItemCount, new ModelOptions { Kind = ModelKind.Gmf, Factors = 2_048 });
            model.Initialize(7);
            var trainer = new NcfTrainer(model, data, new TrainingOptions { EvaluateEachEpoch = false });
            Assert.Equal(AdamEmbeddingUpdate.Deferred, Assert.IsType<Adam>(trainer.Optimizer).Options.Embeddings);
            for (int b = 0; b < 4; b++)
            {
                // Each batch: 64 of the users (a different 64 each time) with their first training item, labelled 1.
                var users = Enumerable.Range(b * 64, 64).ToArray();
                var items = users.Select(u => data.TrainItems[Array.IndexOf(data.TrainUsers, u)]).ToArray();
                trainer.TrainBatch(users, items, Enumerable.Repeat(1f, 64).ToArray());
            }

            if (catchUp)
            {
                trainer.Optimizer.CatchUp();
            }

            beforeDispose = model.Parameters.ToArray();
            trainer.Dispose();
            return model.Parameters.ToArray();
        }

        var caughtUp = Train(catchUp: true, out _);
        var disposed = Train(catchUp: false, out var stale);
        Assert.NotEqual(caughtUp, stale); // the first batches' users owe three steps: the test can tell
        Assert.Equal(caughtUp, disposed);
    }

    [Fact]
    public void NeuMF_learns_the_planted_structure_well_above_popularity_and_random()
    {
        var popularity = Evaluator.SampledRanking(new PopularityScorer(Small.UserCount, Small.ItemPopularity()), Small.Test!, 10);
        var result = Train(ModelKind.NeuMF, 42, 6);
        var final = result.Final!.Test!.Value;

        // Random ranking among 100 candidates gives HR@10 = 0.10; popularity sees only the planted item bias.
        Assert.True(popularity.HitRate > 0.12, $"popularity {popularity.HitRate}");
        Assert.True(final.HitRate > popularity.HitRate + 0.15, $"NeuMF HR@10 {final.HitRate:F4} vs popularity {popularity.HitRate:F4}");
        Assert.True(result.Epochs[^1].Loss < result.Epochs[0].Loss, "loss did not fall");
    }

    [Theory]
    [InlineData(ModelKind.Gmf, OptimizerKind.Adam)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.LazyAdam)]
    [InlineData(ModelKind.NeuMF, OptimizerKind.DeferredAdam)]
    public void Same_seed_gives_bit_identical_losses_and_another_seed_does_not(ModelKind kind, OptimizerKind optimizer)
    {
        var a = Train(kind, 7, 2, optimizer);
        var b = Train(kind, 7, 2, optimizer);
        var c = Train(kind, 8, 2, optimizer);
        Assert.Equal(a.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)), b.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)));
        Assert.Equal(a.Epochs.Select(e => e.Test!.Value.HitRate), b.Epochs.Select(e => e.Test!.Value.HitRate));
        Assert.NotEqual(a.Epochs[0].Loss, c.Epochs[0].Loss);
    }

    [Fact]
    public void One_and_two_threads_give_bit_identical_training()
    {
        // The CPU backend splits work statically and sums weight gradients per fixed block of rows, so the thread
        // count changes speed only, never a result.
        var one = Train(ModelKind.NeuMF, 5, 2, threads: 1);
        var two = Train(ModelKind.NeuMF, 5, 2, threads: 2);
        Assert.Equal(one.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)), two.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)));
        Assert.Equal(one.Epochs.Select(e => e.Test!.Value.Ndcg), two.Epochs.Select(e => e.Test!.Value.Ndcg));
    }

    [Fact]
    public void Building_the_next_epoch_in_the_background_changes_nothing()
    {
        // Same examples in the same order whether epoch e + 1 is built while epoch e trains or when it starts; a
        // second Fit on the same trainer continues from the epoch count it reached.
        TrainingResult Run(bool prefetch, out float[] parameters)
        {
            using var backend = new CpuBackend(threads: 2);
            using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
            model.Initialize(4);
            using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 2, Seed = 4, PrefetchNextEpoch = prefetch });
            var first = trainer.Fit();
            var second = trainer.Fit();
            parameters = model.Parameters.ToArray();
            return new TrainingResult([.. first.Epochs, .. second.Epochs], false);
        }

        var plain = Run(false, out var plainParameters);
        var prefetched = Run(true, out var prefetchedParameters);
        Assert.Equal([1, 2, 3, 4], prefetched.Epochs.Select(e => e.Epoch));
        Assert.Equal(plain.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)), prefetched.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)));
        Assert.Equal(plainParameters, prefetchedParameters);
    }

    [Fact]
    public void Evaluating_before_training_reports_epoch_0_can_be_best_and_changes_nothing_else()
    {
        TrainingResult Run(bool before, out float[] parameters, out RankingMetrics untrained)
        {
            using var backend = new CpuBackend(threads: 1);
            using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
            model.Initialize(5);
            // The reference for epoch 0: the evaluator on the initialised model, called directly.
            untrained = Evaluator.SampledRanking(model, Small.Test!, 10, TieBreaking.Pessimistic);
            using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 2, Seed = 5, EvaluateBeforeTraining = before });
            var result = trainer.Fit();
            parameters = model.Parameters.ToArray();
            return result;
        }

        var plain = Run(false, out var plainParameters, out _);
        var withInitial = Run(true, out var withInitialParameters, out var untrained);
        Assert.Equal([0, 1, 2], withInitial.Epochs.Select(e => e.Epoch));
        var initial = withInitial.Epochs[0];
        Assert.True(double.IsNaN(initial.Loss));
        Assert.Equal(0, initial.Samples);
        Assert.Equal(untrained, initial.Test);
        // Evaluating draws nothing from the training streams: the trained epochs and parameters are bit-identical.
        Assert.Equal(plain.Epochs.Select(e => BitConverter.DoubleToInt64Bits(e.Loss)), withInitial.Epochs.Skip(1).Select(e => BitConverter.DoubleToInt64Bits(e.Loss)));
        Assert.Equal(plain.Epochs.Select(e => e.Test), withInitial.Epochs.Skip(1).Select(e => e.Test));
        Assert.Equal(plainParameters, withInitialParameters);

        // Epoch 0 competes for best: a result whose epoch 0 scored highest picks it.
        var rigged = new TrainingResult([initial with { Test = untrained with { HitRate = 0.99 } }, .. withInitial.Epochs.Skip(1)], false);
        Assert.Equal(0, rigged.Best!.Epoch);
    }

    [Fact]
    public void Negatives_are_unseen_items_redrawn_each_epoch_and_every_positive_appears_once()
    {
        var sampler = new NegativeSampler(Small, 4, 3);
        var first = sampler.Epoch(0).ToArray();
        var second = sampler.Epoch(1).ToArray();
        Assert.Equal(Small.TrainCount * 5, first.Length);
        Assert.Equal(Small.TrainCount, first.Count(s => s.Label == 1));
        Assert.All(first.Where(s => s.Label == 0), s => Assert.False(Small.Train.Contains(s.User, s.Item)));
        Assert.NotEqual(first.Select(s => s.Item), second.Select(s => s.Item));

        // Positives are the training pairs, as a multiset.
        var positives = first.Where(s => s.Label == 1).Select(s => ((long)s.User << 32) | (uint)s.Item).Order();
        var expected = Small.TrainUsers.Zip(Small.TrainItems, (u, i) => ((long)u << 32) | (uint)i).Order();
        Assert.Equal(expected, positives);
    }

    [Fact]
    public void Epochs_do_not_depend_on_the_samplers_thread_count_and_look_shuffled()
    {
        var one = new NegativeSampler(Small, 4, 9, threads: 1).Epoch(2).ToArray();
        var two = new NegativeSampler(Small, 4, 9, threads: 2).Epoch(2).ToArray();
        Assert.Equal(one, two);

        // Uniformly shuffled: positives (1 in 5) spread evenly over the epoch's ten deciles, not in runs.
        int decile = one.Length / 10;
        for (int d = 0; d < 10; d++)
        {
            int positives = one.AsSpan(d * decile, decile).ToArray().Count(s => s.Label == 1);
            Assert.InRange(positives, decile / 5 - 4 * Math.Sqrt(decile * 0.16), decile / 5 + 4 * Math.Sqrt(decile * 0.16));
        }

        int adjacentSameUser = Enumerable.Range(1, one.Length - 1).Count(i => one[i].User == one[i - 1].User);
        Assert.True(adjacentSameUser < one.Length / 20, $"{adjacentSameUser} neighbours share a user: not shuffled");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_many_bucket_epoch_is_the_one_a_sequential_generate_scatter_and_shuffle_gives(int threads)
    {
        // 2,000 users × 20 items, 4 negatives: 200,000 examples, 4 shuffle buckets, 4 to 9 generation chunks. The
        // reference below is the sampler as earlier builds ran it (the whole epoch generated in order, each example's
        // bucket drawn from its index, a stable sequential scatter, then each bucket shuffled): the streamed build must
        // give every seeded run the same epochs it had.
        const int Users = 2_000, PerUser = 20, Items = 600, Negatives = 4;
        var users = new int[Users * PerUser];
        var items = new int[Users * PerUser];
        for (int u = 0; u < Users; u++)
        {
            for (int k = 0; k < PerUser; k++)
            {
                users[u * PerUser + k] = u;
                items[u * PerUser + k] = (u * 7 + k * 29) % Items;
            }
        }

        var data = new NcfDataset("buckets", Users, Items, users, items, null);
        const ulong Seed = 5;
        const int Epoch = 3;
        var actual = new NegativeSampler(data, Negatives, Seed, threads).Epoch(Epoch).ToArray();

        int stride = 1 + Negatives, count = data.TrainCount * stride;
        var ordered = new TrainingSample[count];
        ulong stream = CounterHash.Mix(Seed, Epoch);
        ulong key = CounterHash.Key(stream, 0);
        for (int p = 0; p < data.TrainCount; p++)
        {
            ordered[p * stride] = new TrainingSample(data.TrainUsers[p], data.TrainItems[p], 1f);
            for (int j = 1; j <= Negatives; j++)
            {
                ulong draw = (ulong)(p * stride + j) << 20;
                int item;
                do
                {
                    item = CounterHash.NextIntFromKey(key, draw++, Items);
                }
                while (data.Train.Contains(data.TrainUsers[p], item));

                ordered[p * stride + j] = new TrainingSample(data.TrainUsers[p], item, 0f);
            }
        }

        int buckets = (count + 65_535) / 65_536;
        Assert.Equal(4, buckets);
        ulong bucketKey = CounterHash.Key(CounterHash.Mix(stream, 0xB0C), 0);
        var byBucket = Enumerable.Range(0, count).GroupBy(i => CounterHash.NextIntFromKey(bucketKey, (ulong)i, buckets)).OrderBy(g => g.Key).ToArray();
        var expected = new List<TrainingSample>(count);
        foreach (var bucket in byBucket)
        {
            var members = bucket.Select(i => ordered[i]).ToArray();
            new Rng(Seed, CounterHash.Mix(0x5A00_0000UL + Epoch, (ulong)bucket.Key)).Shuffle(members.AsSpan());
            expected.AddRange(members);
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_user_who_has_seen_every_item_is_a_clear_error()
    {
        var data = new NcfDataset("full", 2, 2, [0, 0, 1], [0, 1, 0], null);
        var error = Assert.Throws<NcfException>(() => new NegativeSampler(data, 1, 1));
        Assert.Contains("'0'", error.Message);
    }

    [Fact]
    public void Cancellation_stops_between_batches_and_reports_completed_epochs()
    {
        using var backend = new CpuBackend();
        using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = ModelKind.Gmf });
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 50 });
        using var cancel = new CancellationTokenSource();
        var seen = new List<int>();
        var result = trainer.Fit(new InlineProgress<EpochReport>(r =>
        {
            seen.Add(r.Epoch);
            if (r.Epoch == 2)
            {
                cancel.Cancel();
            }
        }), cancel.Token);
        Assert.True(result.Cancelled);
        Assert.Equal([1, 2], seen);
        Assert.Equal(2, result.Epochs.Count);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1)]
    [InlineData(OptimizerKind.Adam, 2)]
    [InlineData(OptimizerKind.LazyAdam, 2)]
    [InlineData(OptimizerKind.DeferredAdam, 2)]
    public void A_training_step_allocates_nothing_in_steady_state(OptimizerKind optimizer, int threads)
    {
        using var backend = new CpuBackend(threads: threads);
        using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
        model.Initialize(1);
        using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Optimizer = optimizer });
        // A different batch each step, cycling through the epoch's first 64 batches, so that rows come and go and row-sparse
        // optimizers do real work (deferred Adam's catch-ups above all).
        const int Batches = 64;
        var samples = new NegativeSampler(Small, 4, 1).Epoch(0).ToArray()[..(Batches * 256)];
        int[] users = samples.Select(s => s.User).ToArray();
        int[] items = samples.Select(s => s.Item).ToArray();
        float[] labels = samples.Select(s => s.Label).ToArray();
        int step = 0;
        void NextStep()
        {
            int at = step++ % Batches * 256;
            trainer.TrainBatch(users.AsSpan(at, 256), items.AsSpan(at, 256), labels.AsSpan(at, 256));
        }

        // Warm up for half a second as well as 20 steps: the runtime promotes hot methods to optimised code only after
        // 100 ms without new JIT work, and while it is still doing so the stepping thread can show a one-off allocation
        // (measured with deferred Adam after 20 warm-up steps: 1.3–4.7 KB once, in 1 to 8 of 40 trials; none with
        // DOTNET_TieredCompilation=0, none in 120 trials with this warm-up). That is start-up, not a training step.
        var warmUp = System.Diagnostics.Stopwatch.StartNew();
        while (step < 20 || warmUp.ElapsedMilliseconds < 500)
        {
            NextStep();
        }

        // This thread's allocations: xunit runs other test classes in parallel, so a process-wide count would include
        // theirs. Pool workers run the same job code as this thread (which claims parts too), so this covers them.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int measured = 0; measured < 200; measured++)
        {
            NextStep();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated over 200 steps");
    }

    [Fact]
    public void Explicit_loop_step_equals_the_trainers_batch_step()
    {
        // The explicit loop (forward, loss, backward, optimizer step) by hand versus TrainBatch.
        int[] users = [0, 1, 2, 3];
        int[] items = [4, 5, 6, 7];
        float[] labels = [1, 0, 1, 0];
        using var backend = new CpuBackend();
        using var manual = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
        using var viaTrainer = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
        manual.Initialize(3);
        viaTrainer.Initialize(3);

        var logits = manual.Forward(users, items);
        var labelBuffer = backend.AllocateFloat(4);
        labelBuffer.Write(0, labels);
        var dLogits = manual.LogitGradients(4);
        var loss = new Ncf.Layers.SigmoidBceLoss(backend);
        var accumulator = backend.AllocateFloat(2);
        loss.ForwardBackward(logits, labelBuffer.All, dLogits, accumulator.All);
        manual.Backward(dLogits, 4);
        using var adam = new Adam(manual.Parameters);
        adam.Step(default);

        using var trainer = new NcfTrainer(viaTrainer, Small, new TrainingOptions());
        double batchLoss = trainer.TrainBatch(users, items, labels);
        Assert.Equal(accumulator.ToArray()[0] / 4, batchLoss, 6);
        Assert.Equal(manual.Parameters.ToArray(), viaTrainer.Parameters.ToArray());
    }

    [Fact]
    public void Deferred_adam_keeps_exact_adams_learning_rate_per_step_when_it_changes()
    {
        // Each batch touches its own users, so most rows sit out most steps. The learning rate goes up tenfold after
        // three steps: deferred rows must catch up on the first three at the old rate (changing the rate catches every
        // row up first). Applied at the new rate, a pending step would move a row by ~1e-2; rounding alone stays
        // below 1e-5.
        float[] Run(OptimizerKind kind)
        {
            using var backend = new CpuBackend();
            using var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions());
            model.Initialize(9);
            using var trainer = new NcfTrainer(model, Small, new TrainingOptions { Optimizer = kind });
            for (int batch = 0; batch < 6; batch++)
            {
                if (batch == 3)
                {
                    trainer.Optimizer.LearningRate = 0.01f;
                }

                int[] users = Enumerable.Range(batch * 8, 8).ToArray();
                int[] items = Enumerable.Range(batch * 5, 8).ToArray();
                trainer.TrainBatch(users, items, [1, 0, 1, 0, 1, 0, 1, 0]);
            }

            trainer.Optimizer.CatchUp();
            return model.Parameters.ToArray();
        }

        float[] exact = Run(OptimizerKind.Adam), deferred = Run(OptimizerKind.DeferredAdam);
        double worst = exact.Zip(deferred, (x, y) => (double)Math.Abs(x - y)).Max();
        Assert.True(worst < 1e-5, $"largest difference {worst}");
    }
}
