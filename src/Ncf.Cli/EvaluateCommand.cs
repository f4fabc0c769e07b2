using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;

namespace Ncf.Cli;

/// <summary>`ncf evaluate`: HR@K and NDCG@K of a saved model (sampled and, on request, full ranking) beside popularity.</summary>
internal static class EvaluateCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv, Common.Flags);
        string path = args.String("model") ?? throw new NcfException("evaluate needs --model FILE.");
        int k = args.Int("k", 10, 1, 100_000);
        bool full = args.Flag("full-ranking");
        bool foldIn = args.Flag("fold-in");
        bool json = args.Flag("json");
        // Default: the training run's rule, stored in the model file.
        var givenTies = args.Choice<TieBreaking?>("ties", null, ("pessimistic", TieBreaking.Pessimistic), ("optimistic", TieBreaking.Optimistic));
        if (Common.HoldOutOption(args) == HoldOut.None)
        {
            throw new NcfException("--holdout none leaves nothing to evaluate on: evaluate needs the held-out test cases.");
        }

        ulong? givenSeed = args.Given("seed") ? args.ULong("seed", 42) : null;
        if (givenSeed is not null && Common.IsSyntheticData(args.String("data")))
        {
            throw new NcfException("--seed draws the test negatives of a data file's split; the synthetic data has its own. Drop it or give --data.");
        }

        var loadData = Common.SeededDataLoader(args, cancellationToken);
        args.RejectUnknown("evaluate");
        using var backend = new CpuBackend();
        using var recommender = NcfRecommender.Load(path, backend);

        // The split's seed draws a raw log's test negatives: by default the training run's, so that evaluate
        // reproduces the figures it printed (42, the training default, for files that predate the stored seed).
        var data = loadData(givenSeed ?? recommender.DataSeed ?? 42);
        if (data.Test is null)
        {
            throw new NcfException($"{data.Name}: the data has no test cases to evaluate on.");
        }

        if (recommender.Model.UserCount != data.UserCount || recommender.Model.ItemCount != data.ItemCount)
        {
            throw new NcfException($"{path}: the model has {recommender.Model.UserCount} users and {recommender.Model.ItemCount} items; the data has {data.UserCount} and {data.ItemCount}.");
        }

        Common.RequireTrainedOn(recommender, data, path);
        var ties = givenTies ?? recommender.Ties;
        var notes = json ? stderr : stdout; // stdout carries JSON lines only
        foreach (string note in data.Notes)
        {
            notes.WriteLine($"note: {note}");
        }

        if (Common.TrivialHitRateNote(data.Test, k, "; a K below the candidate count measures something.") is { } trivial)
        {
            notes.WriteLine(trivial);
        }

        var model = new FiniteScorer(recommender.Model, path);
        var sampled = Evaluator.SampledRanking(model, data.Test, k, ties, cancellationToken);
        var popularity = Evaluator.SampledRanking(new PopularityScorer(data.UserCount, data.ItemPopularity()), data.Test, k, ties, cancellationToken);
        RankingMetrics? fullMetrics = full
            ? Evaluator.FullRanking(model, data.Test, data.Known, k, ties, cancellationToken, Common.UserProgress(stderr, data.Test.Count, "full ranking: "))
            : null;
        // Each test user treated as new: their training rows folded in against the fixed model (minutes on a large set).
        RankingMetrics? foldInMetrics = foldIn
            ? Evaluator.FoldInRanking(recommender.Model, data.Test, data.Train, k, ties, cancellationToken: cancellationToken,
                progress: Common.UserProgress(stderr, data.Test.Count, "fold-in: "))
            : null;
        if (json)
        {
            var line = new JsonLine().Add("k", k).Add("hr", sampled.HitRate).Add("ndcg", sampled.Ndcg)
                .Add("popularity_hr", popularity.HitRate).Add("popularity_ndcg", popularity.Ndcg).Add("cases", sampled.Cases);
            if (fullMetrics is { } f)
            {
                line.Add("full_ranking_hr", f.HitRate).Add("full_ranking_ndcg", f.Ndcg);
            }

            if (foldInMetrics is { } fi)
            {
                line.Add("fold_in_hr", fi.HitRate).Add("fold_in_ndcg", fi.Ndcg);
            }

            stdout.WriteLine(line);
            return Cli.Ok;
        }

        stdout.WriteLine($"sampled negatives: {sampled}");
        stdout.WriteLine($"popularity:        {popularity}");
        if (fullMetrics is { } fm)
        {
            stdout.WriteLine($"full ranking:      {fm}");
        }

        if (foldInMetrics is { } fim)
        {
            stdout.WriteLine($"fold-in:           {fim} (each user's training rows fitted as a new user's history)");
        }

        return Cli.Ok;
    }

    /// <summary>
    /// The model's scores, refused when one is NaN or infinite. The evaluator ranks such a score last (a diverging run
    /// scores no hit), but a saved model's weights are finite, so one there means weights too large for float
    /// arithmetic (a corrupted or hand-made file): its figures would mean nothing.
    /// </summary>
    private sealed class FiniteScorer(NcfModel model, string path) : IFullCatalogueScorer
    {
        public int UserCount => model.UserCount;

        public int ItemCount => model.ItemCount;

        public void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
        {
            model.Score(users, items, scores);
            Check(scores);
        }

        public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
        {
            model.ScoreAllItems(users, scores);
            Check(scores);
        }

        private void Check(ReadOnlySpan<float> scores)
        {
            foreach (float score in scores)
            {
                if (!float.IsFinite(score))
                {
                    throw new NcfException($"{path}: the model scores a pair as {score}: its parameters are too large for float arithmetic "
                        + "(a corrupted or hand-made model), so it cannot be evaluated.");
                }
            }
        }
    }
}
