using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
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
}
