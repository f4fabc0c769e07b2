using ILGPU;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Embedding lookup and its backward. table <c>[tableRows, dim]</c>, ids <c>[count]</c>, rows <c>[count, dim]</c>.
/// Gather: <c>rows[n, :] = table[ids[n], :]</c>. Scatter-add: <c>tableGradient[ids[n], :] += rowGradients[n, :]</c>
/// (parameter gradient: accumulates). Ids outside the table are skipped (gather writes zeros): they live on the
/// device, and validating them on the host would cost a round trip per batch.
/// </summary>
internal sealed class EmbeddingKernels(Accelerator accelerator)
{
    /// <summary>Elements sorted by one group of the local bitonic kernel (two per thread).</summary>
    internal const int SortBlock = 512;

    private const int SortGroupSize = SortBlock / 2;

    private Action<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>? _gather;
    private Action<Index1D, ArrayView<float>, ArrayView<int>, int, ArrayView<float>>? _scatterAtomic;
    private Action<Index1D, ArrayView<int>, int, ArrayView<long>>? _makeKeys;
    private Action<KernelConfig, ArrayView<long>, int, int>? _bitonicLocal;
    private Action<Index1D, ArrayView<long>, int, int>? _bitonicGlobal;
    private Action<Index1D, ArrayView<float>, ArrayView<long>, int, int, ArrayView<float>>? _scatterSorted;

    public void Gather(ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output) =>
        (_gather ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>>(GatherKernel))
        ((int)ids.Length * dim, table, dim, ids, output);

    public void ScatterAddAtomic(ArrayView<float> rowGradients, ArrayView<int> ids, int dim, ArrayView<float> tableGradient) =>
        (_scatterAtomic ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, int, ArrayView<float>>(ScatterAddAtomicKernel))
        ((int)ids.Length * dim, rowGradients, ids, dim, tableGradient);

