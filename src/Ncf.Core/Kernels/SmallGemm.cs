using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ncf.Kernels;

/// <summary>How <see cref="SmallGemm.Multiply"/> starts each output element.</summary>
internal enum GemmInit
{
    /// <summary><c>C = A·B</c> (overwrite).</summary>
    Zero,

    /// <summary><c>C[i, :] = rowVector + A[i, :]·B</c> (the dense layer's bias).</summary>
    RowVector,

    /// <summary><c>C += A·B</c> (parameter gradients accumulate).</summary>
    Accumulate,
}

/// <summary>
/// Register-blocked product for the small, skinny matrices of the NCF towers (K and N up to a few hundred):
/// <c>C[M, N] (init) + A(i, k)·B[K, N]</c>, B and C row-major with row stride N, and A addressed through strides,
/// <c>A(i, k) = a[i·aRowStride + k·aColStride]</c>, so that the same loop serves A and Aᵀ.
/// Tiles of 4 rows × 2 vectors (8 accumulators in registers, each broadcast of A feeding 2 FMAs) and 4 rows × 1
/// vector; rows past M in a tile alias the tile's first row (computed, never stored). Columns past the last full
/// vector run a scalar FMA loop. Each output is one FMA chain over k in order, so results do not depend on tiling.
/// Validation is the caller's: spans must hold every addressed element.
/// </summary>
internal static class SmallGemm
{
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, Span<float> c,
        ReadOnlySpan<float> rowVector, int m, int n, int k, GemmInit init)
    {
        if (m == 0)
        {
            return;
        }

        ref float aS = ref MemoryMarshal.GetReference(a);
        ref float bS = ref MemoryMarshal.GetReference(b);
        ref float cS = ref MemoryMarshal.GetReference(c);
        ref float vS = ref MemoryMarshal.GetReference(rowVector);
        int width = Vector<float>.Count, j = 0;

        // Column blocks outermost: for dW (B = x, K = batch) a 2-vector column slice of B stays in L1 across all row tiles.
        for (; j <= n - 2 * width; j += 2 * width)
        {
            for (int i = 0; i < m; i += 4)
            {
                Tile4x2(ref aS, aRowStride, aColStride, ref bS, ref cS, ref vS, i, Math.Min(4, m - i), j, n, k, init);
            }
        }

        for (; j <= n - width; j += width)
        {
            for (int i = 0; i < m; i += 4)
            {
                Tile4x1(ref aS, aRowStride, aColStride, ref bS, ref cS, ref vS, i, Math.Min(4, m - i), j, n, k, init);
            }
        }

        for (; j < n; j++)
        {
            for (int i = 0; i < m; i++)
            {
                ref float cij = ref Unsafe.Add(ref cS, (nint)i * n + j);
                float sum = init switch { GemmInit.Zero => 0, GemmInit.RowVector => Unsafe.Add(ref vS, j), _ => cij };
                for (int kk = 0; kk < k; kk++)
                {
                    sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref aS, (nint)i * aRowStride + (nint)kk * aColStride),
                        Unsafe.Add(ref bS, (nint)kk * n + j), sum);
                }

                cij = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2(ref float a, int aRowStride, int aColStride, ref float b, ref float c, ref float rowVector,
        int i, int valid, int j, int n, int k, GemmInit init)
    {
        int width = Vector<float>.Count;
        // Row offsets into A and C; rows past `valid` alias row i (their results are discarded).
        nint a0 = (nint)i * aRowStride, a1 = valid > 1 ? a0 + aRowStride : a0, a2 = valid > 2 ? a0 + 2 * (nint)aRowStride : a0,
            a3 = valid > 3 ? a0 + 3 * (nint)aRowStride : a0;
        nint c0 = (nint)i * n + j, c1 = valid > 1 ? c0 + n : c0, c2 = valid > 2 ? c0 + 2 * (nint)n : c0, c3 = valid > 3 ? c0 + 3 * (nint)n : c0;
        Vector<float> r00, r01, r10, r11, r20, r21, r30, r31;
        if (init == GemmInit.Accumulate)
        {
            r00 = Vector.LoadUnsafe(ref c, (nuint)c0);
            r01 = Vector.LoadUnsafe(ref c, (nuint)(c0 + width));
            r10 = Vector.LoadUnsafe(ref c, (nuint)c1);
            r11 = Vector.LoadUnsafe(ref c, (nuint)(c1 + width));
            r20 = Vector.LoadUnsafe(ref c, (nuint)c2);
            r21 = Vector.LoadUnsafe(ref c, (nuint)(c2 + width));
            r30 = Vector.LoadUnsafe(ref c, (nuint)c3);
            r31 = Vector.LoadUnsafe(ref c, (nuint)(c3 + width));
        }
        else
        {
            var v0 = init == GemmInit.RowVector ? Vector.LoadUnsafe(ref rowVector, (nuint)j) : Vector<float>.Zero;
            var v1 = init == GemmInit.RowVector ? Vector.LoadUnsafe(ref rowVector, (nuint)(j + width)) : Vector<float>.Zero;
            r00 = r10 = r20 = r30 = v0;
            r01 = r11 = r21 = r31 = v1;
        }

        nint bk = j, ak = 0;
        for (int kk = 0; kk < k; kk++, bk += n, ak += aColStride)
        {
            var b0 = Vector.LoadUnsafe(ref b, (nuint)bk);
            var b1 = Vector.LoadUnsafe(ref b, (nuint)(bk + width));
            var x = new Vector<float>(Unsafe.Add(ref a, a0 + ak));
            r00 = Vector.FusedMultiplyAdd(x, b0, r00);
            r01 = Vector.FusedMultiplyAdd(x, b1, r01);
            x = new Vector<float>(Unsafe.Add(ref a, a1 + ak));
            r10 = Vector.FusedMultiplyAdd(x, b0, r10);
            r11 = Vector.FusedMultiplyAdd(x, b1, r11);
            x = new Vector<float>(Unsafe.Add(ref a, a2 + ak));
            r20 = Vector.FusedMultiplyAdd(x, b0, r20);
            r21 = Vector.FusedMultiplyAdd(x, b1, r21);
            x = new Vector<float>(Unsafe.Add(ref a, a3 + ak));
            r30 = Vector.FusedMultiplyAdd(x, b0, r30);
            r31 = Vector.FusedMultiplyAdd(x, b1, r31);
        }

        // Only the valid rows are stored; the aliased ones were computed for nothing.
        if (valid > 3)
        {
            r30.StoreUnsafe(ref c, (nuint)c3);
            r31.StoreUnsafe(ref c, (nuint)(c3 + width));
        }

        if (valid > 2)
        {
            r20.StoreUnsafe(ref c, (nuint)c2);
            r21.StoreUnsafe(ref c, (nuint)(c2 + width));
        }

        if (valid > 1)
        {
            r10.StoreUnsafe(ref c, (nuint)c1);
            r11.StoreUnsafe(ref c, (nuint)(c1 + width));
        }

        r00.StoreUnsafe(ref c, (nuint)c0);
        r01.StoreUnsafe(ref c, (nuint)(c0 + width));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(ref float a, int aRowStride, int aColStride, ref float b, ref float c, ref float rowVector,
        int i, int valid, int j, int n, int k, GemmInit init)
    {
        nint a0 = (nint)i * aRowStride, a1 = valid > 1 ? a0 + aRowStride : a0, a2 = valid > 2 ? a0 + 2 * (nint)aRowStride : a0,
            a3 = valid > 3 ? a0 + 3 * (nint)aRowStride : a0;
        nint c0 = (nint)i * n + j, c1 = valid > 1 ? c0 + n : c0, c2 = valid > 2 ? c0 + 2 * (nint)n : c0, c3 = valid > 3 ? c0 + 3 * (nint)n : c0;
        Vector<float> r0, r1, r2, r3;
        if (init == GemmInit.Accumulate)
        {
            r0 = Vector.LoadUnsafe(ref c, (nuint)c0);
            r1 = Vector.LoadUnsafe(ref c, (nuint)c1);
            r2 = Vector.LoadUnsafe(ref c, (nuint)c2);
            r3 = Vector.LoadUnsafe(ref c, (nuint)c3);
        }
        else
        {
            r0 = r1 = r2 = r3 = init == GemmInit.RowVector ? Vector.LoadUnsafe(ref rowVector, (nuint)j) : Vector<float>.Zero;
        }

        nint bk = j, ak = 0;
        for (int kk = 0; kk < k; kk++, bk += n, ak += aColStride)
        {
            var b0 = Vector.LoadUnsafe(ref b, (nuint)bk);
            r0 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref a, a0 + ak)), b0, r0);
            r1 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref a, a1 + ak)), b0, r1);
            r2 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref a, a2 + ak)), b0, r2);
            r3 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref a, a3 + ak)), b0, r3);
        }

        if (valid > 3)
        {
            r3.StoreUnsafe(ref c, (nuint)c3);
        }

        if (valid > 2)
        {
            r2.StoreUnsafe(ref c, (nuint)c2);
        }

        if (valid > 1)
        {
            r1.StoreUnsafe(ref c, (nuint)c1);
        }

        r0.StoreUnsafe(ref c, (nuint)c0);
    }
}
