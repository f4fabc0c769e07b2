using Ncf.Backends;
using Ncf.Data;

namespace Ncf.Training;

/// <summary>
/// Builds each epoch's shuffled training examples where the backend keeps them (device memory for a GPU), so the
/// batch loop never copies examples from the host. Must follow the semantics of <see cref="NegativeSampler"/>: every
/// training positive plus <c>negatives</c> items the user has no training interaction with, uniformly drawn and
/// freshly drawn each epoch, in a uniformly random order fixed by (seed, epoch) alone.
/// </summary>
public interface IEpochSampler : IDisposable
{
    /// <summary>Examples per epoch: positives × (1 + negatives).</summary>
    long SamplesPerEpoch { get; }

    /// <summary>Builds epoch <paramref name="epoch"/> (0-based); earlier batch views become invalid.</summary>
    void BuildEpoch(int epoch);

    /// <summary>Examples <c>[start, start + count)</c> of the current epoch as backend views: users, items and labels (1 or 0).</summary>
    (View<int> Users, View<int> Items, View<float> Labels) Batch(int start, int count);
}

/// <summary>A backend that can build training epochs itself (see <see cref="IEpochSampler"/>).</summary>
public interface IEpochSamplerFactory
{
    /// <summary>A sampler for <paramref name="data"/> with <paramref name="negatives"/> negatives per positive.</summary>
    IEpochSampler CreateEpochSampler(NcfDataset data, int negatives, ulong seed);
}
