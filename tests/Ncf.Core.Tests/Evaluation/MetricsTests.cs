using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;

namespace Ncf.Core.Tests.Evaluation;

/// <summary>HR@K and NDCG@K on hand-made cases whose answers are worked out in the comments.</summary>
public class MetricsTests
{
    /// <summary>Scores from a fixed table: score(user, item) = table[user][item].</summary>
    private sealed class TableScorer(float[][] table) : IScorer
    {
        public int UserCount => table.Length;

        public int ItemCount => table[0].Length;

        public void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
        {
            for (int n = 0; n < users.Length; n++)
            {
                scores[n] = table[users[n]][items[n]];
            }
        }
    }

    // One user, 12 items; item i scores 12 - i, so item 0 is best. Negatives are all items but the target.
    private static (IScorer Scorer, EvaluationSet Set) OneCase(int target, float[]? scores = null)
    {
        scores ??= Enumerable.Range(0, 12).Select(i => 12f - i).ToArray();
        var negatives = Enumerable.Range(0, 12).Where(i => i != target).ToArray();
        return (new TableScorer([scores]), EvaluationSet.WithFixedNegatives([0], [target], negatives, negatives.Length));
    }

    [Theory]
    [InlineData(0, 1.0, 1.0)]                 // rank 0: NDCG = log 2 / log 2 = 1
    [InlineData(9, 1.0, 0.28906482631788766)] // rank 9: NDCG = 1 / log2(11) = 0.289064826...
    [InlineData(10, 0.0, 0.0)]                // rank 10 is outside the top 10
    public void Rank_0_9_and_10_give_the_hand_computed_metrics(int target, double hr, double ndcg)
    {
        var (scorer, set) = OneCase(target);
        var metrics = Evaluator.SampledRanking(scorer, set, k: 10);
        Assert.Equal(hr, metrics.HitRate, 12);
        Assert.Equal(ndcg, metrics.Ndcg, 12);
    }

    [Fact]
    public void Ties_count_against_the_target_by_default_and_for_it_when_optimistic()
    {
        // Target item 3 ties with items 0..2 and 4..10 (eleven negatives at the same score), item 11 is lower.
        var scores = Enumerable.Repeat(5f, 12).ToArray();
        scores[11] = 1f;
        var (scorer, set) = OneCase(3, scores);
        Assert.Equal(0.0, Evaluator.SampledRanking(scorer, set, 10, TieBreaking.Pessimistic).HitRate); // rank 10
        var optimistic = Evaluator.SampledRanking(scorer, set, 10, TieBreaking.Optimistic);             // rank 0
        Assert.Equal(1.0, optimistic.HitRate);
        Assert.Equal(1.0, optimistic.Ndcg);
    }

    [Fact]
    public void NaN_ranks_below_every_number_so_a_diverged_model_scores_no_hit()
    {
        // Every score NaN (a model that diverged): every comparison with NaN is false, so a naive count gives rank 0
        // and HR 1. NaN is last instead: no hit, sampled or full ranking.
        var nan = Enumerable.Repeat(float.NaN, 12).ToArray();
        var (scorer, set) = OneCase(3, nan);
        Assert.Equal(0.0, Evaluator.SampledRanking(scorer, set, 10).HitRate);
        Assert.Equal(0.0, Evaluator.SampledRanking(scorer, set, 10, TieBreaking.Optimistic).HitRate);
        var known = new UserItemIndex(1, 12, [0], [5]);
        Assert.Equal(0.0, Evaluator.FullRanking(scorer, set, known, 10).HitRate);

        // A finite target against NaN candidates: they never outrank it (rank 2 here, from items 0 and 1).
        var someNaN = Enumerable.Range(0, 12).Select(i => i >= 4 ? float.NaN : 12f - i).ToArray();
        (scorer, set) = OneCase(2, someNaN);
        Assert.Equal(Math.Log(2) / Math.Log(4), Evaluator.SampledRanking(scorer, set, 10).Ndcg, 12);
    }

    [Fact]
    public void The_target_listed_among_its_own_negatives_does_not_lower_its_rank()
    {
        // As in 156 cases of the NCF ML-1M negative file. Target 2 has rank 2 (items 0 and 1 score higher).
        var scorer = new TableScorer([Enumerable.Range(0, 12).Select(i => 12f - i).ToArray()]);
        var set = EvaluationSet.WithFixedNegatives([0], [2], [2, 0, 1, 5, 2], 5);
        var metrics = Evaluator.SampledRanking(scorer, set, 10);
        Assert.Equal(Math.Log(2) / Math.Log(4), metrics.Ndcg, 12);
    }

    [Fact]
    public void Metrics_average_over_cases_and_k_is_respected()
    {
        // Two users; user 0's target at rank 1, user 1's at rank 3. HR@3 = 0.5, NDCG@3 = (1/log2(3) + 0)/2.
        var s0 = Enumerable.Range(0, 12).Select(i => 12f - i).ToArray();
        var scorer = new TableScorer([s0, s0]);
        var set = new EvaluationSet([0, 1], [1, 3], [0, 11, 22], [.. Enumerable.Range(0, 12).Where(i => i != 1), .. Enumerable.Range(0, 12).Where(i => i != 3)]);
        var metrics = Evaluator.SampledRanking(scorer, set, k: 3);
        Assert.Equal(0.5, metrics.HitRate, 12);
        Assert.Equal(0.5 / Math.Log2(3), metrics.Ndcg, 12);
        Assert.Equal(2, metrics.Cases);
    }

