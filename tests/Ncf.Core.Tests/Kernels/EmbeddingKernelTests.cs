using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Gather and scatter-add, SIMD against reference for dims 1..67 and odd id counts. Both are copies or float adds
/// performed in the same order (by n) in both versions, so they must agree exactly (rtol = atol = 0).
/// </summary>
public class EmbeddingKernelTests
{
    private static readonly int[] Counts = [0, 1, 3, 7, 17, 33, 127];

    [Fact]
    public void Gather_EqualsReference_Exactly()
    {
        const int tableRows = 13;
        for (int dim = 1; dim <= 67; dim++)
        {
            float[] table = TestData.Uniform(tableRows * dim, (ulong)dim);
            foreach (int count in Counts)
            {
                int[] ids = TestData.Ids(count, tableRows, (ulong)(dim * 1000 + count));
                var expected = new float[count * dim];
                var actual = new Guarded(count * dim);
                GatherKernel.Reference(table, dim, ids, expected);
                GatherKernel.Simd(table, dim, ids, actual.Span);
                Tolerance.AssertClose(expected, actual.Span, 0, 0, $"gather[dim={dim}, count={count}]");
                actual.AssertCanaries($"gather[dim={dim}, count={count}]");
                for (int n = 0; n < count; n++)
                {
                    Assert.True(table.AsSpan(ids[n] * dim, dim).SequenceEqual(expected.AsSpan(n * dim, dim)));
                }
            }
        }
    }

    [Fact]
    public void ScatterAdd_EqualsReference_Exactly_WithDuplicateIds()
    {
        // 5 table rows and up to 127 ids: every row is hit many times, so duplicates must accumulate.
        const int tableRows = 5;
        for (int dim = 1; dim <= 67; dim++)
        {
            float[] initial = TestData.Uniform(tableRows * dim, (ulong)dim, stream: 1); // accumulates onto non-zero values
            foreach (int count in Counts)
            {
                int[] ids = TestData.Ids(count, tableRows, (ulong)(dim * 1000 + count));
                float[] rowGradients = TestData.Uniform(count * dim, (ulong)(dim * 1000 + count), stream: 2);
                float[] expected = (float[])initial.Clone();
                var actual = new Guarded(initial);
                ScatterAddKernel.Reference(rowGradients, ids, dim, expected);
                ScatterAddKernel.Simd(rowGradients, ids, dim, actual.Span);
                Tolerance.AssertClose(expected, actual.Span, 0, 0, $"scatter-add[dim={dim}, count={count}]");
                actual.AssertCanaries($"scatter-add[dim={dim}, count={count}]");
            }
        }
    }

    [Fact]
    public void ScatterAdd_SumsDuplicates_ByHand()
    {
        // Table [3, 2] of zeros; ids {2, 0, 2, 2}: row 2 gets rows 0, 2 and 3 of the gradients summed.
        float[] rowGradients = [1, 10, 2, 20, 3, 30, 4, 40];
        int[] ids = [2, 0, 2, 2];
        foreach (bool simd in new[] { false, true })
        {
            var table = new float[6];
            if (simd)
            {
                ScatterAddKernel.Simd(rowGradients, ids, 2, table);
            }
            else
            {
                ScatterAddKernel.Reference(rowGradients, ids, 2, table);
            }

            Assert.Equal([2, 20, 0, 0, 1 + 3 + 4, 10 + 30 + 40], table);
        }
    }

    [Fact]
    public void ScatterAdd_IsTheAdjointOfGather()
    {
        // <gather(T), G> = <T, scatterAdd(G)> in exact arithmetic; checked in double with a sum tolerance.
        const int tableRows = 11, dim = 9, count = 37;
        float[] table = TestData.Uniform(tableRows * dim, 50);
        float[] rowGradients = TestData.Uniform(count * dim, 51);
        int[] ids = TestData.Ids(count, tableRows, 52);
        var gathered = new float[count * dim];
        var scattered = new float[tableRows * dim];
        GatherKernel.Simd(table, dim, ids, gathered);
        ScatterAddKernel.Simd(rowGradients, ids, dim, scattered);
        double left = 0, right = 0;
        for (int i = 0; i < gathered.Length; i++)
        {
            left += (double)gathered[i] * rowGradients[i];
        }

        for (int i = 0; i < scattered.Length; i++)
        {
            right += (double)table[i] * scattered[i];
        }

        // right sums float-rounded partial sums (≤ count terms per element): rtol per the sum rule.
        Tolerance.AssertClose(left, right, Tolerance.SumRtol(count * dim), 1e-5, "<gather(T), G> vs <T, scatterAdd(G)>");
    }
}
