using System.Runtime.InteropServices;
using Ncf.Data;
using Ncf.Randomness;

namespace Ncf.Training;

/// <summary>One training example: a (user, item) pair and its label (1 for a positive, 0 for a sampled negative).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct TrainingSample(int User, int Item, float Label);

/// <summary>
/// Builds each epoch's training examples: every training positive followed by <c>negatives</c> items drawn
/// uniformly from the items that user has no training interaction with, then shuffled. Negative draws are
/// counter-based (a pure function of seed, epoch and sample index), the shuffle is a Fisher–Yates pass of a
/// generator seeded by (seed, epoch): the same seed gives the same epochs on every machine.
/// </summary>
public sealed class NegativeSampler
{
    private readonly NcfDataset _data;
    private readonly int _negatives;
    private readonly ulong _seed;
    private TrainingSample[] _samples = [];

    /// <summary>Creates a sampler; fails when some user has interacted with every item (no negative exists).</summary>
    public NegativeSampler(NcfDataset data, int negatives, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(negatives);
        _data = data;
        _negatives = negatives;
        _seed = seed;
        if (negatives > 0)
        {
            for (int u = 0; u < data.UserCount; u++)
            {
                if (data.Train.CountOf(u) >= data.ItemCount)
                {
                    throw new NcfException($"User '{data.UserIds[u]}' has interacted with all {data.ItemCount} items, so no negative can be sampled for them.");
                }
            }
        }
    }

    /// <summary>Examples per epoch: positives × (1 + negatives).</summary>
    public long SamplesPerEpoch => (long)_data.TrainCount * (1 + _negatives);

    /// <summary>
    /// The shuffled examples of epoch <paramref name="epoch"/> (0-based). The returned memory is reused by the
    /// next call.
    /// </summary>
    public ReadOnlyMemory<TrainingSample> Epoch(int epoch)
    {
        long total = SamplesPerEpoch;
        if (total > Array.MaxLength)
        {
            throw new NcfException($"An epoch of {total:N0} samples does not fit in memory; use fewer negatives.");
        }

        if (_samples.Length != total)
        {
            _samples = new TrainingSample[total];
        }

        var users = _data.TrainUsers;
        var items = _data.TrainItems;
        var index = _data.Train;
        int itemCount = _data.ItemCount, stride = 1 + _negatives;
        ulong stream = CounterHash.Mix(_seed, (ulong)epoch);
        var samples = _samples.AsSpan();
        for (int p = 0; p < users.Length; p++)
        {
            int user = users[p];
            int at = p * stride;
            samples[at] = new TrainingSample(user, items[p], 1f);
            var seen = index.ItemsOf(user);
            for (int j = 1; j <= _negatives; j++)
            {
                ulong draw = (ulong)(at + j) << 20;
                int item;
                do
                {
                    item = CounterHash.NextInt(stream, 0, draw++, itemCount);
                }
                while (seen.BinarySearch(item) >= 0);

                samples[at + j] = new TrainingSample(user, item, 0f);
            }
        }

        new Rng(_seed, 0x5A00_0000UL + (ulong)epoch).Shuffle(samples);
        return _samples;
    }
}
