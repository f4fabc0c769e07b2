using System.Numerics;
using System.Runtime.CompilerServices;

namespace Ncf.Kernels;

/// <summary>
/// Fully connected layer. x <c>[rows, inDim]</c>, weight <c>[outDim, inDim]</c>, bias <c>[outDim]</c>,
/// y <c>[rows, outDim]</c>. Forward <c>y = x·Wᵀ + b</c>; backward <c>dx = dy·W</c> (overwritten),
/// <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c> (accumulated).
/// </summary>
public static class DenseKernel
{
    /// <summary>Scalar reference of the forward pass (accumulates in double).</summary>
    public static void ForwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int inDim, int outDim)
    {
        ValidateForward(x, weight, bias, y, rows, inDim, outDim);
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outDim; o++)
            {
                double sum = bias[o];
                for (int k = 0; k < inDim; k++)
                {
                    sum += (double)x[r * inDim + k] * weight[o * inDim + k];
                }

                y[r * outDim + o] = (float)sum;
            }
        }
    }

    /// <summary>Scalar reference of the backward pass (accumulates in double).</summary>
    public static void BackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx,
        Span<float> dWeight, Span<float> dBias, int rows, int inDim, int outDim)
    {
        ValidateBackward(x, weight, dy, dx, dWeight, dBias, rows, inDim, outDim);
        if (!dx.IsEmpty)
        {
            for (int r = 0; r < rows; r++)
            {
                for (int k = 0; k < inDim; k++)
                {
                    double sum = 0;
                    for (int o = 0; o < outDim; o++)
                    {
                        sum += (double)dy[r * outDim + o] * weight[o * inDim + k];
                    }

                    dx[r * inDim + k] = (float)sum;
                }
            }
        }

        for (int o = 0; o < outDim; o++)
        {
            double biasSum = 0;
            for (int r = 0; r < rows; r++)
            {
                biasSum += dy[r * outDim + o];
            }

            dBias[o] += (float)biasSum;
            for (int k = 0; k < inDim; k++)
            {
                double sum = 0;
                for (int r = 0; r < rows; r++)
                {
                    sum += (double)dy[r * outDim + o] * x[r * inDim + k];
                }

                dWeight[o * inDim + k] += (float)sum;
            }
        }
    }

    /// <summary>SIMD forward: a vector dot product per output unit.</summary>
    public static void ForwardSimd(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int inDim, int outDim)
    {
        ValidateForward(x, weight, bias, y, rows, inDim, outDim);
        for (int r = 0; r < rows; r++)
        {
            var xRow = x.Slice(r * inDim, inDim);
            var yRow = y.Slice(r * outDim, outDim);
            for (int o = 0; o < outDim; o++)
            {
                yRow[o] = bias[o] + VectorMath.Dot(xRow, weight.Slice(o * inDim, inDim));
            }
        }
    }

    /// <summary>SIMD backward: row-wise axpy updates for dx and dW.</summary>
    public static void BackwardSimd(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx,
        Span<float> dWeight, Span<float> dBias, int rows, int inDim, int outDim)
    {
        ValidateBackward(x, weight, dy, dx, dWeight, dBias, rows, inDim, outDim);
        for (int r = 0; r < rows; r++)
        {
            var dyRow = dy.Slice(r * outDim, outDim);
            var xRow = x.Slice(r * inDim, inDim);
            VectorMath.Add(dyRow, dBias);
            Span<float> dxRow = dx.IsEmpty ? default : dx.Slice(r * inDim, inDim);
            dxRow.Clear();
            for (int o = 0; o < outDim; o++)
            {
                float g = dyRow[o];
                if (!dx.IsEmpty)
                {
                    VectorMath.Axpy(g, weight.Slice(o * inDim, inDim), dxRow);
                }

                VectorMath.Axpy(g, xRow, dWeight.Slice(o * inDim, inDim));
            }
        }
    }

    /// <summary>Largest weight matrix (in floats, 16 KiB) that <see cref="ForwardBlocked"/> transposes on the stack; larger ones use a per-thread buffer.</summary>
    public const int MaxBlockedWeights = 4096;

    [ThreadStatic]
    private static float[]? t_transposeScratch;

    /// <summary>
    /// Forward v2, register-blocked: W is transposed once per call into a stack buffer, then
    /// <c>y[r, :] = b + Σ_k x[r, k]·Wᵀ[k, :]</c> runs on tiles of 4 rows × 2 vectors of outputs held in registers, so
    /// no horizontal sums are needed (v1, <see cref="ForwardSimd"/>, does one per output). Falls back to v1 when
    /// <paramref name="outDim"/> is below the vector width (the output layer, 16→1). Weights over
    /// <see cref="MaxBlockedWeights"/> are transposed into a per-thread buffer that grows once and is then reused.
    /// Same arguments, validation and exceptions as <see cref="ForwardSimd"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or weight/bias do not match it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or a dimension is not positive.</exception>
    [SkipLocalsInit]
    public static void ForwardBlocked(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int inDim, int outDim)
    {
        ValidateForward(x, weight, bias, y, rows, inDim, outDim);
        if (outDim < Vector<float>.Count)
        {
            ForwardSimd(x, weight, bias, y, rows, inDim, outDim);
            return;
        }

        // wT is [inDim, outDim].
        int length = outDim * inDim;
        Span<float> wT = length <= MaxBlockedWeights
            ? stackalloc float[length]
            : (t_transposeScratch is { } scratch && scratch.Length >= length ? scratch : t_transposeScratch = new float[length]).AsSpan(0, length);
        for (int o = 0; o < outDim; o++)
        {
            var wRow = weight.Slice(o * inDim, inDim);
            for (int k = 0; k < inDim; k++)
            {
                wT[k * outDim + o] = wRow[k];
            }
        }

        SmallGemm.Multiply(x, inDim, 1, wT, y, bias, rows, outDim, inDim, GemmInit.RowVector);
    }

    /// <summary>Writes <c>wT[k, o] = weight[o, k]</c>: weight <c>[outDim, inDim]</c>, wT <c>[inDim, outDim]</c>.</summary>
    internal static void Transpose(ReadOnlySpan<float> weight, Span<float> wT, int inDim, int outDim)
    {
        for (int o = 0; o < outDim; o++)
        {
            var wRow = weight.Slice(o * inDim, inDim);
            for (int k = 0; k < inDim; k++)
            {
                wT[k * outDim + o] = wRow[k];
            }
        }
    }

    /// <summary>
    /// The blocked forward on a weight already transposed by <see cref="Transpose"/> (so that threads sharing one
    /// layer transpose it once); identical results to <see cref="ForwardBlocked"/>. Requires outDim ≥ the vector width.
    /// </summary>
    internal static void ForwardTransposed(ReadOnlySpan<float> x, ReadOnlySpan<float> wT, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int inDim, int outDim) =>
        SmallGemm.Multiply(x, inDim, 1, wT, y, bias, rows, outDim, inDim, GemmInit.RowVector);

    /// <summary>
    /// Backward v2, register-blocked: <c>dx = dy·W</c> (overwritten) and <c>dW += dyᵀ·x</c> (accumulated) each as one
    /// tiled product with the outputs in registers across the whole reduction, instead of v1's
    /// (<see cref="BackwardSimd"/>) load-FMA-store axpy per (row, output); <c>db += Σ_rows dy</c> as in v1.
    /// <paramref name="dx"/> may be empty (no input gradient wanted). Same arguments and exceptions as
    /// <see cref="BackwardSimd"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or weight/dWeight/dBias do not match it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or a dimension is not positive.</exception>
    public static void BackwardBlocked(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx,
        Span<float> dWeight, Span<float> dBias, int rows, int inDim, int outDim)
    {
        ValidateBackward(x, weight, dy, dx, dWeight, dBias, rows, inDim, outDim);
        for (int r = 0; r < rows; r++)
        {
            VectorMath.Add(dy.Slice(r * outDim, outDim), dBias);
        }

        // dx [rows, inDim] = dy [rows, outDim] · W [outDim, inDim].
        if (!dx.IsEmpty)
        {
            SmallGemm.Multiply(dy, outDim, 1, weight, dx, default, rows, inDim, outDim, GemmInit.Zero);
        }

        // dW [outDim, inDim] += dyᵀ [outDim, rows] · x [rows, inDim]; dyᵀ(o, r) = dy[r·outDim + o].
        SmallGemm.Multiply(dy, 1, outDim, x, dWeight, default, outDim, inDim, rows, GemmInit.Accumulate);
    }

    private static void ValidateForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> y,
        int rows, int inDim, int outDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inDim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outDim);
        Check.AtLeast(rows * inDim, x.Length, nameof(x));
        Check.SameLength(outDim * inDim, weight.Length, nameof(weight));
        Check.SameLength(outDim, bias.Length, nameof(bias));
        Check.AtLeast(rows * outDim, y.Length, nameof(y));
    }

    private static void ValidateBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, ReadOnlySpan<float> dx,
        ReadOnlySpan<float> dWeight, ReadOnlySpan<float> dBias, int rows, int inDim, int outDim)
    {
        ValidateForward(x, weight, dBias, dy, rows, inDim, outDim);
        Check.SameLength(outDim * inDim, dWeight.Length, nameof(dWeight));
        if (!dx.IsEmpty)
        {
            Check.AtLeast(rows * inDim, dx.Length, nameof(dx));
        }
    }
}
