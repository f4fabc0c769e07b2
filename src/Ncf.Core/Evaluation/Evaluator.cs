using Ncf.Data;
using Ncf.Models;

namespace Ncf.Evaluation;

/// <summary>How a negative that scores exactly the same as the held-out item counts.</summary>
public enum TieBreaking
{
    /// <summary>
    /// Ties count against the held-out item: rank = number of candidates scoring ≥ it (other than the item itself).
    /// This is what the authors' code does (the test item is appended last and a stable top-K keeps earlier items
    /// on ties), and it cannot reward a model that scores everything alike. The default.
    /// </summary>
    Pessimistic,

    /// <summary>Ties count for the held-out item: rank = number of candidates scoring strictly higher (the peers' rule).</summary>
    Optimistic,
}

/// <summary>Hit ratio and NDCG at K over a set of leave-one-out cases.</summary>
public readonly record struct RankingMetrics(double HitRate, double Ndcg, int Cases, int K)
{
    /// <inheritdoc />
    public override string ToString() => $"HR@{K} {HitRate:F4}, NDCG@{K} {Ndcg:F4} over {Cases} cases";
}

/// <summary>
/// Leave-one-out evaluation. For each case the held-out item's 0-based rank among its candidates gives
/// <c>HR@K = [rank &lt; K]</c> and <c>NDCG@K = [rank &lt; K]·log 2 / log(rank + 2)</c>, averaged over cases.
/// Candidates equal to the held-out item itself (the NCF ML-1M negative file has 156 such cases) are ignored.
/// </summary>
public static class Evaluator
{
    /// <summary>
    /// Rank of <paramref name="targetScore"/> among <paramref name="candidateScores"/> (whose items are
    /// <paramref name="candidateItems"/>). NaN ranks below every number: a NaN target is last (a diverged model must
    /// not score a hit because every comparison with NaN is false), and a NaN candidate never outranks the target.
    /// </summary>
    public static int Rank(float targetScore, int targetItem, ReadOnlySpan<float> candidateScores, ReadOnlySpan<int> candidateItems, TieBreaking ties)
    {
        bool targetIsNaN = float.IsNaN(targetScore);
        int rank = 0;
        for (int n = 0; n < candidateScores.Length; n++)
        {
            float s = candidateScores[n];
            bool above = targetIsNaN || (ties == TieBreaking.Pessimistic ? s >= targetScore : s > targetScore);
            if (above && candidateItems[n] != targetItem)
            {
                rank++;
            }
        }

        return rank;
    }

    /// <summary>HR and NDCG contributions of one full-ranking case: the target against every item not in <paramref name="seen"/>.</summary>
    private static (double Hit, double Gain) RankAmongAll(ReadOnlySpan<float> scores, int target, ReadOnlySpan<int> seen, int k, TieBreaking ties)
    {
        float targetScore = scores[target];
        if (float.IsNaN(targetScore))
        {
            return (0, 0); // last, as in Rank
        }

        int rank = 0, next = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            // The user's training items are skipped with a merge walk over the sorted list.
            while (next < seen.Length && seen[next] < i)
            {
                next++;
            }

            if (i == target || (next < seen.Length && seen[next] == i))
            {
                continue;
            }

            float s = scores[i];
            if (ties == TieBreaking.Pessimistic ? s >= targetScore : s > targetScore)
            {
                rank++;
            }
        }

