namespace Ncf.Kernels;

/// <summary>
/// Embedding lookup. table <c>[rows, dim]</c>, ids <c>[count]</c>, output <c>[count, dim]</c>:
/// <c>output[n, :] = table[ids[n], :]</c>.
/// </summary>
public static class GatherKernel
{
    /// <summary>Scalar reference.</summary>
    public static void Reference(ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, Span<float> output)
    {
        Validate(table, dim, ids, output);
        for (int n = 0; n < ids.Length; n++)
        {
            for (int d = 0; d < dim; d++)
            {
                output[n * dim + d] = table[ids[n] * dim + d];
            }
        }
    }

    /// <summary>Vectorised version (row copies are SIMD memory moves).</summary>
    public static void Simd(ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, Span<float> output)
    {
        Validate(table, dim, ids, output);
        for (int n = 0; n < ids.Length; n++)
        {
            table.Slice(ids[n] * dim, dim).CopyTo(output.Slice(n * dim, dim));
        }
    }

    internal static void Validate(ReadOnlySpan<float> table, int dim, ReadOnlySpan<int> ids, ReadOnlySpan<float> rowsSpan)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        Check.AtLeast(ids.Length * dim, rowsSpan.Length, "output");
        int tableRows = table.Length / dim;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)tableRows)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"Id {id} is outside the table's {tableRows} rows.");
            }
        }
    }
}

/// <summary>
/// Embedding backward. rowGradients <c>[count, dim]</c>, ids <c>[count]</c>, tableGradient <c>[rows, dim]</c>:
/// <c>tableGradient[ids[n], :] += rowGradients[n, :]</c>. Repeated ids accumulate, in order of n.
/// </summary>
public static class ScatterAddKernel
{
    /// <summary>Scalar reference.</summary>
    public static void Reference(ReadOnlySpan<float> rowGradients, ReadOnlySpan<int> ids, int dim, Span<float> tableGradient)
    {
        GatherKernel.Validate(tableGradient, dim, ids, rowGradients);
        for (int n = 0; n < ids.Length; n++)
        {
            for (int d = 0; d < dim; d++)
            {
                tableGradient[ids[n] * dim + d] += rowGradients[n * dim + d];
            }
        }
    }

    /// <summary>Vectorised version: one SIMD row add per id.</summary>
    public static void Simd(ReadOnlySpan<float> rowGradients, ReadOnlySpan<int> ids, int dim, Span<float> tableGradient)
    {
        GatherKernel.Validate(tableGradient, dim, ids, rowGradients);
        for (int n = 0; n < ids.Length; n++)
        {
            VectorMath.Add(rowGradients.Slice(n * dim, dim), tableGradient.Slice(ids[n] * dim, dim));
        }
    }
}
