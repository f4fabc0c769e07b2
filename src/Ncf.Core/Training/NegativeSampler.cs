using System.Runtime.InteropServices;
using Ncf.Data;
using Ncf.Randomness;

namespace Ncf.Training;

/// <summary>One training example: a (user, item) pair and its label (1 for a positive, 0 for a sampled negative).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct TrainingSample(int User, int Item, float Label);

/// <summary>
/// Builds each epoch's training examples: every training positive followed by <c>negatives</c> items drawn
/// uniformly from the items that user has no training interaction with, then shuffled into a uniformly random order.
/// </summary>
/// <remarks>
/// Every draw is counter-based — a pure function of (seed, epoch, sample index) — so the epoch is the same whatever
/// the thread count. The shuffle avoids a cache-missing Fisher–Yates pass over the whole epoch: each example goes to
/// one of B buckets by a random draw (a stable, streaming scatter), then each bucket, small enough for the L2 cache,
/// is Fisher–Yates shuffled with its own generator. Giving every element an independent uniform bucket and then a
/// uniform order within its bucket yields an exactly uniform permutation (it is sorting by random keys, digit by
/// digit).
/// </remarks>
public sealed class NegativeSampler
{
    private const int SamplesPerBucket = 1 << 16; // 64 Ki examples × 12 B = 768 KiB: fits an L2 cache
    private readonly NcfDataset _data;
    private readonly int _negatives;
    private readonly ulong _seed;
    private readonly int _threads;
    private TrainingSample[] _samples = [];

    /// <summary>Creates a sampler; fails when some user has interacted with every item (no negative exists).</summary>
    /// <param name="data">The training data.</param>
    /// <param name="negatives">Negatives per positive.</param>
    /// <param name="seed">Fixes every draw.</param>
    /// <param name="threads">Threads used to build an epoch (0: all cores); the result does not depend on it.</param>
    public NegativeSampler(NcfDataset data, int negatives, ulong seed, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(negatives);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _data = data;
        _negatives = negatives;
        _seed = seed;
        _threads = threads == 0 ? Environment.ProcessorCount : threads;
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
        int count = CheckedCount();
        if (_samples.Length != count)
        {
            _samples = new TrainingSample[count];
        }

        Build(epoch, _samples, _threads);
        return _samples;
    }

    /// <summary>A fresh array that <see cref="Build"/> can fill (one epoch's examples).</summary>
    internal TrainingSample[] AllocateEpoch() => new TrainingSample[CheckedCount()];

    private int CheckedCount()
    {
        long total = SamplesPerEpoch;
        if (total > Array.MaxLength)
        {
            throw new NcfException($"An epoch of {total:N0} samples does not fit in memory; use fewer negatives.");
        }

        return (int)total;
    }

    /// <summary>
    /// Writes epoch <paramref name="epoch"/>'s shuffled examples into <paramref name="destination"/> on up to
    /// <paramref name="threads"/> threads (the result does not depend on it). Nothing but the destination is held
    /// (12 bytes per example), so a trainer can fill a second destination in the background while it trains on the first.
    /// </summary>
    /// <remarks>
    /// Example <c>i</c> is positive <c>i / (1 + negatives)</c> or one of its negatives, and its bucket is a counter-based
    /// draw from <c>i</c>, so both can be computed where they are needed instead of being stored. The stable scatter
    /// runs in two passes over contiguous chunks of examples: the first counts each chunk's examples per bucket, which
    /// fixes where each chunk's share of each bucket starts; the second generates the examples and writes each to the
    /// next place of its bucket in its chunk's share. The order within a bucket is therefore the examples' order, as a
    /// sequential scatter of the generated epoch would leave it, and then each bucket is shuffled.
    /// </remarks>
    internal void Build(int epoch, TrainingSample[] destination, int threads)
    {
        int count = CheckedCount();
        if (destination.Length != count)
        {
            throw new ArgumentException($"An epoch has {count} examples; the destination holds {destination.Length}.", nameof(destination));
        }

        ulong stream = CounterHash.Mix(_seed, (ulong)epoch);
        threads = Math.Max(1, threads);
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        int positives = _data.TrainCount;
        // At most 1,024 chunks: the chunk × bucket table stays under 2^25 entries (buckets ≤ 2^15), whatever the thread count.
        int chunks = Math.Max(1, Math.Min(Math.Min(threads, 256) * 4, positives / 4096));
        int buckets = Math.Max(1, (count + SamplesPerBucket - 1) / SamplesPerBucket);
        ulong bucketKey = CounterHash.Key(CounterHash.Mix(stream, 0xB0C), 0);
        int stride = 1 + _negatives;
        int FirstPositive(int chunk) => (int)((long)positives * chunk / chunks);

        // next[chunk * buckets + b]: first the chunk's count of bucket b, then where its share of bucket b begins.
        var next = new int[chunks * buckets];
        Parallel.For(0, chunks, options, chunk =>
        {
            var counts = next.AsSpan(chunk * buckets, buckets);
            for (int i = FirstPositive(chunk) * stride, end = FirstPositive(chunk + 1) * stride; i < end; i++)
            {
                counts[BucketOf(bucketKey, i, buckets)]++;
            }
        });

        var bucketStart = new int[buckets + 1];
        int position = 0;
        for (int b = 0; b < buckets; b++)
        {
            bucketStart[b] = position;
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                int share = next[chunk * buckets + b];
                next[chunk * buckets + b] = position;
                position += share;
            }
        }

        bucketStart[buckets] = position;
        Parallel.For(0, chunks, options, chunk =>
            Generate(stream, FirstPositive(chunk), FirstPositive(chunk + 1), destination, next.AsSpan(chunk * buckets, buckets), bucketKey));

        Parallel.For(0, buckets, options, b =>
            new Rng(_seed, CounterHash.Mix(0x5A00_0000UL + (ulong)epoch, (ulong)b)).Shuffle(destination.AsSpan(bucketStart[b], bucketStart[b + 1] - bucketStart[b])));
    }

    /// <summary>Example <paramref name="example"/>'s shuffle bucket: the counting pass and the placing pass must agree on it.</summary>
    private static int BucketOf(ulong bucketKey, int example, int buckets) => CounterHash.NextIntFromKey(bucketKey, (ulong)example, buckets);

    /// <summary>
    /// Generates positives [first, end) and their negatives, and writes each example to the next place of its bucket
    /// (<paramref name="next"/>, advanced as it goes); every draw depends only on the example's index.
    /// </summary>
    private void Generate(ulong stream, int first, int end, TrainingSample[] destination, Span<int> next, ulong bucketKey)
    {
        var users = _data.TrainUsers;
        var items = _data.TrainItems;
        var index = _data.Train;
        int itemCount = _data.ItemCount, stride = 1 + _negatives, buckets = next.Length;
        ulong key = CounterHash.Key(stream, 0);
        for (int p = first; p < end; p++)
        {
            int user = users[p];
            int at = p * stride;
            destination[next[BucketOf(bucketKey, at, buckets)]++] = new TrainingSample(user, items[p], 1f);
            var seen = index.ItemsOf(user);
            for (int j = 1; j <= _negatives; j++)
            {
                ulong draw = (ulong)(at + j) << 20;
                int item;
                do
                {
                    item = CounterHash.NextIntFromKey(key, draw++, itemCount);
                }
                while (seen.BinarySearch(item) >= 0);

                destination[next[BucketOf(bucketKey, at + j, buckets)]++] = new TrainingSample(user, item, 0f);
            }
        }
    }
}
