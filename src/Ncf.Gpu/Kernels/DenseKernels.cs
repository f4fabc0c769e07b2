using ILGPU;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Fully connected layer, forward and backward, on tiled GEMMs: 16×16 tiles, or register-blocked 64×64 blocks where
/// the output has enough of them (H100: 4.7 → 9.3 TFLOP/s on [1024, 1024 → 1024]). x <c>[rows, inDim]</c>, weight
/// <c>[outDim, inDim]</c>, bias <c>[outDim]</c>, y <c>[rows, outDim]</c>.
/// Forward <c>y = x·Wᵀ + b</c>; backward <c>dx = dy·W</c> (overwritten), <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c>
/// (accumulated). Sums run in float in a fixed order, so results are deterministic.
/// <para>The weight and bias gradients reduce over the batch, which is long (up to 2^20 rows) while their outputs
/// are small (a [32, 64] weight is 8 tiles): one tile per output block left a 132-SM H100 with 8 busy blocks, and the
/// backward pass ran at 83 GFLOP/s against 4.6 TFLOP/s forward. They are split over the rows instead ("split-K"):
/// each of S row chunks writes its partial sums to scratch, and a second kernel adds the S partials in order. S
/// depends only on the shape, so the bits do not depend on the device.</para>
/// </summary>
internal sealed class DenseKernels(Accelerator accelerator)
{
    /// <summary>Tile edge: a group of Tile×Tile threads computes a Tile×Tile block of C through shared memory.</summary>
    internal const int Tile = 16;

    /// <summary>Output edge of a register-blocked block: 256 threads, each computing 4×4 outputs of a 64×64 block.</summary>
    internal const int BlockTile = 64;

    /// <summary>k-depth of one shared-memory stage of the blocked kernel.</summary>
    private const int BlockK = 16;

    /// <summary>Row stride of the blocked kernel's shared tiles (one float of padding against bank conflicts).</summary>
    private const int TileStride = BlockTile + 1;

    /// <summary>
    /// The blocked kernel runs when it has at least this many blocks (splits included); below, the 16×16 kernel's
    /// 16× more blocks keep more of the GPU busy. A function of the shape only, so results stay device-independent.
    /// </summary>
    internal const int MinBlockedBlocks = 64;

    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>? _gemm;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>? _blockedGemm;
    private Action<Index2D, ArrayView<float>, int, int, int, int, int, ArrayView<float>>? _biasPartials;
    private Action<Index1D, ArrayView<float>, int, int, ArrayView<float>>? _addPartials;

    /// <summary>Output blocks the split aims for: a few per multiprocessor on current GPUs.</summary>
    private const int TargetBlocks = 1024;

    /// <summary>Smallest row chunk of a split: below this the extra reduction costs more than it saves.</summary>
    private const int MinChunk = 64;

    /// <summary>Most scratch floats the split may use (64 MiB).</summary>
    private const int MaxScratch = 1 << 24;

    /// <summary>
    /// How the gradient reduction over <paramref name="rows"/> is split: <c>Splits</c> chunks of <c>Chunk</c> rows
    /// (a multiple of <see cref="Tile"/>); one split means the GEMM accumulates straight into dW.
    /// </summary>
    internal static (int Splits, int Chunk) GradientSplit(int rows, int inDim, int outDim)
    {
        // Blocks of the kernel that will run: the blocked kernel's 64×64 where both edges allow it (a [256, 512]
        // weight is 32 such blocks; counting 16×16 tiles it looked like 512 and got 2 splits, 13.5 ms on an H100).
        int edge = outDim >= BlockTile && inDim >= BlockTile ? BlockTile : Tile;
        long tiles = (long)((outDim + edge - 1) / edge) * ((inDim + edge - 1) / edge);
        long wanted = Math.Max(1, (TargetBlocks + tiles - 1) / tiles);
        long byRows = Math.Max(1, rows / MinChunk);
        long byScratch = Math.Max(1, MaxScratch / ((long)outDim * (inDim + 1)));
        int splits = (int)Math.Min(wanted, Math.Min(byRows, byScratch));
        if (splits <= 1)
        {
            return (1, rows);
        }

        int chunk = (rows + splits - 1) / splits;
        chunk = (chunk + Tile - 1) / Tile * Tile;
        return ((rows + chunk - 1) / chunk, chunk);
    }

