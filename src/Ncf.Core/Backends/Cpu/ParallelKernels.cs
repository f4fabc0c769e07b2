using Ncf.Kernels;

namespace Ncf.Backends.Cpu;

/// <summary>
/// The multi-threaded forms of the CPU kernels that are large enough to pay for a fork-join (~1 µs).
/// </summary>
/// <remarks>
/// Every split gives results that are bit-identical for any thread count: rows and element ranges are
/// independent, scatter-add gives each table row to one owner (which adds in batch order, as the serial kernel
/// does), and dense weight gradients are summed per fixed block of rows — blocks fixed by the row count alone —
/// then reduced in block order.
/// </remarks>
internal sealed class ParallelKernels : IDisposable
{
    // One kernel at a time per backend: the cached jobs, the scratch arrays and the pool's single job slot are
    // shared, and models on several threads may share the backend (two recommenders on one CpuBackend used to
    // corrupt each other's jobs and write through stale pinned pointers). Uncontended, the lock costs ~20 ns a kernel.
    private readonly Lock _gate = new();
    private readonly WorkerPool _pool;
    private readonly DenseForwardJob _denseForward = new();
    private readonly DenseBackwardJob _denseBackward = new();
    private readonly ReduceBlocksJob _reduce = new();
    private readonly AdamJob _adam = new();
    private readonly FillJob _fill = new();
    private readonly ScatterAddJob _scatter = new();
    private float[] _partials = [];
    private float[] _transposed = [];

    public ParallelKernels(int threads)
    {
        _pool = new WorkerPool(threads);
    }

    public int Threads => _pool.Threads;

    /// <summary>
    /// Multiply-adds below which a dense layer runs on the calling thread alone. Splitting a layer's rows between
    /// cores moves its activations between their caches twice (in, then out to the next, serial kernel); at NeuMF-8's
    /// batch of 256 (0.5 M multiply-adds in the widest layer) that costs more than the second core saves, while
    /// scoring batches and wide towers (f ≥ 32) are well past it.
    /// </summary>
    private const long MinParallelMacs = 1 << 20;

    /// <summary>Elements below which an element-wise kernel (fill, scatter-add) runs on the calling thread alone.</summary>
    private const long MinParallelWork = 1 << 15;

    /// <summary>
    /// Parameters below which Adam runs on the calling thread alone. Splitting it by halves leaves each core's half of
    /// the embedding tables in that core's cache, and the next step's gathers and scatter-adds (on the calling
    /// thread) fetch the other half's rows back: at NeuMF-8 on ML-1M (0.4 M parameters) that traffic costs more than
    /// the second core saves; at f = 64 (3.1 M) it does not.
    /// </summary>
    private const long MinParallelAdam = 1 << 21;

    /// <summary>
    /// Rows per block of the dense weight-gradient sum: depends on the row count only. A multiple of 16, so that a
    /// block starts on a SIMD-lane boundary of every vector width up to 512 bits and the fused training step, which
    /// runs one block per chunk, computes each row with the same vector (not scalar-tail) code as a whole-batch kernel.
    /// </summary>
    public static int BlockRows(int rows) => Math.Max(128, ((rows + 15) / 16 + 15) / 16 * 16);

    public void DenseForward(float[] x, int xOffset, float[] w, int wOffset, float[] b, int bOffset, float[] y, int yOffset,
        int rows, int inDim, int outDim, bool simd)
    {
        lock (_gate)
        {
            // The blocked kernel multiplies by Wᵀ: transpose once here rather than once per thread.
            float[]? wT = null;
            if (simd && outDim >= System.Numerics.Vector<float>.Count)
            {
                if (_transposed.Length < inDim * outDim)
                {
                    _transposed = new float[inDim * outDim];
                }

                wT = _transposed;
                DenseKernel.Transpose(w.AsSpan(wOffset, inDim * outDim), wT, inDim, outDim);
            }

            var job = _denseForward;
            job.Set(x, xOffset, w, wOffset, wT, b, bOffset, y, yOffset, rows, inDim, outDim, simd);
            _pool.Run(job, (long)rows * inDim * outDim < MinParallelMacs ? 1 : Threads);
        }
    }

