using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Kernels;
using Ncf.Models;
using Ncf.Tensors;

namespace Ncf.Training;

/// <summary>
/// A whole training step of an <see cref="NcfModel"/> on the CPU backend with two fork-joins instead of the ~20
/// kernel launches of the layer-by-layer path: the batch is cut into fixed chunks of rows, and each chunk runs
/// gather → GMF product → tower → head → loss → backward on one thread with its activations in that core's L1/L2;
/// then one thread owns the user tables and the other the item tables (and the dense layers) for the scatter-add of
/// the embedding gradients and the optimizer update.
/// </summary>
/// <remarks>
/// <para>Shapes (batch n, chunk rows r, factor f, MLP embedding e, tower widths w₀ = 2e > w₁ > … > w_L = f, head h):
/// per-row buffers are <c>[capacity, width]</c> and a chunk owns rows <c>[r₀, r₀ + r)</c> of each; dense-layer
/// gradients are summed per chunk into that chunk's partial buffer and reduced in chunk order.</para>
/// <para>Determinism: chunks are fixed by the batch size alone (<see cref="ParallelKernels.BlockRows"/>: 128 rows or
/// n/16), every chunk's arithmetic is independent of the thread that runs it, embedding gradients are added in
/// sample order by the one owner of each table, so results are bit-identical for any thread count. Against the
/// layer-by-layer path the only difference is the order of the dense-gradient sum (per chunk, then across chunks),
/// a float rounding difference; forward values, losses and embedding gradients are bit-identical.</para>
/// </remarks>
internal sealed class FusedCpuStep : IParallelJob
{
    private readonly CpuBackend _backend;
    private readonly NcfModel _model;
    private readonly Optimizer _optimizer;
    private readonly float[] _values, _gradients;
    private readonly float[]? _firstMoment, _secondMoment;
    private readonly ModelSlices _shape;

    // Per-row buffers, [capacity, width].
    private readonly float[] _gmfUserRows, _gmfItemRows, _gmfVector, _dGmfVector, _dGmfUserRows, _dGmfItemRows;
    private readonly float[][] _activations, _dActivations; // k = 0..L: tower input (k = 0) and layer outputs
    private readonly float[] _headRows, _dHeadRows, _logits, _dLogits;

    // Dense-layer gradient partials per chunk: the dense slices in layout order, packed.
    private readonly ParameterSlice[] _denseSlices;
    private readonly int[] _denseOffsets;
    private readonly int _denseLength;
    private readonly int[] _towerWeightPartial, _towerBiasPartial;
    private readonly int _outWeightPartial, _outBiasPartial;
    private readonly float[][] _partials;
    private readonly double[] _chunkLoss;
    private readonly bool[] _touchedUsers, _touchedItems; // all false between steps

    /// <summary>Multiply-adds per chunk from which the first guess under a row-sparse optimizer is two cores.</summary>
    private const long MinParallelChunkMacs = 1 << 20;
    private readonly ThreadingProbe _threading = new();

    /// <summary>The fused step's phase before the chunks, for deferred Adam (chunks are phase 0, table owners phase 1).</summary>
    private const int CatchUpPhase = 2;

    /// <summary>Row width (floats) from which exact Adam walks a table by runs of touched and untouched rows.</summary>
    private const int MinExactAdamRowWidth = 64;
    private readonly long _macsPerRow;
    private int _phase, _rows, _chunkRows, _chunks;
    private int[] _users = [], _items = [];
    private float[] _labels = [];
    private int[] _uniqueUsers = [], _uniqueItems = [];
    private int _uniqueUserCount, _uniqueItemCount;
    private AdamSettings _adam, _previousStep; // this step's Adam settings; the last step's, to which deferred rows catch up
    private readonly Dictionary<ParameterSlice, int[]> _lastStep = []; // deferred Adam's per-row steps, by embedding table