    [Fact]
    public void Full_ranking_skips_the_users_training_items()
    {
        // Target 5 is beaten by items 0..4; items 0, 1 and 2 are training items, so only 3 and 4 count: rank 2.
        var scorer = new TableScorer([Enumerable.Range(0, 12).Select(i => 12f - i).ToArray()]);
        var known = new UserItemIndex(1, 12, [0, 0, 0], [2, 0, 1]);
        var set = new EvaluationSet([0], [5], [0, 0], []);
        var metrics = Evaluator.FullRanking(scorer, set, known, k: 10);
        Assert.Equal(1.0, metrics.HitRate);
        Assert.Equal(Math.Log(2) / Math.Log(4), metrics.Ndcg, 12);
        Assert.Equal(0.0, Evaluator.FullRanking(scorer, set, known, k: 2).HitRate);
    }

    [Fact]
    public void Full_ranking_reports_the_cases_ranked_after_each_scoring_call_and_the_same_metrics()
    {
        // 150 users, one case each. A model scores 64 users per call (reports 64, 128, 150); a pair-by-pair scorer one
        // user per call (reports 1 to 3 for 3 cases). The metrics do not depend on whether progress is asked for.
        using var backend = new Ncf.Backends.Cpu.CpuBackend();
        using var model = new NcfModel(backend, 150, 20, new ModelOptions { Kind = ModelKind.NeuMF, Factors = 4, Layers = 2 });
        model.Initialize(3);
        var users = Enumerable.Range(0, 150).ToArray();
        var cases = new EvaluationSet(users, users.Select(u => u % 20).ToArray(), new int[151], []);
        var known = new UserItemIndex(150, 20, [], []);
        var reports = new List<int>();
        var withProgress = Evaluator.FullRanking(model, cases, known, 10, progress: new InlineProgress<int>(reports.Add));
        Assert.Equal([64, 128, 150], reports);
        Assert.Equal(Evaluator.FullRanking(model, cases, known, 10), withProgress);

        var table = new TableScorer([Enumerable.Range(0, 12).Select(i => 12f - i).ToArray(), new float[12], new float[12]]);
        var three = new EvaluationSet([0, 1, 2], [5, 5, 5], new int[4], []);
        reports.Clear();
        Evaluator.FullRanking(table, three, new UserItemIndex(3, 12, [], []), 10, progress: new InlineProgress<int>(reports.Add));
        Assert.Equal([1, 2, 3], reports);
    }

    [Fact]
    public void Full_ranking_of_the_test_item_does_not_count_the_held_out_validation_item_as_a_competitor()
    {
        // One user, 12 items scored 12 - i. Training items 0 and 1, validation target 3, test target 5.
        // Competitors of item 5 are items 2 and 4 (item 3 is a held-out positive, not a negative): rank 2.
        var scorer = new TableScorer([Enumerable.Range(0, 12).Select(i => 12f - i).ToArray()]);
        var test = new EvaluationSet([0], [5], [0, 0], []);
        var validation = new EvaluationSet([0], [3], [0, 0], []);
        var data = new NcfDataset("hand-made", 1, 12, [0, 0], [0, 1], test, validation);
        Assert.Equal([0, 1, 3, 5], data.Known.ItemsOf(0).ToArray());
        Assert.Equal([0, 1], data.Train.ItemsOf(0).ToArray());
        Assert.Equal(Math.Log(2) / Math.Log(4), Evaluator.FullRanking(scorer, test, data.Known, k: 10).Ndcg, 12);
        Assert.Equal(Math.Log(2) / Math.Log(5), Evaluator.FullRanking(scorer, test, data.Train, k: 10).Ndcg, 12);
    }

    [Fact]
    public void Top_k_excludes_known_items_orders_ties_by_index_and_honours_candidates()
    {
        var scorer = new TableScorer([[1f, 9f, 9f, 3f, 7f, 9f]]);
        var known = new UserItemIndex(1, 6, [0], [2]);
        var top = TopK.ForUser(scorer, 0, 3, known);
        Assert.Equal([1, 5, 4], top.Select(r => r.Item));
        Assert.Equal([9f, 9f, 7f], top.Select(r => r.Score));
        var fromCandidates = TopK.ForUser(scorer, 0, 10, known, [0, 3, 2]);
        Assert.Equal([3, 0], fromCandidates.Select(r => r.Item));
        Assert.Throws<NcfException>(() => TopK.ForUser(scorer, 1, 3));
    }

    [Fact]
    public void Popularity_scores_items_by_training_count()
    {
        var popularity = new PopularityScorer(2, [3, 0, 7]);
        var scores = new float[3];
        popularity.Score([0, 1, 1], [0, 1, 2], scores);
        Assert.Equal([3f, 0f, 7f], scores);
    }
}