    public void DenseBackward(float[] x, int xOffset, float[] w, int wOffset, float[] dy, int dyOffset, float[]? dx, int dxOffset,
        float[] dW, int dWOffset, float[] dB, int dBOffset, int rows, int inDim, int outDim, bool simd)
    {
        lock (_gate)
        {
            int blockRows = BlockRows(rows);
            int blocks = Math.Max(1, (rows + blockRows - 1) / blockRows);
            int partialLength = outDim * inDim + outDim;
            if (_partials.Length < blocks * partialLength)
            {
                _partials = new float[blocks * partialLength];
            }

            var job = _denseBackward;
            job.Set(x, xOffset, w, wOffset, dy, dyOffset, dx, dxOffset, _partials, rows, inDim, outDim, blockRows, blocks, simd);
            int parts = (long)rows * inDim * outDim < MinParallelMacs ? 1 : Threads;
            _pool.Run(job, parts);
            var reduce = _reduce;
            reduce.Set(_partials, blocks, partialLength, outDim * inDim, dW, dWOffset, dB, dBOffset);
            _pool.Run(reduce, partialLength * blocks < MinParallelMacs ? 1 : Threads);
        }
    }

    public void Adam(float[] p, int pOffset, float[] g, int gOffset, float[] m, int mOffset, float[] v, int vOffset,
        int length, in Backends.AdamSettings settings, bool simd, bool clearGradients = false)
    {
        lock (_gate)
        {
            var job = _adam;
            job.Set(p, pOffset, g, gOffset, m, mOffset, v, vOffset, length, settings, simd, clearGradients);
            _pool.Run(job, length < MinParallelAdam ? 1 : Threads);
        }
    }

    public void Fill(float[] array, int offset, int length, float value)
    {
        lock (_gate)
        {
            var job = _fill;
            job.Set(array, offset, length, value);
            _pool.Run(job, length < 4 * MinParallelWork ? 1 : Threads);
        }
    }

    public void ScatterAdd(float[] rowGradients, int rowOffset, int[] ids, int idOffset, int count, int dim, float[] table, int tableOffset, int tableLength, bool simd)
    {
        lock (_gate)
        {
            var job = _scatter;
            job.Set(rowGradients, rowOffset, ids, idOffset, count, dim, table, tableOffset, tableLength, simd);
            _pool.Run(job, (long)count * dim < MinParallelWork ? 1 : Threads);
        }
    }

    /// <summary>Runs a caller's job on the pool (the fused training step).</summary>
    public void Run(IParallelJob job, int parts)
    {
        lock (_gate)
        {
            _pool.Run(job, parts);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _pool.Dispose();
        }
    }

    /// <summary>Splits <paramref name="count"/> items into <paramref name="parts"/> near-equal ranges, rounded to <paramref name="align"/>.</summary>
    private static (int Start, int End) Range(int count, int part, int parts, int align = 1)
    {
        long chunk = ((long)count + parts - 1) / parts;
        chunk = (chunk + align - 1) / align * align;
        int start = (int)Math.Min(count, chunk * part);
        int end = (int)Math.Min(count, chunk * (part + 1));
        return (start, end);
    }

    private sealed class DenseForwardJob : IParallelJob
    {
        private float[] _x = [], _w = [], _b = [], _y = [];
        private float[]? _wT;
        private int _xOffset, _wOffset, _bOffset, _yOffset, _rows, _in, _out;
        private bool _simd;

