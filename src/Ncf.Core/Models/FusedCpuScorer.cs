using Ncf.Backends.Cpu;
using Ncf.Kernels;
using Ncf.Tensors;

namespace Ncf.Models;

/// <summary>
/// Full-catalogue scoring on the CPU backend in one pass per (user, block of items): the first tower layer split as
/// <c>W_user·p_u + (W_item·q_i + b)</c> with the item half computed once per call, then the rest of the tower, the
/// GMF product and the output unit on the block while its activations sit in the L1/L2 cache. Blocks are independent,
/// so both cores take blocks with nothing shared but read-only tables.
/// </summary>
/// <remarks>
/// Shapes: item half <c>[items, h]</c> (h = w₁, the first layer's width); per block of b ≤ 256 items the activations
/// <c>[b, wₖ]</c>, the head <c>[b, 2f]</c> (NeuMF) and the logits <c>[b]</c>. The arithmetic per pair is that of
/// <see cref="NcfModel.ScoreAllItems(ReadOnlySpan{int}, Span{float})"/>'s layer-by-layer path (the same kernels on the
/// same rows), so the two agree up to the first layer's reordered sum, and results do not depend on the thread count.
/// </remarks>
internal sealed unsafe class FusedCpuScorer : Backends.Cpu.IParallelJob
{
    private const int BlockItems = 256;
    private readonly CpuBackend _backend;
    private readonly float[] _values;
    private readonly ModelSlices _shape;
    private readonly int _items;
    private readonly float[] _userWeight, _itemWeight, _itemPart, _noBias;
    private readonly Scratch[] _scratch;

    // The current call.
    private int _phase;
    private int[] _users = [], _pairItems = [];
    private int _userCount, _pairCount;
    private bool _pairs; // ScorePairs (explicit (user, item) rows) rather than Score (every item per user)
    private float* _scores; // pinned for the duration of a call
    private int _blocksPerUser;

    private sealed class Scratch(int[] width, int head, int f)
    {
        public float[][] Activations { get; } = width.Select(w => new float[BlockItems * w]).ToArray();
        public float[] Head { get; } = new float[BlockItems * head];
        public float[] GmfVector { get; } = new float[BlockItems * f];
        public float[] UserPart { get; } = new float[Math.Max(1, width.Length > 1 ? width[1] : 1)];
        public int[] RowUsers { get; } = new int[BlockItems];
        public int[] RowItems { get; } = new int[BlockItems];
    }

    public FusedCpuScorer(CpuBackend backend, NcfModel model)
    {
        _backend = backend;
        _values = ((CpuBuffer<float>)model.Parameters.Values).Array;
        _shape = new ModelSlices(model);
        _items = model.ItemCount;
        int h = _shape.HasMlp ? _shape.Width[1] : 0;
        _userWeight = new float[h * _shape.EmbeddingWidth];
        _itemWeight = new float[h * _shape.EmbeddingWidth];
        _itemPart = new float[_items * h];
        _noBias = new float[h];
        _scratch = new Scratch[backend.Threads];
        for (int t = 0; t < _scratch.Length; t++)
        {
            _scratch[t] = new Scratch(_shape.Width, _shape.HeadWidth, _shape.Factors);
        }
    }

    /// <summary>Writes <c>scores[u·items + i]</c> (logits) for every user in <paramref name="users"/> and every item.</summary>
    public void Score(ReadOnlySpan<int> users, Span<float> scores)
    {
        if (_users.Length < users.Length)
        {
            _users = new int[users.Length];
        }

        users.CopyTo(_users);
        _userCount = users.Length;
        _pairs = false;
        RunPinned(scores);
    }

    /// <summary>Writes the logit of each pair (<paramref name="users"/>[n], <paramref name="items"/>[n]) to <paramref name="scores"/>[n].</summary>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        // Each buffer grows on its own: a many-user Score call may have grown _users but not _pairItems.
        if (_users.Length < users.Length)
        {
            _users = new int[users.Length];
        }

        if (_pairItems.Length < items.Length)
        {
            _pairItems = new int[items.Length];
        }

