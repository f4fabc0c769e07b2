using ILGPU;
using ILGPU.Runtime;
using Ncf.Randomness;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// An epoch of training examples on the device, as <see cref="Ncf.Training.NegativeSampler"/> builds it on the host:
/// sample <c>s = p·stride + j</c> (<c>stride = 1 + negatives</c>) is positive p itself for <c>j = 0</c>, else a
/// negative for p's user drawn uniformly by rejection from the items outside the user's training row. The order is a
/// uniformly random permutation: sort keys <c>(random 32 bits, s)</c>, then materialise position o from the sample
/// index in the low 32 bits of <c>keys[o]</c>. Every draw is counter-based (<see cref="CounterHash"/>), so the
/// result depends on (seed, epoch) alone, never on scheduling.
/// </summary>
internal sealed class SamplingKernels(Accelerator accelerator)
{
    /// <summary>Attempts per negative before a kernel gives up (the host guarantees a negative exists; this only prevents a hang).</summary>
    internal const int MaxAttempts = 1 << 20;

    private Action<Index1D, ArrayView<long>, int, ulong>? _shuffleKeys;
    private Action<Index1D, ArrayView<long>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, ulong,
        ArrayView<int>, ArrayView<int>, ArrayView<float>>? _materialize;

    /// <summary><c>keys[i] = (bits(shuffleKey, i) high 32) &lt;&lt; 32 | i</c> for <c>i &lt; count</c>; padding is <see cref="long.MaxValue"/> (sorts last).</summary>
    public void ShuffleKeys(ArrayView<long> keys, int count, ulong shuffleKey) =>
        (_shuffleKeys ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, int, ulong>(ShuffleKeysKernel))
        ((int)keys.Length, keys, count, shuffleKey);

    /// <summary>Writes examples <c>[0, users.Length)</c> in the order of the sorted <paramref name="keys"/>.</summary>
    public void Materialize(ArrayView<long> keys, SampleSource source, int stride, ulong drawKey,
        ArrayView<int> users, ArrayView<int> items, ArrayView<float> labels) =>
        (_materialize ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, ArrayView<int>, ArrayView<int>, ArrayView<int>,
            ArrayView<int>, int, int, ulong, ArrayView<int>, ArrayView<int>, ArrayView<float>>(MaterializeKernel))
        ((int)users.Length, keys, source.TrainUsers, source.TrainItems, source.Offsets, source.RowItems, source.ItemCount, stride, drawKey,
            users, items, labels);

    // keys is [padded >= count]: thread i writes key i. The high half is random, the low half the sample index
    // (distinct, so ties cannot occur and the sort is a uniformly random permutation up to 32-bit key collisions,
    // which the index breaks deterministically).
    private static void ShuffleKeysKernel(Index1D i, ArrayView<long> keys, int count, ulong shuffleKey)
    {
        if (i < count)
        {
            ulong random = CounterHash.BitsFromKey(shuffleKey, (ulong)(int)i) & 0xFFFF_FFFF_0000_0000UL;
            keys[i] = (long)(random | (uint)(int)i);
        }
        else
        {
            keys[i] = long.MaxValue;
        }
    }

    // keys is [>= count] sorted; users, items, labels are [count]. Thread o reads sample s from keys[o] and writes
    // it: positive p = s / stride when s % stride == 0, else a negative of p's user. The negative's draws are
    // those of NegativeSampler: counters (s << 20) + attempt under drawKey, rejected while the item is in the
    // user's sorted CSR row (binary search).
    private static void MaterializeKernel(Index1D o, ArrayView<long> keys, ArrayView<int> trainUsers, ArrayView<int> trainItems,
        ArrayView<int> offsets, ArrayView<int> rowItems, int itemCount, int stride, ulong drawKey,
        ArrayView<int> users, ArrayView<int> items, ArrayView<float> labels)
    {
        int s = (int)(keys[o] & 0xFFFF_FFFFL);
        int p = s / stride;
        int j = s - p * stride;
        int user = trainUsers[p];
        users[o] = user;
        if (j == 0)
        {
            items[o] = trainItems[p];
            labels[o] = 1f;
            return;
        }

        int rowStart = offsets[user];
        int rowEnd = offsets[user + 1];
        ulong counter = (ulong)(long)s << 20;
        int item = 0;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            item = CounterHash.NextIntFromKey(drawKey, counter + (ulong)(long)attempt, itemCount);
            if (!Contains(rowItems, rowStart, rowEnd, item))
            {
                break;
            }
        }

        items[o] = item;
        labels[o] = 0f;
    }

    // rowItems[start, end) is sorted ascending.
    private static bool Contains(ArrayView<int> rowItems, int start, int end, int item)
    {
        int lo = start, hi = end;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            int value = rowItems[mid];
            if (value == item)
            {
                return true;
            }

            if (value < item)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return false;
    }
}

/// <summary>
/// The training data a sampler reads on the device (passed to kernels field by field): positives <c>TrainUsers[p]</c>, <c>TrainItems[p]</c> and the
/// CSR of each user's sorted training items (<c>RowItems[Offsets[u] .. Offsets[u+1])</c>, Offsets is
/// <c>[users + 1]</c>).
/// </summary>
internal readonly struct SampleSource(ArrayView<int> trainUsers, ArrayView<int> trainItems, ArrayView<int> offsets,
    ArrayView<int> rowItems, int itemCount)
{
    public readonly ArrayView<int> TrainUsers = trainUsers;
    public readonly ArrayView<int> TrainItems = trainItems;
    public readonly ArrayView<int> Offsets = offsets;
    public readonly ArrayView<int> RowItems = rowItems;
    public readonly int ItemCount = itemCount;
}
