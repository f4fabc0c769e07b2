using Ncf.Core.Tests.TestSupport;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// SIMD element-wise kernels against their scalar references for every length 0..67 (all remainders of the
/// 8-wide vector, several full vectors) and 127, 1027, 6·512+7. Outputs live in <see cref="Guarded"/> buffers at an
/// unaligned offset so overruns of the unchecked SIMD loops are caught.
/// </summary>
public class ElementwiseKernelTests
{
    /// <summary>Inputs in [-8, 8] with planted zeros, tiny values and |x| up to 100 (sigmoid saturation, exp overflow).</summary>
    private static float[] Inputs(int n, ulong seed)
    {
        float[] x = TestData.Uniform(n, seed, -8, 8);
        float[] planted = [0f, -0f, 1e-30f, -1e-30f, 100f, -100f, 88.7f, -88.7f, 89f, -89f, 20f, -20f, 1f, -1f];
        for (int i = 0; i < n; i++)
        {
            if (i % 5 == 3)
            {
                x[i] = planted[(i / 5) % planted.Length];
            }
        }

        return x;
    }

    // ReLU and its gradient are selections: no arithmetic, so SIMD must equal the reference bit for bit.
    [Fact]
    public void Relu_ForwardAndBackward_EqualReference_Exactly()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] x = Inputs(n, 10);
            float[] dy = TestData.Uniform(n, 11);
            var expectedY = new float[n];
            var y = new Guarded(n);
            ReluKernel.ForwardReference(x, expectedY);
            ReluKernel.ForwardSimd(x, y.Span);
            Tolerance.AssertClose(expectedY, y.Span, 0, 0, $"relu y[n={n}]");
            y.AssertCanaries($"relu y[n={n}]");

            var expectedDx = new float[n];
            var dx = new Guarded(n);
            ReluKernel.BackwardReference(expectedY, dy, expectedDx);
            ReluKernel.BackwardSimd(y.Span, dy, dx.Span);
            Tolerance.AssertClose(expectedDx, dx.Span, 0, 0, $"relu dx[n={n}]");
            dx.AssertCanaries($"relu dx[n={n}]");
        }
    }

    [Fact]
    public void Relu_InPlace_EqualsOutOfPlace()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] x = Inputs(n, 12);
            float[] dy = TestData.Uniform(n, 13);
            var expectedY = new float[n];
            ReluKernel.ForwardReference(x, expectedY);
            var inPlace = new Guarded(x);
            ReluKernel.ForwardSimd(inPlace.Span, inPlace.Span);
            Tolerance.AssertClose(expectedY, inPlace.Span, 0, 0, $"relu in-place y[n={n}]");
            inPlace.AssertCanaries($"relu in-place y[n={n}]");

            // Backward in place over dy (dx aliases dy), as a layer reusing its gradient buffer does.
            var expectedDx = new float[n];
            ReluKernel.BackwardReference(expectedY, dy, expectedDx);
            var grad = new Guarded(dy);
            ReluKernel.BackwardSimd(expectedY, grad.Span, grad.Span);
            Tolerance.AssertClose(expectedDx, grad.Span, 0, 0, $"relu in-place dx[n={n}]");
        }
    }

    [Fact]
    public void Sigmoid_ForwardAndBackward_EqualReference()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] x = Inputs(n, 20);
            float[] dy = TestData.Uniform(n, 21);

            // Forward: the reference is double rounded once; the SIMD one is float exp (a few ulps) plus an add and a
            // divide, so rtol 1e-6 (~8 ulps). atol 1e-37 only matters below float's normal range (x < -87), where
            // exp(-x) overflows to +inf and the SIMD result flushes to 0 instead of a denormal.
            var expectedY = new float[n];
            var y = new Guarded(n);
            SigmoidKernel.ForwardReference(x, expectedY);
            SigmoidKernel.ForwardSimd(x, y.Span);
            Tolerance.AssertClose(expectedY, y.Span, 1e-6, 1e-37, $"sigmoid y[n={n}]");
            y.AssertCanaries($"sigmoid y[n={n}]");
            Assert.All(y.ToArray(), v => Assert.InRange(v, 0f, 1f));

            // Backward: three float roundings (dy·y, ·(1-y); 1-y is exact for y ≥ 0.5) against double: rtol 1e-6.
            var expectedDx = new float[n];
            var dx = new Guarded(n);
            SigmoidKernel.BackwardReference(expectedY, dy, expectedDx);
            SigmoidKernel.BackwardSimd(expectedY, dy, dx.Span);
            Tolerance.AssertClose(expectedDx, dx.Span, 1e-6, 1e-37, $"sigmoid dx[n={n}]");
            dx.AssertCanaries($"sigmoid dx[n={n}]");
        }
    }

    [Fact]
    public void Sigmoid_InPlace_EqualsOutOfPlace()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] x = Inputs(n, 22);
            var expected = new float[n];
            SigmoidKernel.ForwardSimd(x, expected);
            var inPlace = new Guarded(x);
            SigmoidKernel.ForwardSimd(inPlace.Span, inPlace.Span);
            Tolerance.AssertClose(expected, inPlace.Span, 0, 0, $"sigmoid in-place y[n={n}]");
        }
    }

    // Products are one float rounding in both versions: exact equality.
    [Fact]
    public void Multiply_ForwardAndBackward_EqualReference_Exactly()
    {
        foreach (int n in TestData.Lengths())
        {
            float[] a = TestData.Uniform(n, 30, -3, 3);
            float[] b = TestData.Uniform(n, 31, -3, 3);
            float[] dy = TestData.Uniform(n, 32);

            var expectedY = new float[n];
            var y = new Guarded(n);
            MultiplyKernel.ForwardReference(a, b, expectedY);
            MultiplyKernel.ForwardSimd(a, b, y.Span);
            Tolerance.AssertClose(expectedY, y.Span, 0, 0, $"multiply y[n={n}]");
            y.AssertCanaries($"multiply y[n={n}]");

            var expectedDa = new float[n];
            var expectedDb = new float[n];
            var da = new Guarded(n);
            var db = new Guarded(n);
            MultiplyKernel.BackwardReference(a, b, dy, expectedDa, expectedDb);
            MultiplyKernel.BackwardSimd(a, b, dy, da.Span, db.Span);
            Tolerance.AssertClose(expectedDa, da.Span, 0, 0, $"multiply da[n={n}]");
            Tolerance.AssertClose(expectedDb, db.Span, 0, 0, $"multiply db[n={n}]");
            da.AssertCanaries($"multiply da[n={n}]");
            db.AssertCanaries($"multiply db[n={n}]");
        }
    }

    [Fact]
    public void CopyColumns_ConcatThenSplit_IsIdentity_AndEqualsReference()
    {
        int[] rowCounts = [0, 1, 2, 7, 33];
        int[] widths = [1, 3, 7, 8, 9, 16, 17, 31, 33, 64, 67];
        foreach (int rows in rowCounts)
        {
            foreach (int left in widths)
            {
                foreach (int right in new[] { 1, 8, 13 })
                {
                    // Concatenate a [rows, left] and a [rows, right] block into [rows, left + right], then split back.
                    int stride = left + right;
                    float[] a = TestData.Uniform(rows * left, 40);
                    float[] b = TestData.Uniform(rows * right, 41);
                    var expected = new float[rows * stride];
                    var concat = new Guarded(rows * stride);
                    CopyColumnsKernel.Reference(a, left, expected, stride, rows, left);
                    CopyColumnsKernel.Reference(b, right, Tail(expected, left), stride, rows, right);
                    CopyColumnsKernel.Simd(a, left, concat.Span, stride, rows, left);
                    CopyColumnsKernel.Simd(b, right, Tail(concat.Span, left), stride, rows, right);
                    string name = $"concat[rows={rows}, {left}+{right}]";
                    Tolerance.AssertClose(expected, concat.Span, 0, 0, name);
                    concat.AssertCanaries(name);

                    var splitA = new Guarded(rows * left);
                    var splitB = new Guarded(rows * right);
                    CopyColumnsKernel.Simd(concat.Span, stride, splitA.Span, left, rows, left);
                    CopyColumnsKernel.Simd(Tail(concat.Span, left), stride, splitB.Span, right, rows, right);
                    Tolerance.AssertClose(a, splitA.Span, 0, 0, "split a " + name);
                    Tolerance.AssertClose(b, splitB.Span, 0, 0, "split b " + name);
                    splitA.AssertCanaries("split a " + name);
                    splitB.AssertCanaries("split b " + name);
                }
            }
        }

        // A zero-row block is an empty span, which cannot be sliced at the column offset.
        static Span<float> Tail(Span<float> span, int offset) => offset <= span.Length ? span[offset..] : default;
    }
}