    private FusedCpuStep(CpuBackend backend, NcfModel model, Optimizer optimizer, int capacity)
    {
        _backend = backend;
        _model = model;
        _optimizer = optimizer;
        var parameters = model.Parameters;
        _values = ((CpuBuffer<float>)parameters.Values).Array;
        _gradients = ((CpuBuffer<float>)parameters.Gradients).Array;
        if (optimizer is Adam adam)
        {
            _firstMoment = ((CpuBuffer<float>)adam.FirstMoment).Array;
            _secondMoment = ((CpuBuffer<float>)adam.SecondMoment).Array;
            if (adam.CatchUpTables is not null)
            {
                var slices = parameters.Layout.Slices;
                for (int s = 0; s < slices.Count; s++)
                {
                    if (slices[s].RowIds != IdSpace.None)
                    {
                        _lastStep[slices[s]] = adam.LastStep(s);
                    }
                }
            }
        }

        _shape = new ModelSlices(model);
        var layout = parameters.Layout;
        for (int k = 0; k < _shape.Layers; k++)
        {
            _macsPerRow += (long)_shape.Width[k] * _shape.Width[k + 1];
        }

        int cap = capacity, f = _shape.Factors;
        _gmfUserRows = new float[_shape.HasGmf ? cap * f : 0];
        _gmfItemRows = new float[_shape.HasGmf ? cap * f : 0];
        _gmfVector = new float[_shape.HasGmf ? cap * f : 0];
        _dGmfVector = new float[_shape.HasGmf ? cap * f : 0];
        _dGmfUserRows = new float[_shape.HasGmf ? cap * f : 0];
        _dGmfItemRows = new float[_shape.HasGmf ? cap * f : 0];
        _activations = new float[_shape.Layers + 1][];
        _dActivations = new float[_shape.Layers + 1][];
        for (int k = 0; k <= _shape.Layers; k++)
        {
            _activations[k] = new float[_shape.HasMlp ? cap * _shape.Width[k] : 0];
            _dActivations[k] = new float[_shape.HasMlp ? cap * _shape.Width[k] : 0];
        }

        _headRows = new float[cap * _shape.HeadWidth];
        _dHeadRows = new float[cap * _shape.HeadWidth];
        _logits = new float[cap];
        _dLogits = new float[cap];

        _denseSlices = layout.Slices.Where(s => s.RowIds == IdSpace.None).ToArray();
        _denseOffsets = new int[_denseSlices.Length];
        for (int s = 0; s < _denseSlices.Length; s++)
        {
            _denseOffsets[s] = _denseLength;
            _denseLength += _denseSlices[s].Length;
        }

        int PartialOffset(ParameterSlice slice) => _denseOffsets[Array.FindIndex(_denseSlices, d => d.Name == slice.Name)];
        _towerWeightPartial = _shape.TowerWeight.Select(PartialOffset).ToArray();
        _towerBiasPartial = _shape.TowerBias.Select(PartialOffset).ToArray();
        _outWeightPartial = PartialOffset(_shape.OutWeight);
        _outBiasPartial = PartialOffset(_shape.OutBias);

        // The most chunks any batch of up to `cap` rows splits into. Not the count at `cap` itself: blocks are at
        // least 128 rows and at least a 16th of the batch, so 2,048 rows make 16 chunks while 2,100 make 15.
        int maxChunks = Math.Min(ChunkCount(cap, 128), 16);
        _partials = new float[maxChunks][];
        for (int c = 0; c < maxChunks; c++)
        {
            _partials[c] = new float[_denseLength];
        }

        _chunkLoss = new double[maxChunks];
        _touchedUsers = new bool[model.UserCount];
        _touchedItems = new bool[model.ItemCount];
    }

    /// <summary>
    /// The fused step for <paramref name="model"/> and <paramref name="optimizer"/>, or null when it does not apply:
    /// another backend, the scalar reference tier (the oracle must stay layer by layer), or an optimizer it does not
    /// know.
    /// </summary>
    public static FusedCpuStep? TryCreate(NcfModel model, Optimizer optimizer, int capacity)
    {
        if (model.Backend is not CpuBackend { Tier: CpuKernelTier.Simd } cpu
            || optimizer is not (Adam or Sgd)
            || !ReferenceEquals(optimizer.Parameters, model.Parameters))
        {
            return null;
        }

        return new FusedCpuStep(cpu, model, optimizer, capacity);
    }

    private static int ChunkCount(int rows, int chunkRows) => Math.Max(1, (rows + chunkRows - 1) / chunkRows);

    private Span<float> Slice(float[] array, ParameterSlice slice) => array.AsSpan(slice.Offset, slice.Length);