        public void Set(float[] x, int xOffset, float[] w, int wOffset, float[]? wT, float[] b, int bOffset, float[] y, int yOffset, int rows, int inDim, int outDim, bool simd)
        {
            (_x, _xOffset, _w, _wOffset, _wT, _b, _bOffset, _y, _yOffset, _rows, _in, _out, _simd) = (x, xOffset, w, wOffset, wT, b, bOffset, y, yOffset, rows, inDim, outDim, simd);
        }

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_rows, part, parts);
            int n = end - start;
            if (n <= 0)
            {
                return;
            }

            var x = _x.AsSpan(_xOffset + start * _in, n * _in);
            var w = _w.AsSpan(_wOffset, _out * _in);
            var b = _b.AsSpan(_bOffset, _out);
            var y = _y.AsSpan(_yOffset + start * _out, n * _out);
            if (_wT is not null)
            {
                DenseKernel.ForwardTransposed(x, _wT.AsSpan(0, _in * _out), b, y, n, _in, _out);
            }
            else if (_simd)
            {
                DenseKernel.ForwardBlocked(x, w, b, y, n, _in, _out);
            }
            else
            {
                DenseKernel.ForwardReference(x, w, b, y, n, _in, _out);
            }
        }
    }

    private sealed class DenseBackwardJob : IParallelJob
    {
        private float[] _x = [], _w = [], _dy = [], _partials = [];
        private float[]? _dx;
        private int _xOffset, _wOffset, _dyOffset, _dxOffset, _rows, _in, _out, _blockRows, _blocks;
        private bool _simd;

        public void Set(float[] x, int xOffset, float[] w, int wOffset, float[] dy, int dyOffset, float[]? dx, int dxOffset, float[] partials,
            int rows, int inDim, int outDim, int blockRows, int blocks, bool simd)
        {
            (_x, _xOffset, _w, _wOffset, _dy, _dyOffset, _dx, _dxOffset, _partials) = (x, xOffset, w, wOffset, dy, dyOffset, dx, dxOffset, partials);
            (_rows, _in, _out, _blockRows, _blocks, _simd) = (rows, inDim, outDim, blockRows, blocks, simd);
        }

        public void Execute(int part, int parts)
        {
            // Whole blocks per thread, so each block's partial sum is computed the same way whatever the thread count.
            var (firstBlock, endBlock) = Range(_blocks, part, parts);
            int partialLength = _out * _in + _out;
            for (int block = firstBlock; block < endBlock; block++)
            {
                int start = block * _blockRows;
                int n = Math.Min(_blockRows, _rows - start);
                var partial = _partials.AsSpan(block * partialLength, partialLength);
                partial.Clear();
                var x = _x.AsSpan(_xOffset + start * _in, n * _in);
                var w = _w.AsSpan(_wOffset, _out * _in);
                var dy = _dy.AsSpan(_dyOffset + start * _out, n * _out);
                var dx = _dx is null ? default : _dx.AsSpan(_dxOffset + start * _in, n * _in);
                var dW = partial[..(_out * _in)];
                var dB = partial[(_out * _in)..];
                if (_simd)
                {
                    DenseKernel.BackwardBlocked(x, w, dy, dx, dW, dB, n, _in, _out);
                }
                else
                {
                    DenseKernel.BackwardReference(x, w, dy, dx, dW, dB, n, _in, _out);
                }
            }
        }
    }

    private sealed class ReduceBlocksJob : IParallelJob
    {
        private float[] _partials = [], _dW = [], _dB = [];
        private int _blocks, _partialLength, _weightLength, _dWOffset, _dBOffset;

        public void Set(float[] partials, int blocks, int partialLength, int weightLength, float[] dW, int dWOffset, float[] dB, int dBOffset)
        {
            (_partials, _blocks, _partialLength, _weightLength, _dW, _dWOffset, _dB, _dBOffset) = (partials, blocks, partialLength, weightLength, dW, dWOffset, dB, dBOffset);
        }

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_partialLength, part, parts, 16);
            for (int j = start; j < end; j++)
            {
                float sum = 0;
                for (int block = 0; block < _blocks; block++)
                {
                    sum += _partials[block * _partialLength + j];
                }

                if (j < _weightLength)
                {
                    _dW[_dWOffset + j] += sum;
                }
                else
                {
                    _dB[_dBOffset + j - _weightLength] += sum;
                }
            }
        }
    }

    private sealed class AdamJob : IParallelJob
    {
        private float[] _p = [], _g = [], _m = [], _v = [];
        private int _pOffset, _gOffset, _mOffset, _vOffset, _length;
        private Backends.AdamSettings _settings;
        private bool _simd, _clear;

        public void Set(float[] p, int pOffset, float[] g, int gOffset, float[] m, int mOffset, float[] v, int vOffset, int length, in Backends.AdamSettings settings,
            bool simd, bool clearGradients)
        {
            (_p, _pOffset, _g, _gOffset, _m, _mOffset, _v, _vOffset, _length, _settings, _simd, _clear) =
                (p, pOffset, g, gOffset, m, mOffset, v, vOffset, length, settings, simd, clearGradients);
        }

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_length, part, parts, 64);
            int n = end - start;
            if (n <= 0)
            {
                return;
            }

            var p = _p.AsSpan(_pOffset + start, n);
            var g = _g.AsSpan(_gOffset + start, n);
            var m = _m.AsSpan(_mOffset + start, n);
            var v = _v.AsSpan(_vOffset + start, n);
            if (_simd && _clear)
            {
                AdamKernel.SimdClearingGradients(p, g, m, v, _settings);
            }
            else if (_simd)
            {
                AdamKernel.Simd(p, g, m, v, _settings);
            }
            else
            {
                AdamKernel.Reference(p, g, m, v, _settings);
                if (_clear)
                {
                    g.Clear();
                }
            }
        }
    }

    private sealed class FillJob : IParallelJob
    {
        private float[] _array = [];
        private int _offset, _length;
        private float _value;

        public void Set(float[] array, int offset, int length, float value) => (_array, _offset, _length, _value) = (array, offset, length, value);

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_length, part, parts, 64);
            _array.AsSpan(_offset + start, end - start).Fill(_value);
        }
    }

    private sealed class ScatterAddJob : IParallelJob
    {
        private float[] _rows = [], _table = [];
        private int[] _ids = [];
        private int _rowOffset, _idOffset, _count, _dim, _tableOffset, _tableLength;
        private bool _simd;

        public void Set(float[] rows, int rowOffset, int[] ids, int idOffset, int count, int dim, float[] table, int tableOffset, int tableLength, bool simd)
        {
            (_rows, _rowOffset, _ids, _idOffset, _count, _dim, _table, _tableOffset, _tableLength, _simd) = (rows, rowOffset, ids, idOffset, count, dim, table, tableOffset, tableLength, simd);
        }

        public void Execute(int part, int parts)
        {
            var table = _table.AsSpan(_tableOffset, _tableLength);
            var ids = _ids.AsSpan(_idOffset, _count);
            var rows = _rows.AsSpan(_rowOffset, _count * _dim);
            if (parts == 1)
            {
                if (_simd)
                {
                    ScatterAddKernel.Simd(rows, ids, _dim, table);
                }
                else
                {
                    ScatterAddKernel.Reference(rows, ids, _dim, table);
                }

                return;
            }

            // Row ownership: thread t adds the rows of ids with id % parts == t, in batch order, so no two threads
            // write one table row and each row sums in the serial kernel's order.
            for (int n = 0; n < ids.Length; n++)
            {
                int id = ids[n];
                if (id % parts == part)
                {
                    if (_simd)
                    {
                        VectorMath.Add(rows.Slice(n * _dim, _dim), table.Slice(id * _dim, _dim));
                    }
                    else
                    {
                        var source = rows.Slice(n * _dim, _dim);
                        var target = table.Slice(id * _dim, _dim);
                        for (int d = 0; d < _dim; d++)
                        {
                            target[d] += source[d];
                        }
                    }
                }
            }
        }
    }
}
