using Ncf.Backends;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;

namespace Ncf.Gpu;

/// <summary>
/// The paper's sampled leave-one-out evaluation on the device: every case's held-out item and its negatives are
/// uploaded once as a <c>[cases, 1 + negatives]</c> matrix of (user, item) pairs, target in column 0; an evaluation
/// scores the pairs in chunks with the model's forward pass (logits, as <see cref="NcfModel.Score"/>), ranks each
/// target among its row with <see cref="IlgpuBackend.TargetRanks"/>, and reads back one int per case. Metrics equal
/// <see cref="Evaluator.SampledRanking"/> with <see cref="TieBreaking.Pessimistic"/> on the same scores.
/// </summary>
/// <remarks>
/// Negatives equal to the held-out item itself (the NCF ML-1M file has such cases) are ignored by the host evaluator;
/// here they score exactly as the target (same pair, same arithmetic) and so each adds one to the device rank, which
/// is subtracted on the host. Every case must have the same number of negatives.
/// </remarks>
public sealed class DeviceEvaluator : IDisposable
{
    /// <summary>Pairs scored per forward pass (whole rows; at least one row).</summary>
    private const int PairsPerChunk = 1 << 16;

    private readonly IlgpuBackend _backend;
    private readonly DeviceBuffer<int> _users, _items, _targetColumns, _ranks;
    private readonly DeviceBuffer<float> _scores;
    private readonly int[] _duplicates;
    private readonly int _rowsPerChunk;
    private bool _disposed;

    /// <summary>Uploads <paramref name="cases"/> to <paramref name="backend"/>.</summary>
    /// <exception cref="NcfException">The cases have different numbers of negatives.</exception>
    public DeviceEvaluator(IlgpuBackend backend, EvaluationSet cases)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(cases);
        int negatives = cases.Count == 0 ? 0 : cases.NegativesOf(0).Length;
        for (int c = 0; c < cases.Count; c++)
        {
            if (cases.NegativesOf(c).Length != negatives)
            {
                throw new NcfException($"Device evaluation needs the same number of negatives in every case; case {c} has {cases.NegativesOf(c).Length}, case 0 has {negatives}.");
            }
        }

        _backend = backend;
        Cases = cases.Count;
        Columns = 1 + negatives;
        _rowsPerChunk = Math.Max(1, PairsPerChunk / Columns);
        var users = new int[Cases * Columns];
        var items = new int[Cases * Columns];
        _duplicates = new int[Cases];
        for (int c = 0; c < Cases; c++)
        {
            int row = c * Columns;
            users.AsSpan(row, Columns).Fill(cases.Users[c]);
            items[row] = cases.TargetItems[c];
            var candidates = cases.NegativesOf(c);
            candidates.CopyTo(items.AsSpan(row + 1));
            _duplicates[c] = candidates.Count(cases.TargetItems[c]);
        }

        _users = backend.AllocateInt(users.Length);
        _items = backend.AllocateInt(items.Length);
        _targetColumns = backend.AllocateInt(_rowsPerChunk); // zero-filled: the target is column 0
        _ranks = backend.AllocateInt(Cases);
        _scores = backend.AllocateFloat(Math.Min(Cases, _rowsPerChunk) * Columns);
        _users.Write(0, users);
        _items.Write(0, items);
    }

    /// <summary>Number of cases.</summary>
    public int Cases { get; }

    /// <summary>Candidates per case: the held-out item and its negatives.</summary>
    public int Columns { get; }

    /// <summary>HR@<paramref name="k"/> and NDCG@<paramref name="k"/> of <paramref name="model"/> (which must live on this evaluator's backend).</summary>
    /// <exception cref="ArgumentException">The model is on another backend.</exception>
    public RankingMetrics Evaluate(NcfModel model, int k = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!ReferenceEquals(model.Backend, _backend))
        {
            throw new ArgumentException("The model lives on another backend.", nameof(model));
        }

        if (Cases == 0)
        {
            return new RankingMetrics(0, 0, 0, k);
        }

        for (int first = 0; first < Cases; first += _rowsPerChunk)
        {
            int rows = Math.Min(_rowsPerChunk, Cases - first);
            int pairs = rows * Columns;
            var logits = model.Forward(_users.Slice(first * Columns, pairs), _items.Slice(first * Columns, pairs), pairs);
            // [rows, columns] scores; the model's workspace is reused by the next chunk, so copy them out first.
            _backend.CopyColumns(logits, pairs, _scores.All, pairs, 1, pairs);
            _backend.TargetRanks(_scores.Slice(0, pairs), rows, Columns, _targetColumns.Slice(0, rows), _ranks.Slice(first, rows));
        }

        int[] ranks = _ranks.ToArray();
        double hits = 0, ndcg = 0;
        for (int c = 0; c < Cases; c++)
        {
            int rank = ranks[c] - _duplicates[c];
            hits += rank < k ? 1 : 0;
            ndcg += Evaluator.NdcgAt(rank, k);
        }

        return new RankingMetrics(hits / Cases, ndcg / Cases, Cases, k);
    }

    /// <summary>Releases the device buffers.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _users.Dispose();
        _items.Dispose();
        _targetColumns.Dispose();
        _ranks.Dispose();
        _scores.Dispose();
    }
}