    /// <summary>
    /// Forward, loss, backward and the optimizer update for the <paramref name="n"/> examples given; the summed loss
    /// is added to <paramref name="lossAccumulator"/> (sum, compensation). <paramref name="uniqueUsers"/> and
    /// <paramref name="uniqueItems"/> hold the batch's distinct ids (the only rows with a gradient). Leaves every
    /// gradient at zero, as the layer-by-layer step does.
    /// </summary>
    public void Step(int[] users, int[] items, float[] labels, int n, int[] uniqueUsers, int uniqueUserCount,
        int[] uniqueItems, int uniqueItemCount, Span<float> lossAccumulator)
    {
        _users = users;
        _items = items;
        _labels = labels;
        _rows = n;
        _uniqueUsers = uniqueUsers;
        _uniqueUserCount = uniqueUserCount;
        _uniqueItems = uniqueItems;
        _uniqueItemCount = uniqueItemCount;
        _chunkRows = ParallelKernels.BlockRows(n);
        _chunks = ChunkCount(n, _chunkRows);
        _optimizer.CountStep();
        if (_optimizer is Adam adam)
        {
            _adam = adam.Settings(adam.StepCount);
            _previousStep = adam.Settings(adam.StepCount - 1);
        }

        bool parallel = _threading.Choose(_chunks > 1 && _backend.Threads > 1,
            !_optimizer.IsRowSparse || (long)_chunkRows * _macsPerRow >= MinParallelChunkMacs);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_lastStep.Count > 0)
        {
            // Deferred Adam: the batch's rows catch up on the steps they sat out before the forward pass reads them.
            _phase = CatchUpPhase;
            _backend.RunJob(this, parallel ? 2 : 1);
        }

        _phase = 0;
        _backend.RunJob(this, parallel ? _chunks : 1);
        _phase = 1;
        _backend.RunJob(this, parallel ? 2 : 1);
        _threading.Record(System.Diagnostics.Stopwatch.GetTimestamp() - start);
        double loss = 0;
        for (int c = 0; c < _chunks; c++)
        {
            loss += _chunkLoss[c];
        }

