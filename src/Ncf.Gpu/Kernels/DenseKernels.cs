using ILGPU;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Fully connected layer, forward and backward, on one tiled GEMM. x <c>[rows, inDim]</c>, weight
/// <c>[outDim, inDim]</c>, bias <c>[outDim]</c>, y <c>[rows, outDim]</c>.
/// Forward <c>y = x·Wᵀ + b</c>; backward <c>dx = dy·W</c> (overwritten), <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c>
/// (accumulated). Sums run in float in a fixed order, so results are deterministic.
/// </summary>
internal sealed class DenseKernels(Accelerator accelerator)
{
    /// <summary>Tile edge: a group of Tile×Tile threads computes a Tile×Tile block of C through shared memory.</summary>
    internal const int Tile = 16;

    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>? _gemm;
    private Action<Index1D, ArrayView<float>, int, int, ArrayView<float>>? _biasGradient;

    /// <summary><c>y = x·Wᵀ + b</c>.</summary>
    public void Forward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y, int rows, int inDim, int outDim) =>
        Gemm(x, weight, bias, y, new GemmShape(rows, outDim, inDim, inDim, inDim, outDim, TransposeA: 0, TransposeB: 1, Accumulate: 0, HasBias: 1));

    /// <summary><c>dx = dy·W</c> when <paramref name="dx"/> is given, <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c>.</summary>
    public void Backward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> dy, ArrayView<float>? dx, ArrayView<float> dWeight,
        ArrayView<float> dBias, int rows, int inDim, int outDim)
    {
        if (dx is { } dInput)
        {
            // dx [rows, inDim] = dy [rows, outDim] · W [outDim, inDim]
            Gemm(dy, weight, dBias, dInput, new GemmShape(rows, inDim, outDim, outDim, inDim, inDim, TransposeA: 0, TransposeB: 0, Accumulate: 0, HasBias: 0));
        }

        // dW [outDim, inDim] += dyᵀ [outDim, rows] · x [rows, inDim]
        Gemm(dy, x, dBias, dWeight, new GemmShape(outDim, inDim, rows, outDim, inDim, inDim, TransposeA: 1, TransposeB: 0, Accumulate: 1, HasBias: 0));
        (_biasGradient ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(BiasGradientKernel))
            (outDim, dy, rows, outDim, dBias);
    }

    private void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmShape shape)
    {
        _gemm ??= accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>(GemmKernel);
        var grid = new Index2D((shape.N + Tile - 1) / Tile, (shape.M + Tile - 1) / Tile);
        _gemm(new KernelConfig(grid, new Index2D(Tile, Tile)), a, b, bias, c, shape);
    }

    /// <summary>
    /// C <c>[M, N]</c> (row stride Ldc) = or += Σ_k A(m, k)·B(k, n) (+ bias[n]). A(m, k) is <c>a[m·Lda + k]</c>, or
    /// <c>a[k·Lda + m]</c> when TransposeA; B(k, n) is <c>b[k·Ldb + n]</c>, or <c>b[n·Ldb + k]</c> when TransposeB.
    /// Flags are ints (0/1): uniform branches in the kernel.
    /// </summary>
    internal readonly record struct GemmShape(int M, int N, int K, int Lda, int Ldb, int Ldc, int TransposeA, int TransposeB, int Accumulate, int HasBias);

    // Group (tx, ty) computes C[m = blockY·Tile + ty, n = blockX·Tile + tx]. Each step stages a Tile×Tile block of A
    // (rows m, columns k) and of B (rows k, columns n) in shared memory; out-of-range elements load as 0.
    private static void GemmKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmShape s)
    {
        var tileA = SharedMemory.Allocate<float>(Tile * Tile);
        var tileB = SharedMemory.Allocate<float>(Tile * Tile);
        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int m = Grid.IdxY * Tile + ty;
        int n = Grid.IdxX * Tile + tx;
        int mLoad = Grid.IdxY * Tile + tx; // with TransposeA, consecutive threads read consecutive m
        float sum = 0f;
        for (int k0 = 0; k0 < s.K; k0 += Tile)
        {
            // tileA[row, col] = A(blockM + row, k0 + col)
            if (s.TransposeA != 0)
            {
                int k = k0 + ty;
                tileA[tx * Tile + ty] = mLoad < s.M && k < s.K ? a[k * s.Lda + mLoad] : 0f;
            }
            else
            {
                int k = k0 + tx;
                tileA[ty * Tile + tx] = m < s.M && k < s.K ? a[m * s.Lda + k] : 0f;
            }

            // tileB[row, col] = B(k0 + row, blockN + col)
            if (s.TransposeB != 0)
            {
                int k = k0 + tx;
                int nLoad = Grid.IdxX * Tile + ty;
                tileB[tx * Tile + ty] = nLoad < s.N && k < s.K ? b[nLoad * s.Ldb + k] : 0f;
            }
            else
            {
                int k = k0 + ty;
                tileB[ty * Tile + tx] = n < s.N && k < s.K ? b[k * s.Ldb + n] : 0f;
            }

            Group.Barrier();
            for (int kk = 0; kk < Tile; kk++)
            {
                sum += tileA[ty * Tile + kk] * tileB[kk * Tile + tx];
            }

            Group.Barrier();
        }

        if (m < s.M && n < s.N)
        {
            if (s.HasBias != 0)
            {
                sum += bias[n];
            }

            int index = m * s.Ldc + n;
            c[index] = s.Accumulate != 0 ? c[index] + sum : sum;
        }
    }

    // dy is [rows, outDim]; thread o adds the column sum Σ_r dy[r, o] to dBias[o].
    private static void BiasGradientKernel(Index1D o, ArrayView<float> dy, int rows, int outDim, ArrayView<float> dBias)
    {
        float sum = 0f;
        for (int r = 0; r < rows; r++)
        {
            sum += dy[r * outDim + o];
        }

        dBias[o] += sum;
    }
}