    /// <summary>The number of 64-bit keys <see cref="ScatterAddSorted"/> needs for <paramref name="count"/> ids.</summary>
    public static int SortedKeyCount(int count) => Math.Max(SortBlock, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count));

    /// <summary>Sorted scatter-add; <paramref name="keys"/> is scratch of <see cref="SortedKeyCount"/> elements.</summary>
    public void ScatterAddSorted(ArrayView<float> rowGradients, ArrayView<int> ids, int dim, ArrayView<float> tableGradient, ArrayView<long> keys)
    {
        int count = (int)ids.Length;
        int n = (int)keys.Length;
        (_makeKeys ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, int, ArrayView<long>>(MakeKeysKernel))(n, ids, count, keys);
        SortKeys(keys);
        (_scatterSorted ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<long>, int, int, ArrayView<float>>(ScatterAddSortedKernel))
            (count * dim, rowGradients, keys, count, dim, tableGradient);
    }

    /// <summary>
    /// Sorts <paramref name="keys"/> ascending (length a power of two, at least <see cref="SortBlock"/>): blocks of
    /// <see cref="SortBlock"/> are sorted in shared memory in one launch, then each merge stage k runs global passes
    /// for the strides j ≥ SortBlock and one shared-memory launch for the strides below.
    /// </summary>
    public void SortKeys(ArrayView<long> keys)
    {
        int n = (int)keys.Length;
        _bitonicLocal ??= accelerator.LoadStreamKernel<ArrayView<long>, int, int>(BitonicLocalKernel);
        _bitonicGlobal ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, int, int>(BitonicGlobalKernel);
        var config = new KernelConfig(n / SortBlock, SortGroupSize);
        _bitonicLocal(config, keys, 2, SortBlock);
        for (int k = 2 * SortBlock; k <= n; k *= 2)
        {
            for (int j = k / 2; j >= SortBlock; j /= 2)
            {
                _bitonicGlobal(n / 2, keys, k, j);
            }

            _bitonicLocal(config, keys, k, k);
        }
    }

    // output is [count, dim]; thread i copies element (n = i / dim, d = i % dim).
    private static void GatherKernel(Index1D i, ArrayView<float> table, int dim, ArrayView<int> ids, ArrayView<float> output)
    {
        int n = i / dim;
        int d = i - n * dim;
        int id = ids[n];
        output[i] = (uint)id < (uint)(table.IntLength / dim) ? table[id * dim + d] : 0f;
    }

    // rowGradients is [count, dim]; thread i adds element (n, d) into tableGradient[ids[n], d] atomically.
    private static void ScatterAddAtomicKernel(Index1D i, ArrayView<float> rowGradients, ArrayView<int> ids, int dim, ArrayView<float> tableGradient)
    {
        int n = i / dim;
        int d = i - n * dim;
        int id = ids[n];
        if ((uint)id < (uint)(tableGradient.IntLength / dim))
        {
            Atomic.Add(ref tableGradient[id * dim + d], rowGradients[i]);
        }
    }

    // keys is [padded]; key = (id << 32) | n, so sorting orders by id, then by position n. Padding sorts last.
    private static void MakeKeysKernel(Index1D i, ArrayView<int> ids, int count, ArrayView<long> keys) =>
        keys[i] = i < count ? ((long)ids[i] << 32) | (uint)(int)i : long.MaxValue;

    // One compare-exchange of the bitonic network for merge size k and stride j; thread t owns the pair
    // (p, p + j) with p = 2t - (t mod j). Direction: ascending where bit k of p is 0.
    private static void BitonicGlobalKernel(Index1D t, ArrayView<long> keys, int k, int j)
    {
        int p = 2 * t - (t & (j - 1));
        CompareExchange(keys, p, p + j, (p & k) == 0);
    }

    // keys is [n]; each group sorts (kFirst = 2) or merges (kFirst = kLast = k) one block of SortBlock keys in
    // shared memory, running every merge size from kFirst to kLast and, within each, the strides below SortBlock.
    private static void BitonicLocalKernel(ArrayView<long> keys, int kFirst, int kLast)
    {
        var shared = SharedMemory.Allocate<long>(SortBlock);
        int t = Group.IdxX;
        int start = Grid.IdxX * SortBlock;
        shared[t] = keys[start + t];
        shared[t + SortGroupSize] = keys[start + t + SortGroupSize];
        Group.Barrier();
        for (int k = kFirst; k <= kLast; k *= 2)
        {
            for (int j = XMin(k / 2, SortBlock / 2); j > 0; j /= 2)
            {
                int p = 2 * t - (t & (j - 1));
                CompareExchange(shared, p, p + j, ((start + p) & k) == 0);
                Group.Barrier();
            }
        }

        keys[start + t] = shared[t];
        keys[start + t + SortGroupSize] = shared[t + SortGroupSize];
    }

    private static int XMin(int a, int b) => a < b ? a : b;

    private static void CompareExchange(ArrayView<long> keys, int a, int b, bool ascending)
    {
        long x = keys[a];
        long y = keys[b];
        if ((x > y) == ascending)
        {
            keys[a] = y;
            keys[b] = x;
        }
    }

    // keys is [>= count], sorted; rowGradients is [count, dim]. Thread i = (p, d): when p starts a run of equal
    // ids, it owns tableGradient[id, d] and adds the run's gradient rows in order of n (as the reference does).
    private static void ScatterAddSortedKernel(Index1D i, ArrayView<float> rowGradients, ArrayView<long> keys, int count, int dim,
        ArrayView<float> tableGradient)
    {
        int p = i / dim;
        int d = i - p * dim;
        int id = (int)(keys[p] >> 32);
        if ((p > 0 && (int)(keys[p - 1] >> 32) == id) || (uint)id >= (uint)(tableGradient.IntLength / dim))
        {
            return;
        }

        int target = id * dim + d;
        float sum = tableGradient[target];
        for (int q = p; q < count; q++)
        {
            long key = keys[q];
            if ((int)(key >> 32) != id)
            {
                break;
            }

            sum += rowGradients[(int)(key & 0xFFFFFFFFL) * dim + d];
        }

        tableGradient[target] = sum;
    }
}