        CpuBackend.KahanAdd(lossAccumulator, loss);
    }

    /// <summary>
    /// Phase 0: chunks <c>part, part + parts, …</c>. Phase 1: owner 0 (user tables) and owner 1 (item tables, dense
    /// layers). <see cref="CatchUpPhase"/>: owner 0 catches up the batch's user rows, owner 1 its item rows.
    /// </summary>
    public void Execute(int part, int parts)
    {
        if (_phase == CatchUpPhase)
        {
            for (int owner = part; owner < 2; owner += parts)
            {
                CatchUpTables(owner == 0 ? IdSpace.User : IdSpace.Item);
            }
        }
        else if (_phase == 0)
        {
            for (int c = part; c < _chunks; c += parts)
            {
                RunChunk(c);
            }
        }
        else
        {
            for (int owner = part; owner < 2; owner += parts)
            {
                if (owner == 0)
                {
                    UpdateTables(IdSpace.User);
                }
                else
                {
                    UpdateTables(IdSpace.Item);
                    UpdateDense();
                }
            }
        }
    }

    private void RunChunk(int chunk)
    {
        int r0 = chunk * _chunkRows, r = Math.Min(_chunkRows, _rows - r0);
        int f = _shape.Factors, e = _shape.EmbeddingWidth, h = _shape.HeadWidth;
        var users = _users.AsSpan(r0, r);
        var items = _items.AsSpan(r0, r);
        var values = _values;

        // Forward. GMF: p_u ⊙ q_i [r, f]; MLP: [p_u; q_i] [r, 2e] through the tower; head [r, h].
        Span<float> gmfUser = default, gmfItem = default, gmfVector = default;
        if (_shape.HasGmf)
        {
            gmfUser = _gmfUserRows.AsSpan(r0 * f, r * f);
            gmfItem = _gmfItemRows.AsSpan(r0 * f, r * f);
            gmfVector = _gmfVector.AsSpan(r0 * f, r * f);
            GatherKernel.Simd(Slice(values, _shape.GmfUser!), f, users, gmfUser);
            GatherKernel.Simd(Slice(values, _shape.GmfItem!), f, items, gmfItem);
            MultiplyKernel.ForwardSimd(gmfUser, gmfItem, gmfVector);
        }

        var head = _headRows.AsSpan(r0 * h, r * h);
        if (_shape.HasMlp)
        {
            var input = _activations[0].AsSpan(r0 * 2 * e, r * 2 * e);
            var userTable = Slice(values, _shape.MlpUser!);
            var itemTable = Slice(values, _shape.MlpItem!);
            for (int k = 0; k < r; k++)
            {
                userTable.Slice(users[k] * e, e).CopyTo(input.Slice(k * 2 * e, e));
                itemTable.Slice(items[k] * e, e).CopyTo(input.Slice(k * 2 * e + e, e));
            }

            for (int k = 0; k < _shape.Layers; k++)
            {
                int inDim = _shape.Width[k], outDim = _shape.Width[k + 1];
                var y = _activations[k + 1].AsSpan(r0 * outDim, r * outDim);
                DenseKernel.ForwardBlocked(_activations[k].AsSpan(r0 * inDim, r * inDim), Slice(values, _shape.TowerWeight[k]),
                    Slice(values, _shape.TowerBias[k]), y, r, inDim, outDim);
                ReluKernel.ForwardSimd(y, y);
            }
        }

        var towerOut = _shape.HasMlp ? _activations[_shape.Layers].AsSpan(r0 * f, r * f) : default;
        switch (_model.Kind)
        {
            case ModelKind.Gmf:
                gmfVector.CopyTo(head);
                break;
            case ModelKind.Mlp:
                towerOut.CopyTo(head);
                break;
            default:
                CopyColumnsKernel.Simd(gmfVector, f, head, h, r, f);
                CopyColumnsKernel.Simd(towerOut, f, head.Slice(f), h, r, f);
                break;
        }

        var logits = _logits.AsSpan(r0, r);
        var dLogits = _dLogits.AsSpan(r0, r);
        DenseKernel.ForwardBlocked(head, Slice(values, _shape.OutWeight), Slice(values, _shape.OutBias), logits, r, h, 1);
        _chunkLoss[chunk] = SigmoidBinaryCrossEntropyKernel.Simd(logits, _labels.AsSpan(r0, r), dLogits, 1f / _rows);

        // Backward into this chunk's dense partials (zeroed first: the kernels accumulate) and per-row gradients.
        var partial = _partials[chunk].AsSpan(0, _denseLength);
        partial.Clear();
        var dHead = _dHeadRows.AsSpan(r0 * h, r * h);
        DenseKernel.BackwardBlocked(head, Slice(values, _shape.OutWeight), dLogits, dHead, partial.Slice(_outWeightPartial, _shape.OutWeight.Length),
            partial.Slice(_outBiasPartial, _shape.OutBias.Length), r, h, 1);
        var dGmfVector = _shape.HasGmf ? _dGmfVector.AsSpan(r0 * f, r * f) : default;
        var dTowerOut = _shape.HasMlp ? _dActivations[_shape.Layers].AsSpan(r0 * f, r * f) : default;
        switch (_model.Kind)
        {
            case ModelKind.Gmf:
                dHead.CopyTo(dGmfVector);
                break;
            case ModelKind.Mlp:
                dHead.CopyTo(dTowerOut);
                break;
            default:
                CopyColumnsKernel.Simd(dHead, h, dGmfVector, f, r, f);
                CopyColumnsKernel.Simd(dHead.Slice(f), h, dTowerOut, f, r, f);
                break;
        }

        for (int k = _shape.Layers - 1; k >= 0; k--)
        {
            int inDim = _shape.Width[k], outDim = _shape.Width[k + 1];
            var y = _activations[k + 1].AsSpan(r0 * outDim, r * outDim);
            var dy = _dActivations[k + 1].AsSpan(r0 * outDim, r * outDim);
            ReluKernel.BackwardSimd(y, dy, dy);
            DenseKernel.BackwardBlocked(_activations[k].AsSpan(r0 * inDim, r * inDim), Slice(values, _shape.TowerWeight[k]), dy,
                _dActivations[k].AsSpan(r0 * inDim, r * inDim), partial.Slice(_towerWeightPartial[k], _shape.TowerWeight[k].Length),
                partial.Slice(_towerBiasPartial[k], _shape.TowerBias[k].Length),
                r, inDim, outDim);
        }

        if (_shape.HasGmf)
        {
            MultiplyKernel.BackwardSimd(gmfUser, gmfItem, dGmfVector, _dGmfUserRows.AsSpan(r0 * f, r * f), _dGmfItemRows.AsSpan(r0 * f, r * f));
        }
    }

    /// <summary>Deferred Adam: brings the batch's rows of one id space's tables up to the step before this one.</summary>
    private void CatchUpTables(IdSpace space)
    {
        var unique = space == IdSpace.User ? _uniqueUsers.AsSpan(0, _uniqueUserCount) : _uniqueItems.AsSpan(0, _uniqueItemCount);
        var tables = ((Adam)_optimizer).CatchUpTables!;
        foreach (var (table, lastStep) in _lastStep)
        {
            if (table.RowIds == space)
            {
                AdamKernel.CatchUpRowsSimd(Slice(_values, table), Slice(_firstMoment!, table), Slice(_secondMoment!, table), table.Columns, unique,
                    lastStep, _previousStep, tables);
            }
        }
    }

    /// <summary>Scatter-adds one id space's embedding gradients in sample order, then updates those tables.</summary>
    private void UpdateTables(IdSpace space)
    {
        var ids = (space == IdSpace.User ? _users : _items).AsSpan(0, _rows);
        var unique = space == IdSpace.User ? _uniqueUsers.AsSpan(0, _uniqueUserCount) : _uniqueItems.AsSpan(0, _uniqueItemCount);
        int n = _rows;
        if (_shape.HasGmf)
        {
            var table = space == IdSpace.User ? _shape.GmfUser! : _shape.GmfItem!;
            ScatterAddKernel.Simd((space == IdSpace.User ? _dGmfUserRows : _dGmfItemRows).AsSpan(0, n * _shape.Factors), ids, _shape.Factors, Slice(_gradients, table));
            Update(table, unique);
        }

        if (_shape.HasMlp)
        {
            // The rows' gradients are the user (or item) half of each tower-input gradient row [2e].
            var table = space == IdSpace.User ? _shape.MlpUser! : _shape.MlpItem!;
            var gradient = Slice(_gradients, table);
            var dInput = _dActivations[0].AsSpan(0, n * 2 * _shape.EmbeddingWidth);
            int e = _shape.EmbeddingWidth, column = space == IdSpace.User ? 0 : e;
            for (int k = 0; k < n; k++)
            {
                VectorMath.Add(dInput.Slice(k * 2 * e + column, e), gradient.Slice(ids[k] * e, e));
            }

            Update(table, unique);
        }
    }

    /// <summary>Sums the chunks' dense gradients in chunk order, then updates the dense layers.</summary>
    private void UpdateDense()
    {
        for (int s = 0; s < _denseSlices.Length; s++)
        {
            var slice = _denseSlices[s];
            var gradient = Slice(_gradients, slice);
            for (int c = 0; c < _chunks; c++)
            {
                VectorMath.Add(_partials[c].AsSpan(_denseOffsets[s], slice.Length), gradient);
            }

            Update(slice, default);
        }
    }

    /// <summary>
    /// The optimizer's update of one slice, leaving its gradient at zero. For an embedding table,
    /// <paramref name="uniqueRows"/> are the batch's rows: every other row has a zero gradient, so exact Adam updates
    /// those without reading the gradient (24 instead of 32 bytes per parameter, the bulk of an exact step) and SGD
    /// without L2 leaves them as they are. The kernels' scalar tails repeat a lane's arithmetic, so row by row gives
    /// the same bits as the whole-slice kernels whatever the row width.
    /// </summary>
    private void Update(ParameterSlice slice, ReadOnlySpan<int> uniqueRows)
    {
        var p = Slice(_values, slice);
        var g = Slice(_gradients, slice);
        int dim = slice.Columns;
        bool byRows = slice.RowIds != IdSpace.None;
        // Exact Adam by runs of rows pays only for wide rows: at NeuMF-8 (rows of 8 and 32 floats, tables in the L3
        // cache) the ~1,000 runs per table cost more in calls than the 4 bytes per parameter they save (v8 measured
        // 1.19 → 1.06 M samples/s there); at f = 64 (rows of 64 and 256 floats, tables in DRAM) they save a quarter of
        // the step's memory traffic.
        bool exactByRows = byRows && dim >= MinExactAdamRowWidth;
        if (_optimizer is Sgd sgd)
        {
            if (byRows && sgd.L2 == 0)
            {
                foreach (int row in uniqueRows)
                {
                    var rowGradient = g.Slice(row * dim, dim);
                    SgdKernel.Simd(p.Slice(row * dim, dim), rowGradient, sgd.LearningRate, 0);
                    rowGradient.Clear();
                }
            }
            else
            {
                SgdKernel.Simd(p, g, sgd.LearningRate, sgd.L2);
                g.Clear();
            }
        }
        else if (_optimizer.IsRowSparse && slice.RowIds != IdSpace.None)
        {
            if (_lastStep.TryGetValue(slice, out var lastStep))
            {
                AdamKernel.DeferredRowsSimd(p, g, Slice(_firstMoment!, slice), Slice(_secondMoment!, slice), dim, uniqueRows, lastStep, _adam,
                    ((Adam)_optimizer).CatchUpTables!);
            }
            else
            {
                AdamKernel.RowsSimd(p, g, Slice(_firstMoment!, slice), Slice(_secondMoment!, slice), dim, uniqueRows, _adam);
            }

            foreach (int row in uniqueRows)
            {
                g.Slice(row * dim, dim).Clear();
            }
        }
        else if (exactByRows)
        {
            ExactAdamByRows(slice, uniqueRows);
        }
        else
        {
            AdamKernel.SimdClearingGradients(p, g, Slice(_firstMoment!, slice), Slice(_secondMoment!, slice), _adam);
        }
    }

    /// <summary>Exact Adam over a table: the batch's rows with their gradients, each run of other rows without.</summary>
    private void ExactAdamByRows(ParameterSlice slice, ReadOnlySpan<int> uniqueRows)
    {
        var p = Slice(_values, slice);
        var g = Slice(_gradients, slice);
        var m = Slice(_firstMoment!, slice);
        var v = Slice(_secondMoment!, slice);
        var touched = slice.RowIds == IdSpace.User ? _touchedUsers : _touchedItems;
        foreach (int row in uniqueRows)
        {
            touched[row] = true;
        }

        int dim = slice.Columns, rows = slice.Rows;
        for (int row = 0; row < rows;)
        {
            // One run of rows that are all touched, or all untouched.
            int start = row;
            bool runTouched = touched[row];
            while (row < rows && touched[row] == runTouched)
            {
                row++;
            }

            int at = start * dim, length = (row - start) * dim;
            if (runTouched)
            {
                AdamKernel.SimdClearingGradients(p.Slice(at, length), g.Slice(at, length), m.Slice(at, length), v.Slice(at, length), _adam);
            }
            else
            {
                AdamKernel.SimdZeroGradient(p.Slice(at, length), m.Slice(at, length), v.Slice(at, length), _adam);
            }
        }

        foreach (int row in uniqueRows)
        {
            touched[row] = false;
        }
    }
}

