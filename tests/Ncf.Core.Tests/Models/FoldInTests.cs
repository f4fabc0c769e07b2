using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Randomness;
using Ncf.Tensors;
using Ncf.Training;

namespace Ncf.Core.Tests.Models;

/// <summary>
/// <see cref="NcfRecommender.RecommendForHistory"/>: a user's embeddings fitted to their history against a trained
/// model that stays fixed. The oracle for quality is the trained model itself: a trained user's own history, folded
/// in as if they were new, must rank their held-out item about as well as the embeddings training gave them, and
/// far better than popularity.
/// </summary>
public sealed class FoldInTests
{
    private static readonly NcfDataset Small = SyntheticData.Generate(new SyntheticDataOptions { Users = 400, Items = 300, MeanPerUser = 30 });

    private static NcfRecommender Trained(CpuBackend backend, ModelKind kind)
    {
        var model = new NcfModel(backend, Small.UserCount, Small.ItemCount, new ModelOptions { Kind = kind, Factors = 8, Layers = 2 });
        model.Initialize(3);
        using (var trainer = new NcfTrainer(model, Small, new TrainingOptions { Epochs = 8, Seed = 3, LearningRate = 0.005f, EvaluateEachEpoch = false }))
        {
            trainer.Fit();
        }

        return new NcfRecommender(model, Small);
    }

    private static string[] HistoryOf(int user) =>
        Enumerable.Range(0, Small.TrainCount).Where(n => Small.TrainUsers[n] == user).Select(n => Small.ItemIds[Small.TrainItems[n]]).ToArray();

    /// <summary>HR@10 over the test cases of every 4th user, ranking the target among its negatives with <paramref name="rank"/>.</summary>
    private static double HitRate(Func<int, string[], IReadOnlyList<ItemRecommendation>> rank)
    {
        var test = Small.Test!;
        int hits = 0, cases = 0;
        for (int c = 0; c < test.Count; c += 4)
        {
            var candidates = test.Negatives[test.NegativeOffsets[c]..test.NegativeOffsets[c + 1]].Append(test.TargetItems[c])
                .Select(i => Small.ItemIds[i]).ToArray();
            string target = Small.ItemIds[test.TargetItems[c]];
            hits += rank(test.Users[c], candidates).Any(r => r.ItemId == target) ? 1 : 0;
            cases++;
        }

        return (double)hits / cases;
    }

