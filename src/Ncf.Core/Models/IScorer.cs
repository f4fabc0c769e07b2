namespace Ncf.Models;

/// <summary>Anything that scores (user, item) pairs; higher means more likely to interact.</summary>
public interface IScorer
{
    /// <summary>Number of users the scorer knows.</summary>
    int UserCount { get; }

    /// <summary>Number of items the scorer knows.</summary>
    int ItemCount { get; }

    /// <summary>Writes one score per pair: <c>scores[n] = score(users[n], items[n])</c>.</summary>
    void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores);
}

/// <summary>
/// A scorer with a faster path for scoring every item for a set of users (full ranking, recommendation over the
/// whole catalogue) than scoring pairs one by one.
/// </summary>
public interface IFullCatalogueScorer : IScorer
{
    /// <summary>Writes <c>scores[u·ItemCount + i] = score(users[u], i)</c> for every item i.</summary>
    void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores);
}

/// <summary>The popularity baseline: an item's score is its number of training interactions, for every user.</summary>
public sealed class PopularityScorer(int userCount, int[] itemCounts) : IScorer
{
    /// <inheritdoc />
    public int UserCount { get; } = userCount;

    /// <inheritdoc />
    public int ItemCount => itemCounts.Length;

    /// <inheritdoc />
    public void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        for (int n = 0; n < items.Length; n++)
        {
            scores[n] = itemCounts[items[n]];
        }
    }
}
