using ILGPU;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Memory kernels: fill, zero rows, strided column-block copy. One thread per element written.
/// Launch methods run under the backend's launch lock and assume validated, non-empty arguments.
/// </summary>
internal sealed class MemoryKernels(Accelerator accelerator)
{
    private Action<Index1D, ArrayView<float>, float>? _fill;
    private Action<Index1D, ArrayView<float>, int, ArrayView<int>>? _zeroRows;
    private Action<Index1D, ArrayView<float>, int, ArrayView<float>, int, int>? _copyColumns;

    /// <summary><c>destination[i] = value</c>.</summary>
    public void Fill(ArrayView<float> destination, float value) =>
        (_fill ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel))
        ((int)destination.Length, destination, value);

    /// <summary>matrix <c>[tableRows, dim]</c>, rows <c>[count]</c>: <c>matrix[rows[n], :] = 0</c>.</summary>
    public void ZeroRows(ArrayView<float> matrix, int dim, ArrayView<int> rows) =>
        (_zeroRows ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<int>>(ZeroRowsKernel))
        ((int)rows.Length * dim, matrix, dim, rows);

    /// <summary>A <c>[rows, columns]</c> block: <c>destination[r·dstStride + c] = source[r·srcStride + c]</c>.</summary>
    public void CopyColumns(ArrayView<float> source, int sourceStride, ArrayView<float> destination, int destinationStride, int rows, int columns) =>
        (_copyColumns ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int, int>(CopyColumnsKernel))
        (rows * columns, source, sourceStride, destination, destinationStride, columns);

    private static void FillKernel(Index1D i, ArrayView<float> destination, float value) => destination[i] = value;

    // matrix is [tableRows, dim]; thread i owns element (n = i / dim, d = i % dim) of the listed rows.
    // Out-of-range row ids are ignored (there is no host round trip to validate ids that live on the device).
    private static void ZeroRowsKernel(Index1D i, ArrayView<float> matrix, int dim, ArrayView<int> rows)
    {
        int n = i / dim;
        int d = i - n * dim;
        int row = rows[n];
        if ((uint)row < (uint)(matrix.IntLength / dim))
        {
            matrix[row * dim + d] = 0f;
        }
    }

    // source is [rows, sourceStride], destination is [rows, destinationStride]; thread i copies (r, c).
    private static void CopyColumnsKernel(Index1D i, ArrayView<float> source, int sourceStride, ArrayView<float> destination,
        int destinationStride, int columns)
    {
        int r = i / columns;
        int c = i - r * columns;
        destination[r * destinationStride + c] = source[r * sourceStride + c];
    }
}