    [Theory]
    [InlineData(ModelKind.Gmf)]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.NeuMF)]
    public void A_trained_user_s_history_folded_in_ranks_their_held_out_item_about_as_well_as_their_trained_embeddings(ModelKind kind)
    {
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, kind);
        var before = recommender.Model.Parameters.ToArray();
        double trained = HitRate((user, candidates) => recommender.Recommend(Small.UserIds[user], 10, candidates, includeKnown: true));
        double folded = HitRate((user, candidates) => recommender.RecommendForHistory(HistoryOf(user), 10, candidates));
        var popularity = Evaluator.SampledRanking(new PopularityScorer(Small.UserCount, Small.ItemPopularity()), Small.Test!, 10).HitRate;

        // 100 cases: a hit rate's standard error is about 0.05, so the fold-in may trail the trained embeddings by two of
        // them (it fits a user from ~30 items where training also saw every other user move the tables), and must beat
        // popularity, which the trained model beats by far more than that on this planted structure.
        Assert.True(trained > popularity + 0.15, $"{kind}: trained HR@10 {trained:F3}, popularity {popularity:F3}");
        Assert.True(folded > trained - 0.1, $"{kind}: fold-in HR@10 {folded:F3}, trained {trained:F3}");
        Assert.True(folded > popularity + 0.1, $"{kind}: fold-in HR@10 {folded:F3}, popularity {popularity:F3}");
        Assert.Equal(before, recommender.Model.Parameters.ToArray()); // the served model is never touched
    }

    [Fact]
    public void The_fit_lowers_the_loss_changes_only_the_user_rows_and_repeats_with_the_seed()
    {
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, ModelKind.NeuMF);
        int[] history = [.. HistoryOf(7).Select(id => { recommender.ItemIds.TryGetIndex(id, out int i); return i; })];
        var options = new FoldInOptions();
        using var folded = UserFoldIn.Fit(recommender.Model, history, options, out var losses);
        Assert.Equal(options.Steps, losses.Length);
        Assert.True(losses[^1] < 0.6 * losses[0], $"loss {losses[0]:F4} → {losses[^1]:F4}");

        var trainedLayout = recommender.Model.Parameters.Layout;
        var trainedValues = recommender.Model.Parameters.ToArray();
        var foldedValues = folded.Parameters.ToArray();
        foreach (var slice in folded.Parameters.Layout.Slices)
        {
            var mine = foldedValues.AsSpan(slice.Offset, slice.Length).ToArray();
            if (slice.RowIds == Ncf.Tensors.IdSpace.User)
            {
                Assert.Equal(1, slice.Rows);
                Assert.DoesNotContain(mine, float.IsNaN);
            }
            else
            {
                Assert.Equal(trainedValues.AsSpan(trainedLayout[slice.Name].Offset, slice.Length).ToArray(), mine);
            }
        }

        using var again = UserFoldIn.Fit(recommender.Model, history, options, out var lossesAgain);
        Assert.Equal(losses, lossesAgain);
        Assert.Equal(foldedValues, again.Parameters.ToArray());
        using var otherSeed = UserFoldIn.Fit(recommender.Model, history, options with { Seed = 43 }, out _);
        Assert.NotEqual(foldedValues, otherSeed.Parameters.ToArray());
    }

    [Fact]
    public void Fold_ins_in_a_row_share_one_copy_and_nothing_of_one_carries_into_the_next()
    {
        // The recommender keeps the one-user copy between calls: a fit must start from the seeded user rows and clear
        // gradients, so a history asked again after others gives its first answer, as a fresh copy does.
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, ModelKind.NeuMF);
        var first = recommender.RecommendForHistory(HistoryOf(3), k: 20);
        recommender.RecommendForHistory(HistoryOf(5), k: 20);
        recommender.RecommendForHistory(HistoryOf(9), k: 20, options: new FoldInOptions { Steps = 7, LearningRate = 0.3f });
        Assert.Equal(first, recommender.RecommendForHistory(HistoryOf(3), k: 20));

        int[] history = [.. HistoryOf(3).Select(id => { recommender.ItemIds.TryGetIndex(id, out int i); return i; })];
        using var fresh = UserFoldIn.Fit(recommender.Model, history, new FoldInOptions(), out _);
        var scores = new float[Small.ItemCount];
        fresh.ScoreAllItems(0, scores);
        Assert.Equal(first.Select(r => scores[r.ItemIndex]), first.Select(r => r.Score));
    }

    [Fact]
    public void Fold_ins_and_recommendations_from_several_threads_give_what_they_give_one_at_a_time()
    {
        // The one-user copy is shared state: calls on several threads must take turns with it (and with the model).
        using var backend = new CpuBackend(threads: 2);
        using var recommender = Trained(backend, ModelKind.NeuMF);
        int[] users = [2, 3, 5, 8, 13, 21];
        var alone = users.Select(u => (Folded: recommender.RecommendForHistory(HistoryOf(u), k: 10), Known: recommender.Recommend(Small.UserIds[u], k: 10))).ToArray();
        // 120 calls on 4 threads: each user's fold-in and known-user recommendations, ten times each, interleaved.
        var together = new IReadOnlyList<ItemRecommendation>[users.Length * 20];
        Parallel.For(0, together.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, n =>
        {
            int u = n % users.Length;
            together[n] = n / users.Length % 2 == 0
                ? recommender.RecommendForHistory(HistoryOf(users[u]), k: 10)
                : recommender.Recommend(Small.UserIds[users[u]], k: 10);
        });

        for (int n = 0; n < together.Length; n++)
        {
            int u = n % users.Length;
            Assert.Equal(n / users.Length % 2 == 0 ? alone[u].Folded : alone[u].Known, together[n]);
        }
    }

    [Fact]
    public void The_fold_in_evaluation_ranks_each_case_as_a_fresh_fold_in_of_its_user_s_training_items()
    {
        // The oracle: for each case a new one-user copy fitted to the user's training items (UserFoldIn.Fit), its scores
        // of the target and the negatives, and the rank counted here by hand with ties against the target.
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, ModelKind.NeuMF);
        var test = Small.Test!;
        var cases = new EvaluationSet(test.Users[..40], test.TargetItems[..40], test.NegativeOffsets[..41], test.Negatives[..test.NegativeOffsets[40]]);
        double hits = 0, gains = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            using var fitted = UserFoldIn.Fit(recommender.Model, Small.Train.ItemsOf(cases.Users[c]), new FoldInOptions(), out _);
            int[] items = [cases.TargetItems[c], .. cases.NegativesOf(c)];
            var scores = new float[items.Length];
            fitted.Score(new int[items.Length], items, scores);
            int rank = scores.Skip(1).Count(score => score >= scores[0]);
            hits += rank < 10 ? 1 : 0;
            gains += rank < 10 ? Math.Log(2) / Math.Log(rank + 2) : 0;
        }

        var reported = new List<int>();
        var metrics = Evaluator.FoldInRanking(recommender.Model, cases, Small.Train, progress: new InlineProgress<int>(reported.Add));
        Assert.Equal(hits / cases.Count, metrics.HitRate, 12);
        Assert.Equal(gains / cases.Count, metrics.Ndcg, 12);
        Assert.Equal(40, metrics.Cases);
        Assert.Equal(Enumerable.Range(1, 40), reported);
        Assert.InRange(metrics.HitRate, 0.4, 1.0); // the planted tastes: popularity is at 0.24 here

        // A case whose user has no items to fold in is named; a cancelled evaluation stops.
        var empty = new UserItemIndex(Small.UserCount, Small.ItemCount, [], []);
        Assert.Contains("has no items to fold in", Assert.Throws<NcfException>(() => Evaluator.FoldInRanking(recommender.Model, cases, empty)).Message);
        Assert.Throws<OperationCanceledException>(() => Evaluator.FoldInRanking(recommender.Model, cases, Small.Train, cancellationToken: new CancellationToken(true)));
    }

    [Fact]
    public void The_history_s_items_are_left_out_and_candidates_are_honoured()
    {
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, ModelKind.Gmf);
        var history = HistoryOf(11);
        var all = recommender.RecommendForHistory(history, k: Small.ItemCount);
        Assert.Equal(Small.ItemCount - history.Distinct().Count(), all.Count);
        Assert.Empty(all.Select(r => r.ItemId).Intersect(history));
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Score >= p.Second.Score), "not best first");

        string[] candidates = [.. all.Skip(5).Take(3).Select(r => r.ItemId), history[0]];
        var some = recommender.RecommendForHistory(history, k: 10, candidates);
        Assert.Equal(candidates.Take(3), some.Select(r => r.ItemId)); // same order as over the catalogue; the seen one left out
        Assert.Empty(recommender.RecommendForHistory(history, k: 10, []));
        Assert.Equal(all.Take(4), recommender.RecommendForHistory([.. history, history[0]], k: 4)); // a repeated item counts once
    }

    [Fact]
    public void Bad_histories_and_options_are_refused_by_name()
    {
        using var backend = new CpuBackend(threads: 1);
        using var recommender = Trained(backend, ModelKind.Gmf);
        Assert.StartsWith("A fold-in needs at least one item", Assert.Throws<NcfException>(() => recommender.RecommendForHistory([])).Message);
        Assert.StartsWith("A fold-in needs at least one item", Assert.Throws<NcfException>(() => recommender.RecommendForHistory([], 10, [])).Message);
        Assert.Contains("Unknown item 'no such film' in the history",
            Assert.Throws<NcfException>(() => recommender.RecommendForHistory([Small.ItemIds[0], "no such film"])).Message);
        Assert.Contains("leaves no item to draw negatives from",
            Assert.Throws<NcfException>(() => recommender.RecommendForHistory(Enumerable.Range(0, Small.ItemCount).Select(i => Small.ItemIds[i]))).Message);
        Assert.Throws<ArgumentException>(() => recommender.RecommendForHistory([null!]));
        foreach (var bad in new[] { new FoldInOptions { Steps = 0 }, new FoldInOptions { LearningRate = 0 }, new FoldInOptions { LearningRate = float.NaN },
            new FoldInOptions { Negatives = -1 }, new FoldInOptions { L2 = -1 } })
        {
            Assert.StartsWith("Fold-in", Assert.Throws<NcfException>(() => recommender.RecommendForHistory([Small.ItemIds[0]], options: bad)).Message, StringComparison.OrdinalIgnoreCase);
        }

        recommender.Dispose();
        Assert.Throws<ObjectDisposedException>(() => recommender.RecommendForHistory([Small.ItemIds[0]]));
    }

    [Theory]
    [InlineData(ModelKind.Gmf)]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.NeuMF)]
    public void The_fit_is_Adam_on_the_gradient_of_the_stated_objective(ModelKind kind)
    {
        // An independent run of what FoldInOptions documents: user rows N(0, 0.01²) from the seed's stream, fresh
        // uniform negatives outside the history, the gradient of mean sigmoid cross-entropy + L2·‖e‖²/2, Adam. A sum in
        // place of the mean, a dropped L2 term, Adam without bias correction, negatives drawn from the history or
        // gradients left to accumulate between steps all fail it. On GMF, whose logit is linear in the user row, the
        // gradient is also checked against central differences of the objective (MLP's ReLUs have kinks).
        using var backend = new CpuBackend(threads: 1);
        using var trained = new NcfModel(backend, 3, 40, new ModelOptions { Kind = kind, Factors = 4, Layers = 2 });
        trained.Initialize(11);
        var scaled = trained.Parameters.ToArray().Select(x => 20 * x).ToArray(); // item rows far from 0: real gradients
        trained.Parameters.Load(scaled);
        int[] history = [3, 7, 7, 12, 30, 31];
        var options = new FoldInOptions { Steps = 6, Negatives = 3, L2 = 0.05f, Seed = 5 };
        using var fitted = UserFoldIn.Fit(trained, history, options, out _);

        using var model = new NcfModel(backend, 1, 40, trained.Options);
        var rng = new Rng(options.Seed, 0x466F6C64496EUL);
        var values = new float[model.Parameters.Layout.Length];
        var user = new List<int>();
        foreach (var slice in model.Parameters.Layout.Slices)
        {
            for (int k = 0; k < slice.Length; k++)
            {
                values[slice.Offset + k] = slice.RowIds == IdSpace.User ? (float)(0.01 * rng.NextGaussian()) : scaled[trained.Parameters.Layout[slice.Name].Offset + k];
                if (slice.RowIds == IdSpace.User)
                {
                    user.Add(slice.Offset + k);
                }
            }
        }

        int[] positives = [3, 7, 12, 30, 31], free = [.. Enumerable.Range(0, 40).Except(positives)];
        int n = positives.Length * 4;
        int[] items = [.. positives, .. new int[n - positives.Length]];
        float[] labels = [.. positives.Select(_ => 1f), .. new float[n - positives.Length]];
        double Objective(float[] p)
        {
            model.Parameters.Load(p);
            var logits = model.Forward(new int[n], items).ToArray();
            return logits.Select((x, j) => Math.Max(x, 0) - x * labels[j] + Math.Log(1 + Math.Exp(-Math.Abs((double)x)))).Sum() / n
                + options.L2 / 2 * user.Sum(i => (double)p[i] * p[i]);
        }

        var m = new double[user.Count];
        var v = new double[user.Count];
        for (int step = 1; step <= options.Steps; step++)
        {
            for (int j = positives.Length; j < n; j++)
            {
                items[j] = free[rng.NextInt(free.Length)];
            }

            // The gradient by finite differences in the objective's own terms (GMF), or by the model's backward pass.
            var gradient = new double[user.Count];
            if (kind == ModelKind.Gmf)
            {
                for (int c = 0; c < user.Count; c++)
                {
                    var up = (float[])values.Clone();
                    var down = (float[])values.Clone();
                    up[user[c]] += 1e-3f;
                    down[user[c]] -= 1e-3f;
                    gradient[c] = (Objective(up) - Objective(down)) / (up[user[c]] - down[user[c]]);
                }
            }
            else
            {
                model.Parameters.Load(values);
                var logits = model.Forward(new int[n], items).ToArray();
                var d = model.LogitGradients(n);
                d.Write(logits.Select((x, j) => (float)((1 / (1 + Math.Exp(-(double)x)) - labels[j]) / n)).ToArray());
                model.ZeroGradients();
                model.Backward(d, n);
                var g = model.Parameters.Gradients.ToArray();
                for (int c = 0; c < user.Count; c++)
                {
                    gradient[c] = g[user[c]] + (double)options.L2 * values[user[c]];
                }
            }

            for (int c = 0; c < user.Count; c++)
            {
                m[c] = 0.9 * m[c] + 0.1 * gradient[c];
                v[c] = 0.999 * v[c] + 0.001 * gradient[c] * gradient[c];
                values[user[c]] -= (float)(options.LearningRate * (m[c] / (1 - Math.Pow(0.9, step))) / (Math.Sqrt(v[c] / (1 - Math.Pow(0.999, step))) + 1e-8));
            }
        }

        // Measured: at most 3e-8 apart (float moments in the fit, double here; differences in the GMF gradient ~1e-8).
        // Each mutation above moves some row by at least 1e-3 (Adam steps are ~lr = 0.05).
        var actual = fitted.Parameters.ToArray();
        Assert.All(user, i => Assert.True(Math.Abs(actual[i] - values[i]) < 1e-5, $"{kind}: parameter {i} is {actual[i]}, expected {values[i]}"));
    }

    [Fact]
    public void A_history_of_all_items_but_one_draws_its_negatives_at_once()
    {
        // 20,000 items, 19,999 of them in the history: rejection sampling took ~20,000 draws a negative (tens of seconds
        // a step, under the recommender's lock); drawn from the items left, the one free item is every negative.
        using var backend = new CpuBackend(threads: 1);
        using var trained = new NcfModel(backend, 1, 20_000, new ModelOptions { Kind = ModelKind.Gmf, Factors = 4 });
        trained.Initialize(1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var folded = UserFoldIn.Fit(trained, [.. Enumerable.Range(1, 19_999)], new FoldInOptions { Steps = 3 }, out var losses);
        Assert.True(clock.Elapsed.TotalSeconds < 10, $"{clock.Elapsed.TotalSeconds:F1} s");
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
    }
}