        return (rank < k ? 1 : 0, NdcgAt(rank, k));
    }

    /// <summary>The NDCG contribution of one case: <c>log 2 / log(rank + 2)</c> when rank &lt; K, else 0.</summary>
    public static double NdcgAt(int rank, int k) => rank < k ? Math.Log(2) / Math.Log(rank + 2) : 0;

    /// <summary>
    /// The paper's protocol: each held-out item ranked against its sampled negatives
    /// (<see cref="EvaluationSet.NegativesOf"/>).
    /// </summary>
    public static RankingMetrics SampledRanking(IScorer scorer, EvaluationSet cases, int k = 10, TieBreaking ties = TieBreaking.Pessimistic,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (cases.Count == 0)
        {
            return new RankingMetrics(0, 0, 0, k);
        }

        // Score many cases per call: one flat list of (user, item) pairs, the target first in each case. Large calls,
        // because the CPU scorer computes every item's half of the first layer once per call (ML-1M's 604,000 pairs
        // take two calls); cancellation is checked between calls.
        const int PairsPerChunk = 1 << 19;
        var users = new int[PairsPerChunk];
        var items = new int[PairsPerChunk];
        var scores = new float[PairsPerChunk];
        double hits = 0, ndcg = 0;
        int c = 0;
        while (c < cases.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int first = c, used = 0;
            while (c < cases.Count && (used + 1 + cases.NegativesOf(c).Length <= PairsPerChunk || used == 0))
            {
                var negatives = cases.NegativesOf(c);
                if (used + 1 + negatives.Length > users.Length)
                {
                    Array.Resize(ref users, used + 1 + negatives.Length);
                    Array.Resize(ref items, used + 1 + negatives.Length);
                    Array.Resize(ref scores, used + 1 + negatives.Length);
                }

                users.AsSpan(used, 1 + negatives.Length).Fill(cases.Users[c]);
                items[used] = cases.TargetItems[c];
                negatives.CopyTo(items.AsSpan(used + 1));
                used += 1 + negatives.Length;
                c++;
            }

            scorer.Score(users.AsSpan(0, used), items.AsSpan(0, used), scores);
            for (int at = 0, n = first; n < c; n++)
            {
                int count = cases.NegativesOf(n).Length;
                int rank = Rank(scores[at], items[at], scores.AsSpan(at + 1, count), items.AsSpan(at + 1, count), ties);
                hits += rank < k ? 1 : 0;
                ndcg += NdcgAt(rank, k);
                at += 1 + count;
            }
        }

        return new RankingMetrics(hits / cases.Count, ndcg / cases.Count, cases.Count, k);
    }

    /// <summary>
    /// How well users who arrive after training are served by a fold-in (<see cref="NcfRecommender.RecommendForHistory"/>):
    /// each case's user is treated as new, their items in <paramref name="history"/> (pass <see cref="NcfDataset.Train"/>:
    /// what training saw of them) are folded in against <paramref name="model"/>, which stays fixed, and the held-out
    /// item is ranked against its sampled negatives as <see cref="SampledRanking"/> ranks it. Beside the model's own
    /// <see cref="SampledRanking"/>, the difference is what a user loses by not being in the training run. One fold-in a
    /// case: ML-1M's 6,040 users take about two minutes on two cores.
    /// </summary>
    /// <param name="model">The trained model; not changed.</param>
    /// <param name="cases">The held-out cases.</param>
    /// <param name="history">Each user's items to fold in; a case whose user has none is an error.</param>
    /// <param name="k">The cut-off of HR@K and NDCG@K.</param>
    /// <param name="ties">How a tie with the target counts.</param>
    /// <param name="options">The fold-in's settings; defaults as documented on <see cref="FoldInOptions"/>.</param>
    /// <param name="cancellationToken">Checked before every case.</param>
    /// <param name="progress">Told the number of cases ranked so far, after every case.</param>
    public static RankingMetrics FoldInRanking(NcfModel model, EvaluationSet cases, UserItemIndex history, int k = 10,
        TieBreaking ties = TieBreaking.Pessimistic, FoldInOptions? options = null, CancellationToken cancellationToken = default,
        IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        options ??= new FoldInOptions();
        options.Validate();
        if (history.UserCount != model.UserCount || history.ItemCount != model.ItemCount)
        {
            throw new NcfException($"The history covers {history.UserCount} users and {history.ItemCount} items; the model has {model.UserCount} and {model.ItemCount}.");
        }

        if (cases.Count == 0)
        {
            return new RankingMetrics(0, 0, 0, k);
        }

        using var copy = UserFoldIn.CreateCopy(model);
        var users = Array.Empty<int>(); // all 0: the copy's one user
        var items = Array.Empty<int>();
        var scores = Array.Empty<float>();
        double hits = 0, ndcg = 0;
        for (int c = 0; c < cases.Count; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int user = cases.Users[c];
            if ((uint)user >= (uint)history.UserCount || history.CountOf(user) == 0)
            {
                throw new NcfException($"Case {c}: user {user} has no items to fold in.");
            }

            UserFoldIn.FitInto(copy, history.ItemsOf(user), options);
            var negatives = cases.NegativesOf(c);
            int count = 1 + negatives.Length;
            if (items.Length < count)
            {
                users = new int[count];
                items = new int[count];
                scores = new float[count];
            }

            items[0] = cases.TargetItems[c];
            negatives.CopyTo(items.AsSpan(1));
            copy.Score(users.AsSpan(0, count), items.AsSpan(0, count), scores.AsSpan(0, count));
            int rank = Rank(scores[0], items[0], scores.AsSpan(1, negatives.Length), items.AsSpan(1, negatives.Length), ties);
            hits += rank < k ? 1 : 0;
            ndcg += NdcgAt(rank, k);
            progress?.Report(c + 1);
        }

        return new RankingMetrics(hits / cases.Count, ndcg / cases.Count, cases.Count, k);
    }

    /// <summary>
    /// Full ranking: each held-out item ranked against every item not in <paramref name="known"/> for its user
    /// (Krichene and Rendle 2020 show sampled metrics can disagree with these). Pass <see cref="NcfDataset.Known"/>,
    /// so that the user's other held-out positives (the validation item when testing) are not counted as competitors;
    /// the target itself is never counted, whether or not <paramref name="known"/> lists it.
    /// </summary>
    /// <param name="scorer">The model (or any scorer) to rank with.</param>
    /// <param name="cases">The held-out cases: a user and a target item each.</param>
    /// <param name="known">Each user's known items, which are not ranked against the target.</param>
    /// <param name="k">The cut-off of HR@K and NDCG@K.</param>
    /// <param name="ties">How a tie with the target counts.</param>
    /// <param name="cancellationToken">Checked between scoring calls.</param>
    /// <param name="progress">Told the number of cases ranked so far, after every scoring call (every 64 users with a
    /// full-catalogue scorer): over a large catalogue this takes minutes (138 k users × 27 k items: about two).</param>
    public static RankingMetrics FullRanking(IScorer scorer, EvaluationSet cases, UserItemIndex known, int k = 10,
        TieBreaking ties = TieBreaking.Pessimistic, CancellationToken cancellationToken = default, IProgress<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        int itemCount = scorer.ItemCount;
        var users = new int[itemCount];
        var items = new int[itemCount];
        for (int i = 0; i < itemCount; i++)
        {
            items[i] = i;
        }

        // Scorers with a full-catalogue path score many users per call; others pair by pair.
        const int UsersPerCall = 64;
        var fast = scorer as IFullCatalogueScorer;
        var scores = new float[(fast is null ? 1 : UsersPerCall) * itemCount];
        var batchUsers = new int[UsersPerCall];
        double hits = 0, ndcg = 0;
        for (int first = 0; first < cases.Count; first += fast is null ? 1 : UsersPerCall)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = fast is null ? 1 : Math.Min(UsersPerCall, cases.Count - first);
            if (fast is not null)
            {
                cases.Users.AsSpan(first, count).CopyTo(batchUsers);
                fast.ScoreAllItems(batchUsers.AsSpan(0, count), scores);
            }
            else
            {
                users.AsSpan().Fill(cases.Users[first]);
                scorer.Score(users, items, scores);
            }

            for (int c = first; c < first + count; c++)
            {
                var (hit, gain) = RankAmongAll(scores.AsSpan((c - first) * itemCount, itemCount), cases.TargetItems[c], known.ItemsOf(cases.Users[c]), k, ties);
                hits += hit;
                ndcg += gain;
            }

            progress?.Report(first + count);
        }

        return cases.Count == 0 ? new RankingMetrics(0, 0, 0, k) : new RankingMetrics(hits / cases.Count, ndcg / cases.Count, cases.Count, k);
    }
}

/// <summary>
/// A backend that can run the sampled-ranking evaluation itself (scoring and ranking on the device, only the
/// metrics coming back). <see cref="Training.NcfTrainer"/> uses it when the model's backend offers it.
/// </summary>
public interface ISampledRankingEvaluator
{
    /// <summary>The metrics of <see cref="Evaluator.SampledRanking"/>, or null when this backend cannot evaluate these cases with this tie rule.</summary>
    RankingMetrics? TryEvaluateSampled(NcfModel model, EvaluationSet cases, int k, TieBreaking ties);
}
