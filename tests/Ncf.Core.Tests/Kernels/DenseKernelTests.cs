using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Dense forward and backward, every SIMD version against the double-accumulating reference over rows × inDim ×
/// outDim sweeps (1, 7, 8, 9, 17, 33, 64 and neighbours: every remainder of the 8-wide vector) plus the NeuMF-8
/// tower shapes at batch 256 and 257.
/// Tolerance: each output is a float sum of <c>terms</c> products (inDim for y, outDim for dx, rows for dW and db)
/// against a double sum, so rtol = 1e-5·sqrt(terms) (<see cref="Tolerance.SumRtol"/>), and, since sums of mixed signs
/// cancel, the error is bounded by ε·Σ|term| rather than ε·|Σ term|: atol = 1e-6·sqrt(terms) for O(1) inputs.
/// </summary>
public class DenseKernelTests
{
    public delegate void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int inDim, int outDim);

    public delegate void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx,
        Span<float> dWeight, Span<float> dBias, int rows, int inDim, int outDim);

    private static readonly int[] RowCounts = [0, 1, 2, 3, 5, 8, 17];
    private static readonly int[] Dims = [1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 64, 67];

    /// <summary>(rows, inDim, outDim) of the sweep and of the NeuMF-8 towers (64→32→16→8, output 16→1) at batch 256/257.</summary>
    public static IEnumerable<(int Rows, int InDim, int OutDim)> Shapes()
    {
        foreach (int rows in RowCounts)
        {
            foreach (int inDim in Dims)
            {
                foreach (int outDim in Dims)
                {
                    yield return (rows, inDim, outDim);
                }
            }
        }

        foreach (int rows in new[] { 256, 257 })
        {
            yield return (rows, 64, 32);
            yield return (rows, 32, 16);
            yield return (rows, 16, 8);
            yield return (rows, 16, 1);
        }

        // Weights past the 4096-float stack limit of the blocked forward (its heap path): the f=16 and f=64 towers.
        yield return (37, 128, 64);
        yield return (9, 512, 256);
    }

    public static TheoryData<string> ForwardVersions() => new(ForwardKernels.Keys);

    public static TheoryData<string> BackwardVersions() => new(BackwardKernels.Keys);

    private static readonly Dictionary<string, Forward> ForwardKernels = new()
    {
        ["v1 simd"] = DenseKernel.ForwardSimd,
        ["v2 blocked"] = DenseKernel.ForwardBlocked,
    };

    private static readonly Dictionary<string, Backward> BackwardKernels = new()
    {
        ["v1 simd"] = DenseKernel.BackwardSimd,
        ["v2 blocked"] = DenseKernel.BackwardBlocked,
    };

    [Theory]
    [MemberData(nameof(ForwardVersions))]
    public void Forward_EqualsReference(string version)
    {
        var kernel = ForwardKernels[version];
        foreach (var (rows, inDim, outDim) in Shapes())
        {
            ulong seed = (ulong)(rows * 10_000 + inDim * 100 + outDim);
            float[] x = TestData.Uniform(rows * inDim, seed, stream: 1);
            float[] w = TestData.Uniform(outDim * inDim, seed, stream: 2);
            float[] b = TestData.Uniform(outDim, seed, stream: 3);
            var expected = new float[rows * outDim];
            var actual = new Guarded(rows * outDim);
            DenseKernel.ForwardReference(x, w, b, expected, rows, inDim, outDim);
            kernel(x, w, b, actual.Span, rows, inDim, outDim);
            string name = $"{version} y[rows={rows}, in={inDim}, out={outDim}]";
            Tolerance.AssertClose(expected, actual.Span, Tolerance.SumRtol(inDim + 1), 1e-6 * Math.Sqrt(inDim + 1), name);
            actual.AssertCanaries(name);
        }
    }

    [Theory]
    [MemberData(nameof(BackwardVersions))]
    public void Backward_EqualsReference_DxOverwrites_DwDbAccumulate(string version)
    {
        var kernel = BackwardKernels[version];
        foreach (var (rows, inDim, outDim) in Shapes())
        {
            ulong seed = (ulong)(rows * 10_000 + inDim * 100 + outDim);
            float[] x = TestData.Uniform(rows * inDim, seed, stream: 1);
            float[] w = TestData.Uniform(outDim * inDim, seed, stream: 2);
            float[] dy = TestData.Uniform(rows * outDim, seed, stream: 4);
            float[] dW0 = TestData.Uniform(outDim * inDim, seed, stream: 5); // existing gradient: must be added to
            float[] db0 = TestData.Uniform(outDim, seed, stream: 6);

            // dx starts as garbage (the previous batch's values): it must be overwritten, not added to.
            var expectedDx = TestData.Uniform(rows * inDim, seed, low: 1e3f, high: 2e3f, stream: 7);
            float[] expectedDw = (float[])dW0.Clone(), expectedDb = (float[])db0.Clone();
            DenseKernel.BackwardReference(x, w, dy, expectedDx, expectedDw, expectedDb, rows, inDim, outDim);

            var dx = new Guarded(TestData.Uniform(rows * inDim, seed, low: 1e3f, high: 2e3f, stream: 7));
            var dW = new Guarded(dW0);
            var db = new Guarded(db0);
            kernel(x, w, dy, dx.Span, dW.Span, db.Span, rows, inDim, outDim);

            string shape = $"[rows={rows}, in={inDim}, out={outDim}]";
            Tolerance.AssertClose(expectedDx, dx.Span, Tolerance.SumRtol(outDim), 1e-6 * Math.Sqrt(outDim), $"{version} dx{shape}");
            Tolerance.AssertClose(expectedDw, dW.Span, Tolerance.SumRtol(rows + 1), 1e-6 * Math.Sqrt(rows + 1), $"{version} dW{shape}");
            Tolerance.AssertClose(expectedDb, db.Span, Tolerance.SumRtol(rows + 1), 1e-6 * Math.Sqrt(rows + 1), $"{version} db{shape}");
            dx.AssertCanaries($"{version} dx{shape}");
            dW.AssertCanaries($"{version} dW{shape}");
            db.AssertCanaries($"{version} db{shape}");

            // The first layer has no dx (its input is the embeddings' concatenation, or no gradient is wanted).
            var dWNoDx = new Guarded(dW0);
            var dbNoDx = new Guarded(db0);
            kernel(x, w, dy, default, dWNoDx.Span, dbNoDx.Span, rows, inDim, outDim);
            Tolerance.AssertClose(expectedDw, dWNoDx.Span, Tolerance.SumRtol(rows + 1), 1e-6 * Math.Sqrt(rows + 1), $"{version} dW(no dx){shape}");
            Tolerance.AssertClose(expectedDb, dbNoDx.Span, Tolerance.SumRtol(rows + 1), 1e-6 * Math.Sqrt(rows + 1), $"{version} db(no dx){shape}");
        }
    }

    [Theory]
    [InlineData(CpuKernelTier.Simd, 257, 64, 32)]
    [InlineData(CpuKernelTier.Simd, 257, 16, 1)]
    [InlineData(CpuKernelTier.Simd, 300, 128, 64)]
    [InlineData(CpuKernelTier.Reference, 257, 64, 32)]
    public void CpuBackend_Dense_EqualsReference(CpuKernelTier tier, int rows, int inDim, int outDim)
    {
        float[] x = TestData.Uniform(rows * inDim, 90, stream: 1);
        float[] w = TestData.Uniform(outDim * inDim, 90, stream: 2);
        float[] b = TestData.Uniform(outDim, 90, stream: 3);
        float[] dy = TestData.Uniform(rows * outDim, 90, stream: 4);
        var expectedY = new float[rows * outDim];
        var expectedDx = new float[rows * inDim];
        var expectedDw = new float[outDim * inDim];
        var expectedDb = new float[outDim];
        DenseKernel.ForwardReference(x, w, b, expectedY, rows, inDim, outDim);
        DenseKernel.BackwardReference(x, w, dy, expectedDx, expectedDw, expectedDb, rows, inDim, outDim);

        using var backend = new CpuBackend(tier);
        using var xb = Upload(backend, x);
        using var wb = Upload(backend, w);
        using var bb = Upload(backend, b);
        using var dyb = Upload(backend, dy);
        using var yb = backend.AllocateFloat(rows * outDim);
        using var dxb = backend.AllocateFloat(rows * inDim);
        using var dWb = backend.AllocateFloat(outDim * inDim);
        using var dbb = backend.AllocateFloat(outDim);
        backend.DenseForward(xb.All, wb.All, bb.All, yb.All, rows, inDim, outDim);
        backend.DenseBackward(xb.All, wb.All, dyb.All, dxb.All, dWb.All, dbb.All, rows, inDim, outDim);

        // Tolerances as in the sweeps (class comment).
        Tolerance.AssertClose(expectedY, yb.ToArray(), Tolerance.SumRtol(inDim + 1), 1e-6 * Math.Sqrt(inDim + 1), $"{backend.Name} y");
        Tolerance.AssertClose(expectedDx, dxb.ToArray(), Tolerance.SumRtol(outDim), 1e-6 * Math.Sqrt(outDim), $"{backend.Name} dx");
        Tolerance.AssertClose(expectedDw, dWb.ToArray(), Tolerance.SumRtol(rows), 1e-6 * Math.Sqrt(rows), $"{backend.Name} dW");
        Tolerance.AssertClose(expectedDb, dbb.ToArray(), Tolerance.SumRtol(rows), 1e-6 * Math.Sqrt(rows), $"{backend.Name} db");

        static DeviceBuffer<float> Upload(CpuBackend backend, float[] values)
        {
            var buffer = backend.AllocateFloat(values.Length);
            buffer.Write(0, values);
            return buffer;
        }
    }

    [Fact]
    public void Forward_ByHand()
    {
        // x = [[1, 2]], W = [[3, 4], [5, 6], [7, 8]], b = [0.5, -1, 2]: y = [1·3+2·4+0.5, 1·5+2·6-1, 1·7+2·8+2] = [11.5, 16, 25].
        float[] x = [1, 2], w = [3, 4, 5, 6, 7, 8], b = [0.5f, -1, 2];
        foreach (var (name, kernel) in ForwardKernels.Append(new("reference", DenseKernel.ForwardReference)))
        {
            var y = new float[3];
            kernel(x, w, b, y, 1, 2, 3);
            Assert.True(y.AsSpan().SequenceEqual([11.5f, 16f, 25f]), name);
        }
    }

    [Fact]
    public void Backward_ByHand()
    {
        // Same layer, dy = [[1, -1, 2]]: dx = dy·W = [3-5+14, 4-6+16] = [12, 14]; dW = dyᵀ·x = [[1, 2], [-1, -2], [2, 4]];
        // db = dy. dW and db start at 1, so 1 is added to each.
        float[] x = [1, 2], w = [3, 4, 5, 6, 7, 8], dy = [1, -1, 2];
        foreach (var (name, kernel) in BackwardKernels.Append(new("reference", DenseKernel.BackwardReference)))
        {
            float[] dx = [99, 99], dW = [1, 1, 1, 1, 1, 1], db = [1, 1, 1];
            kernel(x, w, dy, dx, dW, db, 1, 2, 3);
            Assert.True(dx.AsSpan().SequenceEqual([12f, 14f]), name + " dx");
            Assert.True(dW.AsSpan().SequenceEqual([2f, 3f, 0f, -1f, 3f, 5f]), name + " dW");
            Assert.True(db.AsSpan().SequenceEqual([2f, 0f, 3f]), name + " db");
        }
    }
}