/// <summary>
/// Picks, step by step, whether the fused step runs on one core or two — a choice that changes speed, never results
/// (the arithmetic is the same either way). Two cores pay only when each has enough work to hide the step's
/// hand-over (the other core's cache lines for rows, activations and partials): measured on the project's machine,
/// dense Adam gains ~15 % at NeuMF-8 and lazy Adam loses ~10 % (docs/performance.md, v6); and on a shared machine
/// a helper thread that the OS deschedules stalls every fork-join, which can make two cores far slower than one.
/// So it starts from a guess, times a window of steps each way, keeps the faster, and re-checks now and then.
/// </summary>
internal sealed class ThreadingProbe
{
    private const int Window = 64;          // steps timed per mode in a probe
    private const int RecheckEvery = 4096;  // steps between probes
    private const int Warmup = 128;         // steps (JIT, cold caches) before the first probe
    private long _step;
    private bool _current, _probing, _initialized;
    private long _currentTicks, _otherTicks;
    private int _currentSteps, _otherSteps;

    /// <summary>The mode of the next step: <paramref name="guess"/> at first, then the faster one.</summary>
    public bool Choose(bool possible, bool guess)
    {
        if (!possible)
        {
            return false;
        }

        if (!_initialized)
        {
            _initialized = true;
            _current = guess;
        }

        // A probe: Window steps in the current mode, then Window steps in the other.
        if (_probing)
        {
            return _currentSteps < Window ? _current : !_current;
        }

        return _current;
    }

    /// <summary>Records the duration of the step just taken (in <see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    public void Record(long ticks)
    {
        _step++;
        if (!_initialized)
        {
            return;
        }

        if (_probing)
        {
            if (_currentSteps < Window)
            {
                _currentTicks += ticks;
                _currentSteps++;
            }
            else
            {
                _otherTicks += ticks;
                if (++_otherSteps == Window)
                {
                    // Switch only for a clear gain (5 %): timings on a shared machine are noisy.
                    if (_otherTicks < _currentTicks * 0.95)
                    {
                        _current = !_current;
                    }

                    _probing = false;
                    _currentTicks = _otherTicks = 0;
                    _currentSteps = _otherSteps = 0;
                }
            }
        }
        else if (_step == Warmup || _step % RecheckEvery == 0)
        {
            _probing = true;
        }
    }

    /// <summary>The mode in use outside probes (for tests and diagnostics).</summary>
    public bool Parallel => _current;
}
