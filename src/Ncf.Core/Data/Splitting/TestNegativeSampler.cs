using Ncf.Randomness;

namespace Ncf.Data;

/// <summary>
/// Draws evaluation negatives: distinct items (without replacement) that a user never interacted with.
/// Usage per user: <see cref="BeginUser"/> with everything the user has seen, then one <see cref="Draw"/> per
/// evaluation case. Each draw uses its own <see cref="Rng"/> stream, keyed by (seed, user, purpose), so a user's
/// negatives do not depend on the other users. Cost O(seen + count) per user via stamp arrays.
/// </summary>
internal sealed class TestNegativeSampler
{
    /// <summary>Stream key of test negatives.</summary>
    public const ulong TestPurpose = 1;

    /// <summary>Stream key of validation negatives.</summary>
    public const ulong ValidationPurpose = 2;

    private readonly int _itemCount;
    private readonly ulong _seed;
    private readonly int[] _seenStamp;
    private readonly int[] _drawStamp;
    private int _seenCount;
    private int _userStamp;
    private int _drawId;

    /// <summary>A sampler over items <c>0..itemCount-1</c>.</summary>
    public TestNegativeSampler(int itemCount, ulong seed)
    {
        _itemCount = itemCount;
        _seed = seed;
        _seenStamp = new int[itemCount];
        _drawStamp = new int[itemCount];
    }

    /// <summary>Starts a user; <paramref name="seen"/> may hold repeats.</summary>
    public void BeginUser(ReadOnlySpan<int> seen)
    {
        _userStamp++;
        _seenCount = 0;
        foreach (int item in seen)
        {
            if (_seenStamp[item] != _userStamp)
            {
                _seenStamp[item] = _userStamp;
                _seenCount++;
            }
        }
    }

    /// <summary>Number of items the current user has not seen.</summary>
    public int Unseen => _itemCount - _seenCount;

    /// <summary>
    /// Fills <paramref name="destination"/> with distinct unseen items for <paramref name="user"/>.
    /// The caller checks <see cref="Unseen"/> first (this throws <see cref="InvalidOperationException"/> otherwise).
    /// </summary>
    public void Draw(int user, ulong purpose, Span<int> destination)
    {
        int count = destination.Length;
        if (count > Unseen)
        {
            throw new InvalidOperationException("Not enough unseen items; check Unseen first.");
        }

        var rng = new Rng(_seed, CounterHash.Mix((ulong)user, purpose));
        _drawId++;
        if (count * 2L >= Unseen)
        {
            // Dense case: list every candidate and take a partial Fisher–Yates prefix (rejection would crawl).
            var candidates = new int[Unseen];
            int n = 0;
            for (int item = 0; item < _itemCount; item++)
            {
                if (_seenStamp[item] != _userStamp)
                {
                    candidates[n++] = item;
                }
            }

            for (int k = 0; k < count; k++)
            {
                int j = k + rng.NextInt(n - k);
                (candidates[k], candidates[j]) = (candidates[j], candidates[k]);
                destination[k] = candidates[k];
            }

            return;
        }

        // Sparse case: rejection sampling; at least half the items qualify, so under two tries per draw on average.
        for (int k = 0; k < count;)
        {
            int item = rng.NextInt(_itemCount);
            if (_seenStamp[item] == _userStamp || _drawStamp[item] == _drawId)
            {
                continue;
            }

            _drawStamp[item] = _drawId;
            destination[k++] = item;
        }
    }
}
