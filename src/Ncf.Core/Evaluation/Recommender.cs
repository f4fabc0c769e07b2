using Ncf.Data;
using Ncf.Models;

namespace Ncf.Evaluation;

/// <summary>One recommended item and its score.</summary>
public readonly record struct Recommendation(int Item, float Score);

/// <summary>Top-K selection over a scorer's items.</summary>
public static class TopK
{
    /// <summary>
    /// The <paramref name="k"/> best items for <paramref name="user"/>, best first, among
    /// <paramref name="candidates"/> (all items when empty), leaving out the items in <paramref name="exclude"/>'s
    /// row for the user. Equal scores are ordered by item index, so results are deterministic.
    /// </summary>
    /// <exception cref="NcfException">The scorer gives a NaN or infinite score (a model whose weights overflow).</exception>
    public static Recommendation[] ForUser(IScorer scorer, int user, int k, UserItemIndex? exclude = null, ReadOnlySpan<int> candidates = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckUser(scorer, user);
        int[] items;
        if (candidates.IsEmpty)
        {
            items = Catalogue(scorer.ItemCount);
        }
        else
        {
            foreach (int item in candidates)
            {
                if ((uint)item >= (uint)scorer.ItemCount)
                {
                    throw new NcfException($"Candidate item index {item} is outside the model's {scorer.ItemCount} items.");
                }
            }

            items = candidates.ToArray().Distinct().ToArray(); // a repeated candidate would take two places
        }

        var scores = new float[items.Length];
        if (candidates.IsEmpty && scorer is IFullCatalogueScorer fast)
        {
            fast.ScoreAllItems([user], scores);
        }
        else
        {
            var users = new int[items.Length];
            users.AsSpan().Fill(user);
            scorer.Score(users, items, scores);
        }

        RequireFinite(scores, user, items);
        return Select(items, scores, k, exclude is null ? default : exclude.ItemsOf(user));
    }

    /// <summary>
    /// <see cref="ForUser"/> for each of <paramref name="users"/> over the whole catalogue, with the same results. A
    /// scorer that scores the catalogue for many users at once (<see cref="IFullCatalogueScorer"/>) is called once for
    /// all of them, so its per-call work (the item half of NCF's first tower layer) is shared; <paramref name="users"/>
    /// × item count scores are held at once, so callers pass users in chunks.
    /// </summary>
    public static Recommendation[][] ForUsers(IScorer scorer, ReadOnlySpan<int> users, int k, UserItemIndex? exclude = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (exclude is not null && (exclude.UserCount != scorer.UserCount || exclude.ItemCount != scorer.ItemCount))
        {
            throw new ArgumentException("The excluded items must index the scorer's users and items.", nameof(exclude));
        }

        var result = new Recommendation[users.Length][];
        if (scorer is not IFullCatalogueScorer fast)
        {
            for (int n = 0; n < users.Length; n++)
            {
                result[n] = ForUser(scorer, users[n], k, exclude);
            }

            return result;
        }

        foreach (int user in users)
        {
            CheckUser(scorer, user);
        }

        int itemCount = scorer.ItemCount;
        var items = Catalogue(itemCount);
        var scores = new float[(long)users.Length * itemCount];
        fast.ScoreAllItems(users, scores);
        for (int n = 0; n < users.Length; n++)
        {
            var row = scores.AsSpan().Slice((int)((long)n * itemCount), itemCount);
            RequireFinite(row, users[n], items);
            result[n] = Select(items, row, k, exclude is null ? default : exclude.ItemsOf(users[n]));
        }

        return result;
    }

    // A model whose parameters are finite can still overflow float arithmetic (a hand-made or corrupted file with
    // huge weights); its NaN or infinite scores would rank nothing meaningfully, so they are an error, not a ranking.
    private static void RequireFinite(ReadOnlySpan<float> scores, int user, ReadOnlySpan<int> items)
    {
        for (int n = 0; n < scores.Length; n++)
        {
            if (!float.IsFinite(scores[n]))
            {
                throw new NcfException($"The model scores user index {user}, item index {items[n]} as {scores[n]}: its parameters are too "
                    + "large for float arithmetic (a corrupted or hand-made model), so it cannot rank items.");
            }
        }
    }

    private static void CheckUser(IScorer scorer, int user)
    {
        if ((uint)user >= (uint)scorer.UserCount)
        {
            throw new NcfException($"User index {user} is outside the model's {scorer.UserCount} users.");
        }
    }

    // Every item index, 0 .. itemCount - 1: the candidates of a full-catalogue request.
    private static int[] Catalogue(int itemCount)
    {
        var items = new int[itemCount];
        for (int i = 0; i < itemCount; i++)
        {
            items[i] = i;
        }

        return items;
    }

    /// <summary>The best <paramref name="k"/> of (item, score) pairs, skipping items in the sorted <paramref name="excludedSorted"/>.</summary>
    public static Recommendation[] Select(ReadOnlySpan<int> items, ReadOnlySpan<float> scores, int k, ReadOnlySpan<int> excludedSorted)
    {
        // A min-heap of the best k seen so far; its root is the weakest kept entry.
        var heap = new Recommendation[Math.Min(k, items.Length)];
        int size = 0;
        for (int n = 0; n < items.Length; n++)
        {
            var candidate = new Recommendation(items[n], scores[n]);
            if (float.IsNaN(candidate.Score) || (!excludedSorted.IsEmpty && excludedSorted.BinarySearch(candidate.Item) >= 0))
            {
                continue;
            }

            if (size < heap.Length)
            {
                heap[size] = candidate;
                SiftUp(heap, size++);
            }
            else if (heap.Length > 0 && Better(candidate, heap[0]))
            {
                heap[0] = candidate;
                SiftDown(heap, size);
            }
        }

        var result = heap.AsSpan(0, size).ToArray();
        Array.Sort(result, (a, b) => Better(a, b) ? -1 : Better(b, a) ? 1 : 0);
        return result;
    }

    private static bool Better(Recommendation a, Recommendation b) => a.Score > b.Score || (a.Score == b.Score && a.Item < b.Item);

    private static void SiftUp(Recommendation[] heap, int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Better(heap[parent], heap[i]))
            {
                break;
            }

            (heap[parent], heap[i]) = (heap[i], heap[parent]);
            i = parent;
        }
    }

    private static void SiftDown(Recommendation[] heap, int size)
    {
        int i = 0;
        while (true)
        {
            int left = 2 * i + 1, right = left + 1, weakest = i;
            if (left < size && Better(heap[weakest], heap[left]))
            {
                weakest = left;
            }

            if (right < size && Better(heap[weakest], heap[right]))
            {
                weakest = right;
            }

            if (weakest == i)
            {
                return;
            }

            (heap[weakest], heap[i]) = (heap[i], heap[weakest]);
            i = weakest;
        }
    }
}