    /// <summary>Scratch floats <see cref="Backward"/> needs for this shape (0 when it does not split).</summary>
    internal static int BackwardScratchLength(int rows, int inDim, int outDim)
    {
        var (splits, _) = GradientSplit(rows, inDim, outDim);
        return splits <= 1 ? 0 : splits * outDim * (inDim + 1);
    }

    /// <summary><c>y = x·Wᵀ + b</c>.</summary>
    public void Forward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y, int rows, int inDim, int outDim) =>
        Gemm(x, weight, bias, y, new GemmShape(rows, outDim, inDim, inDim, inDim, outDim, TransposeA: 0, TransposeB: 1, Accumulate: 0, HasBias: 1));

    /// <summary>
    /// <c>dx = dy·W</c> when <paramref name="dx"/> is given, <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c>.
    /// <paramref name="scratch"/> holds at least <see cref="BackwardScratchLength"/> floats.
    /// </summary>
    public void Backward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> dy, ArrayView<float>? dx, ArrayView<float> dWeight,
        ArrayView<float> dBias, int rows, int inDim, int outDim, ArrayView<float> scratch)
    {
        if (dx is { } dInput)
        {
            // dx [rows, inDim] = dy [rows, outDim] · W [outDim, inDim]
            Gemm(dy, weight, dBias, dInput, new GemmShape(rows, inDim, outDim, outDim, inDim, inDim, TransposeA: 0, TransposeB: 0, Accumulate: 0, HasBias: 0));
        }

        // dW [outDim, inDim] += dyᵀ [outDim, rows] · x [rows, inDim], split over the rows into scratch
        // [splits][outDim·inDim weight partials | outDim bias partials] when the batch is long.
        var (splits, chunk) = GradientSplit(rows, inDim, outDim);
        _biasPartials ??= accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, int, int, int, int, int, ArrayView<float>>(BiasPartialsKernel);
        if (splits <= 1)
        {
            Gemm(dy, x, dBias, dWeight, new GemmShape(outDim, inDim, rows, outDim, inDim, inDim, TransposeA: 1, TransposeB: 0, Accumulate: 1, HasBias: 0));
            _biasPartials(new Index2D(outDim, 1), dy, rows, outDim, rows, 0, 1, dBias);
            return;
        }

        int weightLength = outDim * inDim;
        int stride = weightLength + outDim;
        Gemm(dy, x, dBias, scratch, new GemmShape(outDim, inDim, rows, outDim, inDim, inDim, TransposeA: 1, TransposeB: 0, Accumulate: 0, HasBias: 0)
        {
            KChunk = chunk,
            SplitStride = stride,
        }, splits);
        _biasPartials(new Index2D(outDim, splits), dy, rows, outDim, chunk, stride, 0, scratch.SubView(weightLength));
        _addPartials ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(AddPartialsKernel);
        _addPartials(weightLength, scratch, splits, stride, dWeight);
        _addPartials(outDim, scratch.SubView(weightLength), splits, stride, dBias);
    }

    private void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmShape shape, int splits = 1)
    {
        _gemm ??= accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>(GemmKernel);
        if (shape.KChunk == 0)
        {
            shape = shape with { KChunk = shape.K };
        }

        // M on x: the batch can be 2^20 rows (65,536 tiles), past the 65,535 limit of a CUDA grid's y and z.
        if (UsesBlockedKernel(shape.M, shape.N, splits))
        {
            _blockedGemm ??= accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>(BlockedGemmKernel);
            var blocks = new Index3D((shape.M + BlockTile - 1) / BlockTile, (shape.N + BlockTile - 1) / BlockTile, splits);
            _blockedGemm(new KernelConfig(blocks, new Index3D(256, 1, 1)), a, b, bias, c, shape);
            return;
        }

        var grid = new Index3D((shape.M + Tile - 1) / Tile, (shape.N + Tile - 1) / Tile, splits);
        _gemm(new KernelConfig(grid, new Index3D(Tile, Tile, 1)), a, b, bias, c, shape);
    }

    /// <summary>Whether a GEMM of C <c>[m, n]</c> in <paramref name="splits"/> splits runs the register-blocked kernel.</summary>
    internal static bool UsesBlockedKernel(int m, int n, int splits) =>
        m >= BlockTile && n >= BlockTile
        && (long)((m + BlockTile - 1) / BlockTile) * ((n + BlockTile - 1) / BlockTile) * splits >= MinBlockedBlocks;

    /// <summary>
    /// C <c>[M, N]</c> (row stride Ldc) = or += Σ_k A(m, k)·B(k, n) (+ bias[n]). A(m, k) is <c>a[m·Lda + k]</c>, or
    /// <c>a[k·Lda + m]</c> when TransposeA; B(k, n) is <c>b[k·Ldb + n]</c>, or <c>b[n·Ldb + k]</c> when TransposeB.
    /// Flags are ints (0/1): uniform branches in the kernel. With a split (grid z = splits), split z sums k in
    /// <c>[z·KChunk, (z+1)·KChunk)</c> into <c>c[z·SplitStride ..]</c>.
    /// </summary>
    internal readonly record struct GemmShape(int M, int N, int K, int Lda, int Ldb, int Ldc, int TransposeA, int TransposeB, int Accumulate, int HasBias)
    {
        public int KChunk { get; init; }

        public int SplitStride { get; init; }
    }

    // Group (tx, ty) computes C[m = blockX·Tile + ty, n = blockY·Tile + tx]. Each step stages a Tile×Tile block of A
    // (rows m, columns k) and of B (rows k, columns n) in shared memory; out-of-range elements load as 0.
    private static void GemmKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmShape s)
    {
        var tileA = SharedMemory.Allocate<float>(Tile * Tile);
        var tileB = SharedMemory.Allocate<float>(Tile * Tile);
        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int m = Grid.IdxX * Tile + ty;
        int n = Grid.IdxY * Tile + tx;
        int mLoad = Grid.IdxX * Tile + tx; // with TransposeA, consecutive threads read consecutive m
        int kBegin = Grid.IdxZ * s.KChunk;
        int kEnd = Math.Min(s.K, kBegin + s.KChunk);
        float sum = 0f;
        for (int k0 = kBegin; k0 < kEnd; k0 += Tile)
        {
            // tileA[row, col] = A(blockM + row, k0 + col)
            if (s.TransposeA != 0)
            {
                int k = k0 + ty;
                tileA[tx * Tile + ty] = mLoad < s.M && k < kEnd ? a[k * s.Lda + mLoad] : 0f;
            }
            else
            {
                int k = k0 + tx;
                tileA[ty * Tile + tx] = m < s.M && k < kEnd ? a[m * s.Lda + k] : 0f;
            }

            // tileB[row, col] = B(k0 + row, blockN + col)
            if (s.TransposeB != 0)
            {
                int k = k0 + tx;
                int nLoad = Grid.IdxY * Tile + ty;
                tileB[tx * Tile + ty] = nLoad < s.N && k < kEnd ? b[nLoad * s.Ldb + k] : 0f;
            }
            else
            {
                int k = k0 + ty;
                tileB[ty * Tile + tx] = n < s.N && k < kEnd ? b[k * s.Ldb + n] : 0f;
            }

            Group.Barrier();
            for (int kk = 0; kk < Tile; kk++)
            {
                sum += tileA[ty * Tile + kk] * tileB[kk * Tile + tx];
            }

            Group.Barrier();
        }

        if (m < s.M)
        {
            Store(c, bias, s, m, n, sum);
        }
    }

    // Register-blocked GEMM, same contract as GemmKernel. Block (X, Y, z) computes C[X·64 .. +64, Y·64 .. +64]; thread
    // (tx, ty) = (tid % 16, tid / 16) owns rows ty + 16i and columns tx + 16j, i, j = 0..3: 16 accumulators in
    // registers, 8 shared loads per 16 FMAs (the 16×16 kernel does 2 per FMA). A 64×16 slice of A and a 16×64 slice
    // of B are staged per step, both k-major so the inner loop reads A by broadcast and B from consecutive banks;
    // global loads run along whichever index is contiguous in memory. Out-of-range elements load as 0.
    private static void BlockedGemmKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmShape s)
    {
        // Rows of 65 floats, not 64: the loads store 16 consecutive k of one m (or n), which at a stride of 64 would
        // all hit one of the 32 shared-memory banks; at 65 they spread over 16.
        var tileA = SharedMemory.Allocate<float>(BlockK * TileStride); // [k][m]
        var tileB = SharedMemory.Allocate<float>(BlockK * TileStride); // [k][n]
        int tid = Group.IdxX;
        int tx = tid & 15;
        int ty = tid >> 4;
        int blockM = Grid.IdxX * BlockTile;
        int blockN = Grid.IdxY * BlockTile;
        int kBegin = Grid.IdxZ * s.KChunk;
        int kEnd = Math.Min(s.K, kBegin + s.KChunk);
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = kBegin; k0 < kEnd; k0 += BlockK)
        {
            for (int r = 0; r < 4; r++)
            {
                int e = tid + 256 * r;
                int aRow = s.TransposeA != 0 ? e & 63 : e >> 4;
                int aCol = s.TransposeA != 0 ? e >> 6 : e & 15;
                int m = blockM + aRow;
                int k = k0 + aCol;
                float va = 0f;
                if (m < s.M && k < kEnd)
                {
                    va = s.TransposeA != 0 ? a[(long)k * s.Lda + m] : a[(long)m * s.Lda + k];
                }

                tileA[aCol * TileStride + aRow] = va;

                int bCol = s.TransposeB != 0 ? e >> 4 : e & 63;
                int bRow = s.TransposeB != 0 ? e & 15 : e >> 6;
                int n = blockN + bCol;
                k = k0 + bRow;
                float vb = 0f;
                if (n < s.N && k < kEnd)
                {
                    vb = s.TransposeB != 0 ? b[(long)n * s.Ldb + k] : b[(long)k * s.Ldb + n];
                }

                tileB[bRow * TileStride + bCol] = vb;
            }

            Group.Barrier();
            for (int kk = 0; kk < BlockK; kk++)
            {
                int ao = kk * TileStride + ty;
                int bo = kk * TileStride + tx;
                float a0 = tileA[ao], a1 = tileA[ao + 16], a2 = tileA[ao + 32], a3 = tileA[ao + 48];
                float b0 = tileB[bo], b1 = tileB[bo + 16], b2 = tileB[bo + 32], b3 = tileB[bo + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }

            Group.Barrier();
        }

        int m0 = blockM + ty;
        int n0 = blockN + tx;
        StoreRow(c, bias, s, m0, n0, c00, c01, c02, c03);
        StoreRow(c, bias, s, m0 + 16, n0, c10, c11, c12, c13);
        StoreRow(c, bias, s, m0 + 32, n0, c20, c21, c22, c23);
        StoreRow(c, bias, s, m0 + 48, n0, c30, c31, c32, c33);
    }

    // Four outputs of one row m at columns n, n+16, n+32, n+48, each through Store.
    private static void StoreRow(ArrayView<float> c, ArrayView<float> bias, GemmShape s, int m, int n, float v0, float v1, float v2, float v3)
    {
        if (m >= s.M)
        {
            return;
        }

        Store(c, bias, s, m, n, v0);
        Store(c, bias, s, m, n + 16, v1);
        Store(c, bias, s, m, n + 32, v2);
        Store(c, bias, s, m, n + 48, v3);
    }

    // One output C[m, n] of either kernel (m in range): bias, then written or accumulated at its split's offset.
    private static void Store(ArrayView<float> c, ArrayView<float> bias, GemmShape s, int m, int n, float sum)
    {
        if (n >= s.N)
        {
            return;
        }

        if (s.HasBias != 0)
        {
            sum += bias[n];
        }

        long index = (long)Grid.IdxZ * s.SplitStride + (long)m * s.Ldc + n;
        c[index] = s.Accumulate != 0 ? c[index] + sum : sum;
    }

    // dy is [rows, outDim]; thread (o, z) sums column o over rows [z·chunk, (z+1)·chunk) and adds the sum to
    // target[o] (accumulate: the unsplit dBias) or writes it to target[z·stride + o] (a split's bias partial).
    private static void BiasPartialsKernel(Index2D index, ArrayView<float> dy, int rows, int outDim, int chunk, int stride, int accumulate,
        ArrayView<float> target)
    {
        int o = index.X;
        int z = index.Y;
        int begin = z * chunk;
        int end = Math.Min(rows, begin + chunk);
        float sum = 0f;
        for (int r = begin; r < end; r++)
        {
            sum += dy[(long)r * outDim + o];
        }

        if (accumulate != 0)
        {
            target[o] += sum;
        }
        else
        {
            target[(long)z * stride + o] = sum;
        }
    }

    // target[i] += Σ_z partials[z·stride + i], z = 0..splits-1 in order.
    private static void AddPartialsKernel(Index1D i, ArrayView<float> partials, int splits, int stride, ArrayView<float> target)
    {
        float sum = 0f;
        for (int z = 0; z < splits; z++)
        {
            sum += partials[(long)z * stride + i];
        }

        target[i] += sum;
    }
}