        users.CopyTo(_users);
        items.CopyTo(_pairItems);
        _pairCount = users.Length;
        _pairs = true;
        RunPinned(scores);
    }

    private void RunPinned(Span<float> scores)
    {
        fixed (float* pinned = scores)
        {
            _scores = pinned;
            try
            {
                Run();
            }
            finally
            {
                _scores = null;
            }
        }
    }

    private void Run()
    {
        _blocksPerUser = (_items + BlockItems - 1) / BlockItems;
        if (_shape.HasMlp)
        {
            // The first layer's weight [h, 2e] split into its user columns and its item columns, [h, e] each.
            int h = _shape.Width[1], e = _shape.EmbeddingWidth;
            var weight = Slice(_shape.TowerWeight[0]);
            CopyColumnsKernel.Simd(weight, 2 * e, _userWeight, e, h, e);
            CopyColumnsKernel.Simd(weight[e..], 2 * e, _itemWeight, e, h, e);
            _phase = 0;
            _backend.RunJob(this, _backend.Threads);
        }

        _phase = 1;
        _backend.RunJob(this, _backend.Threads);
    }

    private ReadOnlySpan<float> Slice(ParameterSlice slice) => _values.AsSpan(slice.Offset, slice.Length);

    /// <summary>Phase 0: rows of the item half, by ranges. Phase 1: (user, block) units <c>part, part + parts, …</c>.</summary>
    public void Execute(int part, int parts)
    {
        if (_phase == 0)
        {
            int h = _shape.Width[1];
            int start = (int)((long)_items * part / parts), end = (int)((long)_items * (part + 1) / parts);
            DenseKernel.ForwardBlocked(Slice(_shape.MlpItem!).Slice(start * _shape.EmbeddingWidth, (end - start) * _shape.EmbeddingWidth), _itemWeight, Slice(_shape.TowerBias[0]),
                _itemPart.AsSpan(start * h, (end - start) * h), end - start, _shape.EmbeddingWidth, h);
            return;
        }

        var scratch = _scratch[part];
        if (_pairs)
        {
            int blocks = (_pairCount + BlockItems - 1) / BlockItems;
            for (int block = part; block < blocks; block += parts)
            {
                int first = block * BlockItems, b = Math.Min(BlockItems, _pairCount - first);
                ScoreRows(scratch, _users.AsSpan(first, b), _pairItems.AsSpan(first, b), new Span<float>(_scores + first, b));
            }

            return;
        }

        int units = _userCount * _blocksPerUser;
        for (int unit = part; unit < units; unit += parts)
        {
            int userIndex = unit / _blocksPerUser, firstItem = unit % _blocksPerUser * BlockItems;
            int b = Math.Min(BlockItems, _items - firstItem);
            var rowUsers = scratch.RowUsers.AsSpan(0, b);
            var rowItems = scratch.RowItems.AsSpan(0, b);
            rowUsers.Fill(_users[userIndex]);
            for (int i = 0; i < b; i++)
            {
                rowItems[i] = firstItem + i;
            }

            ScoreRows(scratch, rowUsers, rowItems, new Span<float>(_scores + ((long)userIndex * _items + firstItem), b));
        }
    }

    /// <summary>Logits of up to <see cref="BlockItems"/> (user, item) rows; the user half is recomputed only when the user changes.</summary>
    private void ScoreRows(Scratch s, ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> logits)
    {
        int b = users.Length, f = _shape.Factors, headWidth = _shape.HeadWidth;
        var head = s.Head.AsSpan(0, b * headWidth);
        if (_shape.HasGmf)
        {
            // p_u ⊙ q_i row by row, as the pair path's element-wise product computes it (exact products).
            var userTable = Slice(_shape.GmfUser!);
            var itemTable = Slice(_shape.GmfItem!);
            var gmf = s.GmfVector.AsSpan(0, b * f);
            for (int r = 0; r < b; r++)
            {
                MultiplyKernel.ForwardUnchecked(userTable.Slice(users[r] * f, f), itemTable.Slice(items[r] * f, f), gmf.Slice(r * f, f));
            }

            if (_shape.HasMlp)
            {
                CopyColumnsKernel.Simd(gmf, f, head, headWidth, b, f);
            }
            else
            {
                gmf.CopyTo(head);
            }
        }

        if (_shape.HasMlp)
        {
            int h = _shape.Width[1], e = _shape.EmbeddingWidth;
            var userPart = s.UserPart.AsSpan(0, h);
            var userTable = Slice(_shape.MlpUser!);
            var first = s.Activations[1].AsSpan(0, b * h);
            int lastUser = -1;
            for (int r = 0; r < b; r++)
            {
                if (users[r] != lastUser)
                {
                    lastUser = users[r];
                    DenseKernel.ForwardBlocked(userTable.Slice(lastUser * e, e), _userWeight, _noBias, userPart, 1, e, h);
                }

                // The user half, then the item half added onto it (the layer-by-layer path's gather and scatter-add order).
                var row = first.Slice(r * h, h);
                userPart.CopyTo(row);
                VectorMath.Add(_itemPart.AsSpan(items[r] * h, h), row);
            }

            ReluKernel.ForwardSimd(first, first);
            for (int k = 1; k < _shape.Layers; k++)
            {
                int inDim = _shape.Width[k], outDim = _shape.Width[k + 1];
                var y = s.Activations[k + 1].AsSpan(0, b * outDim);
                DenseKernel.ForwardBlocked(s.Activations[k].AsSpan(0, b * inDim), Slice(_shape.TowerWeight[k]), Slice(_shape.TowerBias[k]), y, b, inDim, outDim);
                ReluKernel.ForwardSimd(y, y);
            }

            var towerOut = s.Activations[_shape.Layers].AsSpan(0, b * f);
            if (_shape.HasGmf)
            {
                CopyColumnsKernel.Simd(towerOut, f, head[f..], headWidth, b, f);
            }
            else
            {
                towerOut.CopyTo(head);
            }
        }

        DenseKernel.ForwardBlocked(head, Slice(_shape.OutWeight), Slice(_shape.OutBias), logits, b, headWidth, 1);
    }
}
