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
    private readonly NcfModel _model;
    private readonly float[] _values;
    private readonly int _f, _e, _layers, _head, _items;
    private readonly bool _gmf, _mlp;
    private readonly int[] _width;
    private readonly ParameterSlice? _gmfUser, _gmfItem, _mlpUser, _mlpItem;
    private readonly ParameterSlice[] _towerWeight = [], _towerBias = [];
    private readonly ParameterSlice _outWeight, _outBias;
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
        _model = model;
        _values = ((CpuBuffer<float>)model.Parameters.Values).Array;
        var options = model.Options;
        var layout = model.Parameters.Layout;
        _items = model.ItemCount;
        _f = options.Factors;
        _gmf = options.Kind != ModelKind.Mlp;
        _mlp = options.Kind != ModelKind.Gmf;
        _layers = _mlp ? options.Layers : 0;
        _e = _mlp ? options.MlpEmbeddingDim : 0;
        _head = model.HeadWidth;
        _width = new int[_layers + 1];
        _width[0] = 2 * _e;
        if (_gmf)
        {
            _gmfUser = layout["gmf.user"];
            _gmfItem = layout["gmf.item"];
        }

        if (_mlp)
        {
            _mlpUser = layout["mlp.user"];
            _mlpItem = layout["mlp.item"];
            _towerWeight = new ParameterSlice[_layers];
            _towerBias = new ParameterSlice[_layers];
            for (int k = 0; k < _layers; k++)
            {
                _towerWeight[k] = layout[$"mlp.{k}.weight"];
                _towerBias[k] = layout[$"mlp.{k}.bias"];
                _width[k + 1] = _towerWeight[k].Rows;
            }
        }

        _outWeight = layout["out.weight"];
        _outBias = layout["out.bias"];
        int h = _mlp ? _width[1] : 0;
        _userWeight = new float[h * _e];
        _itemWeight = new float[h * _e];
        _itemPart = new float[_items * h];
        _noBias = new float[h];
        _scratch = new Scratch[backend.Threads];
        for (int t = 0; t < _scratch.Length; t++)
        {
            _scratch[t] = new Scratch(_width, _head, _f);
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
        if (_users.Length < users.Length)
        {
            _users = new int[users.Length];
            _pairItems = new int[users.Length];
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
        if (_mlp)
        {
            // The first layer's weight [h, 2e] split into its user columns and its item columns, [h, e] each.
            int h = _width[1], e = _e;
            var weight = Slice(_towerWeight[0]);
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
            int h = _width[1];
            int start = (int)((long)_items * part / parts), end = (int)((long)_items * (part + 1) / parts);
            DenseKernel.ForwardBlocked(Slice(_mlpItem!).Slice(start * _e, (end - start) * _e), _itemWeight, Slice(_towerBias[0]),
                _itemPart.AsSpan(start * h, (end - start) * h), end - start, _e, h);
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
        int b = users.Length, f = _f, headWidth = _head;
        var head = s.Head.AsSpan(0, b * headWidth);
        if (_gmf)
        {
            // p_u ⊙ q_i row by row, as the pair path's element-wise product computes it (exact products).
            var userTable = Slice(_gmfUser!);
            var itemTable = Slice(_gmfItem!);
            var gmf = s.GmfVector.AsSpan(0, b * f);
            for (int r = 0; r < b; r++)
            {
                Multiply(userTable.Slice(users[r] * f, f), itemTable.Slice(items[r] * f, f), gmf.Slice(r * f, f), 1, f);
            }

            if (_mlp)
            {
                CopyColumnsKernel.Simd(gmf, f, head, headWidth, b, f);
            }
            else
            {
                gmf.CopyTo(head);
            }
        }

        if (_mlp)
        {
            int h = _width[1], e = _e;
            var userPart = s.UserPart.AsSpan(0, h);
            var userTable = Slice(_mlpUser!);
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
            for (int k = 1; k < _layers; k++)
            {
                int inDim = _width[k], outDim = _width[k + 1];
                var y = s.Activations[k + 1].AsSpan(0, b * outDim);
                DenseKernel.ForwardBlocked(s.Activations[k].AsSpan(0, b * inDim), Slice(_towerWeight[k]), Slice(_towerBias[k]), y, b, inDim, outDim);
                ReluKernel.ForwardSimd(y, y);
            }

            var towerOut = s.Activations[_layers].AsSpan(0, b * f);
            if (_gmf)
            {
                CopyColumnsKernel.Simd(towerOut, f, head[f..], headWidth, b, f);
            }
            else
            {
                towerOut.CopyTo(head);
            }
        }

        DenseKernel.ForwardBlocked(head, Slice(_outWeight), Slice(_outBias), logits, b, headWidth, 1);
    }

    /// <summary><c>y[i, :] = u ⊙ x[i, :]</c> for <paramref name="rows"/> rows of width <paramref name="f"/> (exact products).</summary>
    private static void Multiply(ReadOnlySpan<float> u, ReadOnlySpan<float> x, Span<float> y, int rows, int f)
    {
        int width = System.Numerics.Vector<float>.Count;
        if (f % width == 0)
        {
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < f; j += width)
                {
                    (new System.Numerics.Vector<float>(u.Slice(j, width)) * new System.Numerics.Vector<float>(x.Slice(i * f + j, width)))
                        .CopyTo(y.Slice(i * f + j, width));
                }
            }

            return;
        }

        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < f; j++)
            {
                y[i * f + j] = u[j] * x[i * f + j];
            }
        }
    }
}
