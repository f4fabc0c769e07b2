using Ncf.Backends;
using Ncf.Kernels;

namespace Ncf.Gpu.Tests;

/// <summary>
/// Every <see cref="IBackend"/> kernel of <see cref="IlgpuBackend"/> against the scalar references of
/// <see cref="Ncf.Kernels"/>, written once and run per accelerator through the thin subclasses in
/// <c>Accelerators.cs</c>. Sizes straddle warp and tile boundaries. Tolerances: element-wise kernels
/// 1e-6 relative + 1e-6 absolute (float vs the double reference); sums of up to 64-127 products (GEMM, bias
/// gradient, loss) 1e-5 relative + 1e-5 absolute.
/// </summary>
public abstract class IlgpuBackendTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : BackendFixture
{
    private const double ElementRelative = 1e-6, ElementAbsolute = 1e-6;
    private const double SumRelative = 1e-5, SumAbsolute = 1e-5;

    /// <summary>Lengths for element-wise kernels: around warp (32) and group sizes.</summary>
    protected static readonly int[] Sizes = [0, 1, 7, 31, 33, 127, 1027];

    protected IlgpuBackend Backend => fixture.Backend;

    /// <summary>The CPU accelerator simulates groups with threads and barriers: keep its shapes small.</summary>
    protected bool IsSimulator => fixture.Kind == GpuDeviceKind.IlgpuCpu;

    [DeviceFact]
    public void ReportsItsKind()
    {
        Assert.Equal(fixture.Kind, Backend.Kind);
        Assert.Equal(IlgpuBackend.KindName(fixture.Kind), Backend.Name);
        Assert.Contains(IlgpuBackend.ListDevices(), d => d.Kind == fixture.Kind);
    }

    [DeviceFact]
    public void MissingDeviceIsAnNcfException()
    {
        var error = Assert.Throws<NcfException>(() => IlgpuBackend.Create(fixture.Kind, 999));
        Assert.Contains("999", error.Message);
    }

    // Disposing the accelerator frees its buffers, and ILGPU ends the process (a failed Trace.Assert) when a view of a
    // freed buffer is made: every entry point must refuse first, with an exception the caller can catch.
    [DeviceFact]
    public void AfterDispose_EveryCallIsAnObjectDisposedException_NotAProcessAbort()
    {
        var backend = IlgpuBackend.Create(fixture.Kind);
        var buffer = backend.AllocateFloat(8);
        using var model = new Ncf.Models.NcfModel(backend, 3, 4, new Ncf.Models.ModelOptions { Factors = 4, Layers = 2 });
        model.Initialize(1);
        backend.Dispose();
        backend.Dispose(); // twice is harmless

        Assert.Throws<ObjectDisposedException>(() => buffer.Write(0, new float[8]));
        Assert.Throws<ObjectDisposedException>(() => buffer.ToArray());
        Assert.Throws<ObjectDisposedException>(() => backend.Fill(buffer.All, 1f));
        Assert.Throws<ObjectDisposedException>(() => backend.AllocateFloat(4));
        Assert.Throws<ObjectDisposedException>(backend.Synchronize);
        Assert.Throws<ObjectDisposedException>(() => model.Score([0], [0], new float[1]));
        buffer.Dispose(); // after the backend: harmless
    }

    [DeviceFact]
    public void BuffersStartZeroAndRoundTrip()
    {
        foreach (int n in Sizes)
        {
            using var buffer = Backend.AllocateFloat(n);
            Tolerance.AssertEqual($"zeroed[{n}]", new float[n], buffer.ToArray());
            float[] data = Random(n, 1);
            buffer.Write(0, data);
            Tolerance.AssertEqual($"roundtrip[{n}]", data, buffer.ToArray());
            if (n > 2)
            {
                Tolerance.AssertEqual($"slice[{n}]", data.AsSpan(1, n - 2), buffer.Slice(1, n - 2).ToArray());
            }
        }
    }

    [DeviceFact]
    public void Fill()
    {
        foreach (int n in Sizes)
        {
            using var buffer = Upload(Random(n + 2, 2));
            float[] expected = buffer.ToArray();
            expected.AsSpan(1, n).Fill(3.5f);
            Backend.Fill(buffer.Slice(1, n), 3.5f);
            Tolerance.AssertEqual($"fill[{n}]", expected, buffer.ToArray());
        }
    }

    [DeviceFact]
    public void ZeroRows()
    {
        const int dim = 7, rows = 13;
        float[] matrix = Random(rows * dim, 3);
        int[] ids = [3, 0, 12, 3, 5];
        using var m = Upload(matrix);
        using var r = Upload(ids);
        Backend.ZeroRows(m.All, dim, r.All);
        foreach (int id in ids)
        {
            matrix.AsSpan(id * dim, dim).Clear();
        }

        Tolerance.AssertEqual("matrix", matrix, m.ToArray());
    }

    [DeviceFact]
    public void Gather()
    {
        const int tableRows = 37;
        foreach (int dim in new[] { 1, 7, 33 })
        {
            foreach (int count in Sizes)
            {
                float[] table = Random(tableRows * dim, 4);
                int[] ids = RandomIds(count, tableRows, 5);
                float[] expected = new float[count * dim];
                GatherKernel.Reference(table, dim, ids, expected);
                using var t = Upload(table);
                using var i = Upload(ids);
                using var o = Backend.AllocateFloat(count * dim);
                Backend.Gather(t.All, dim, i.All, o.All);
                Tolerance.AssertEqual($"gather[count {count}, dim {dim}]", expected, o.ToArray());
            }
        }
    }

    [DeviceFact]
    public void ScatterAddAtomic() => CheckScatterAdd(ScatterAddMethod.Atomic);

    [DeviceFact]
    public void ScatterAddSortedMatchesTheReferenceExactly() => CheckScatterAdd(ScatterAddMethod.Sorted);

    private void CheckScatterAdd(ScatterAddMethod method)
    {
        // Few table rows: many repeated ids (the contention case). 1300 ids need the global bitonic passes.
        int[] counts = IsSimulator ? [0, 1, 7, 33, 127, 600] : [0, 1, 7, 33, 127, 1300, 5000];
        foreach (int tableRows in new[] { 3, 50 })
        {
            foreach (int dim in new[] { 1, 8, 33 })
            {
                foreach (int count in counts)
                {
                    float[] gradients = Random(count * dim, 6);
                    int[] ids = RandomIds(count, tableRows, 7);
                    float[] expected = Random(tableRows * dim, 8); // accumulates onto existing values
                    using var table = Upload(expected);
                    ScatterAddKernel.Reference(gradients, ids, dim, expected);
                    using var g = Upload(gradients);
                    using var i = Upload(ids);
                    Backend.ScatterAdd(g.All, i.All, dim, table.All, method);
                    string name = $"scatter-add {method} [rows {tableRows}, dim {dim}, count {count}]";
                    if (method == ScatterAddMethod.Sorted)
                    {
                        Tolerance.AssertEqual(name, expected, table.ToArray());
                    }
                    else
                    {
                        Tolerance.AssertClose(name, expected, table.ToArray(), SumRelative, SumAbsolute * Math.Sqrt(count));
                    }
                }
            }
        }
    }

    [DeviceFact]
    public void ScatterAddIsAppliedToTheRightTableOnly()
    {
        // The default method, through the IBackend entry point, into a slice of a larger buffer.
        const int dim = 4, rows = 5;
        float[] gradients = Random(6 * dim, 9);
        int[] ids = [4, 0, 4, 2, 4, 0];
        float[] whole = Random(rows * dim + 10, 10);
        using var buffer = Upload(whole);
        using var g = Upload(gradients);
        using var i = Upload(ids);
        ScatterAddKernel.Reference(gradients, ids, dim, whole.AsSpan(5, rows * dim));
        Backend.ScatterAdd(g.All, i.All, dim, buffer.Slice(5, rows * dim));
        Tolerance.AssertClose("table slice", whole, buffer.ToArray(), ElementRelative, ElementAbsolute);
    }

    public static IEnumerable<(int Rows, int In, int Out)> DenseShapes(bool simulator) => simulator
        // The simulator runs each 256-thread block as threads meeting at barriers: the blocked kernel's shapes
        // (≥ 64 blocks) take minutes there, so it is checked on real devices, PoCL's OpenCL in CI included.
        ? [(0, 8, 8), (1, 1, 1), (7, 31, 33), (33, 17, 7), (64, 64, 64), (130, 17, 7)]
        : [(0, 8, 8), (1, 1, 1), (7, 31, 33), (33, 17, 7), (127, 64, 32), (130, 17, 7), (256, 64, 32), (1027, 33, 16),
            // the register-blocked kernel (DenseKernels.UsesBlockedKernel): forward; dx; forward, dx and a split dW
            (3000, 70, 130), (3000, 130, 70), (8192, 128, 128)];

    [DeviceFact]
    public void DenseForward()
    {
        foreach (var (rows, inDim, outDim) in DenseShapes(IsSimulator))
        {
            float[] x = Random(rows * inDim, 11), w = Random(outDim * inDim, 12), b = Random(outDim, 13);
            float[] expected = new float[rows * outDim];
            DenseKernel.ForwardReference(x, w, b, expected, rows, inDim, outDim);
            using var xb = Upload(x);
            using var wb = Upload(w);
            using var bb = Upload(b);
            using var y = Backend.AllocateFloat(rows * outDim);
            Backend.DenseForward(xb.All, wb.All, bb.All, y.All, rows, inDim, outDim);
            Tolerance.AssertClose($"y [{rows}, {inDim} -> {outDim}]", expected, y.ToArray(), SumRelative, SumAbsolute);
        }
    }

    [DeviceFact]
    public void DenseBackward()
    {
        foreach (var (rows, inDim, outDim) in DenseShapes(IsSimulator))
        {
            foreach (bool withDx in new[] { true, false })
            {
                float[] x = Random(rows * inDim, 14), w = Random(outDim * inDim, 15), dy = Random(rows * outDim, 16);
                float[] dx = withDx ? new float[rows * inDim] : [];
                float[] dW = Random(outDim * inDim, 17), dB = Random(outDim, 18); // parameter gradients accumulate
                using var xb = Upload(x);
                using var wb = Upload(w);
                using var dyb = Upload(dy);
                using var dxb = Backend.AllocateFloat(dx.Length);
                using var dWb = Upload(dW);
                using var dBb = Upload(dB);
                DenseKernel.BackwardReference(x, w, dy, dx, dW, dB, rows, inDim, outDim);
                Backend.DenseBackward(xb.All, wb.All, dyb.All, withDx ? dxb.All : default, dWb.All, dBb.All, rows, inDim, outDim);
                string shape = $"[{rows}, {inDim} -> {outDim}]";
                if (withDx)
                {
                    Tolerance.AssertClose($"dx {shape}", dx, dxb.ToArray(), SumRelative, SumAbsolute);
                }

                Tolerance.AssertClose($"dW {shape}", dW, dWb.ToArray(), SumRelative, SumAbsolute * Math.Max(1, rows / 64.0));
                Tolerance.AssertClose($"dBias {shape}", dB, dBb.ToArray(), SumRelative, SumAbsolute * Math.Max(1, rows / 64.0));
            }
        }
    }

    [DeviceFact]
    public void Relu()
    {
        foreach (int n in Sizes)
        {
            float[] x = Random(n, 19), dy = Random(n, 20);
            float[] y = new float[n], dx = new float[n];
            ReluKernel.ForwardReference(x, y);
            ReluKernel.BackwardReference(y, dy, dx);
            using var xb = Upload(x);
            using var dyb = Upload(dy);
            using var dxb = Backend.AllocateFloat(n);
            Backend.ReluForward(xb.All, xb.All); // in place
            Tolerance.AssertEqual($"relu y[{n}]", y, xb.ToArray());
            Backend.ReluBackward(xb.All, dyb.All, dxb.All);
            Tolerance.AssertEqual($"relu dx[{n}]", dx, dxb.ToArray());
        }
    }

    [DeviceFact]
    public void Sigmoid()
    {
        foreach (int n in Sizes)
        {
            float[] x = Random(n, 21, scale: 12), dy = Random(n, 22);
            if (n > 3)
            {
                x[0] = 100;
                x[1] = -100;
                x[2] = 0;
            }

            float[] y = new float[n], dx = new float[n];
            SigmoidKernel.ForwardReference(x, y);
            SigmoidKernel.BackwardReference(y, dy, dx);
            using var xb = Upload(x);
            using var yb = Backend.AllocateFloat(n);
            using var dyb = Upload(dy);
            using var dxb = Backend.AllocateFloat(n);
            Backend.Sigmoid(xb.All, yb.All);
            Tolerance.AssertClose($"sigmoid y[{n}]", y, yb.ToArray(), 1e-6, 1e-7);
            Backend.SigmoidBackward(yb.All, dyb.All, dxb.All);
            Tolerance.AssertClose($"sigmoid dx[{n}]", dx, dxb.ToArray(), 1e-5, 1e-7);
        }
    }

    [DeviceFact]
    public void Multiply()
    {
        foreach (int n in Sizes)
        {
            float[] a = Random(n, 23), b = Random(n, 24), dy = Random(n, 25);
            float[] y = new float[n], da = new float[n], db = new float[n];
            MultiplyKernel.ForwardReference(a, b, y);
            MultiplyKernel.BackwardReference(a, b, dy, da, db);
            using var ab = Upload(a);
            using var bb = Upload(b);
            using var dyb = Upload(dy);
            using var yb = Backend.AllocateFloat(n);
            using var dab = Backend.AllocateFloat(n);
            using var dbb = Backend.AllocateFloat(n);
            Backend.Multiply(ab.All, bb.All, yb.All);
            Backend.MultiplyBackward(ab.All, bb.All, dyb.All, dab.All, dbb.All);
            Tolerance.AssertEqual($"multiply y[{n}]", y, yb.ToArray());
            Tolerance.AssertEqual($"multiply da[{n}]", da, dab.ToArray());
            Tolerance.AssertEqual($"multiply db[{n}]", db, dbb.ToArray());
        }
    }

    [DeviceFact]
    public void CopyColumns()
    {
        foreach (int rows in new[] { 0, 1, 7, 33 })
        {
            // Concatenate a [rows, 5] block into columns 3..7 of a [rows, 12] matrix, then split it back out.
            float[] block = Random(rows * 5, 26);
            float[] wide = Random(rows * 12, 27);
            using var blockBuffer = Upload(block);
            using var wideBuffer = Upload(wide);
            CopyColumnsKernel.Reference(block, 5, wide.AsSpan(Math.Min(3, wide.Length)), 12, rows, 5);
            Backend.CopyColumns(blockBuffer.All, 5, wideBuffer.Slice(Math.Min(3, wide.Length), Math.Max(0, wide.Length - 3)), 12, rows, 5);
            Tolerance.AssertEqual($"concat [{rows}]", wide, wideBuffer.ToArray());
            using var back = Backend.AllocateFloat(rows * 5);
            Backend.CopyColumns(wideBuffer.Slice(Math.Min(3, wide.Length), Math.Max(0, wide.Length - 3)), 12, back.All, 5, rows, 5);
            Tolerance.AssertEqual($"split [{rows}]", block, back.ToArray());
        }
    }

    [DeviceFact]
    public void BinaryCrossEntropy()
    {
        foreach (int n in Sizes)
        {
            float[] p = Random(n, 28).Select(v => (v + 1) / 2).ToArray();
            float[] t = Targets(n, 29);
            if (n > 3)
            {
                // Clamped below; near 1 the float clamp 1 - 1e-7 rounds to 1 - 1.19e-7 (the reference clamps in double).
                p[0] = 0;
                p[1] = 0.999f;
                p[2] = 1e-9f;
            }

            CheckLoss($"bce[{n}]", p, t, 0.25f, BinaryCrossEntropyKernel.Reference, Backend.BinaryCrossEntropy, gradientRelative: 1e-4);
        }
    }

    [DeviceFact]
    public void SigmoidBinaryCrossEntropy()
    {
        foreach (int n in Sizes)
        {
            float[] z = Random(n, 30, scale: 8);
            float[] t = Targets(n, 31);
            if (n > 3)
            {
                z[0] = 100;
                z[1] = -100;
                z[2] = 0;
            }

            CheckLoss($"sigmoid-bce[{n}]", z, t, 0.5f, SigmoidBinaryCrossEntropyKernel.Reference, Backend.SigmoidBinaryCrossEntropy,
                gradientRelative: 1e-5);
        }
    }

    private delegate double ReferenceLoss(ReadOnlySpan<float> x, ReadOnlySpan<float> t, Span<float> dx, float scale);

    private delegate void DeviceLoss(View<float> x, View<float> t, View<float> dx, float scale, View<float> accumulator);

    private void CheckLoss(string name, float[] x, float[] t, float scale, ReferenceLoss reference, DeviceLoss device, double gradientRelative)
    {
        int n = x.Length;
        float[] dx = new float[n];
        double loss = reference(x, t, dx, scale);
        using var xb = Upload(x);
        using var tb = Upload(t);
        using var dxb = Backend.AllocateFloat(n);
        using var accumulator = Upload(new[] { 1.5f, 0f });
        // Two calls: the accumulator carries its running Kahan sum across batches, on the device.
        device(xb.All, tb.All, dxb.All, scale, accumulator.All);
        device(xb.All, tb.All, dxb.All, scale, accumulator.All);
        Tolerance.AssertClose($"{name} gradient", dx, dxb.ToArray(), gradientRelative, 1e-6);
        float[] sum = accumulator.ToArray();
        Tolerance.AssertClose($"{name} loss sum", [(float)(1.5 + 2 * loss)], [sum[0] - sum[1]], SumRelative, SumAbsolute);
    }

    [DeviceFact]
    public void AdamStep()
    {
        foreach (int n in Sizes)
        {
            var settings = new AdamSettings(0.01f, 0.9f, 0.999f, 1e-8f, 0.001f, 3);
            float[] p = Random(n, 32), g = Random(n, 33), m = Random(n, 34, scale: 0.1f), v = Random(n, 35).Select(Math.Abs).ToArray();
            var (pb, gb, mb, vb) = (Upload(p), Upload(g), Upload(m), Upload(v));
            using (pb)
            using (gb)
            using (mb)
            using (vb)
            {
                AdamKernel.Reference(p, g, m, v, settings);
                Backend.AdamStep(pb.All, gb.All, mb.All, vb.All, settings);
                Tolerance.AssertClose($"adam p[{n}]", p, pb.ToArray(), 1e-5, 1e-6);
                Tolerance.AssertClose($"adam m[{n}]", m, mb.ToArray(), 1e-5, 1e-7);
                Tolerance.AssertClose($"adam v[{n}]", v, vb.ToArray(), 1e-5, 1e-7);
            }
        }
    }

    [DeviceFact]
    public void AdamRowsStep()
    {
        const int dim = 9, rows = 20;
        var settings = new AdamSettings(0.001f, 0.9f, 0.999f, 1e-8f, 0, 1);
        float[] p = Random(rows * dim, 36), g = Random(rows * dim, 37), m = Random(rows * dim, 38), v = Random(rows * dim, 39).Select(Math.Abs).ToArray();
        int[] ids = [19, 0, 7, 3];
        var (pb, gb, mb, vb, ib) = (Upload(p), Upload(g), Upload(m), Upload(v), Upload(ids));
        using (pb)
        using (gb)
        using (mb)
        using (vb)
        using (ib)
        {
            AdamKernel.RowsReference(p, g, m, v, dim, ids, settings);
            Backend.AdamRowsStep(pb.All, gb.All, mb.All, vb.All, dim, ib.All, settings);
            Tolerance.AssertClose("adam-rows p", p, pb.ToArray(), 1e-5, 1e-6);
            Tolerance.AssertClose("adam-rows m", m, mb.ToArray(), 1e-5, 1e-7);
            Tolerance.AssertClose("adam-rows v", v, vb.ToArray(), 1e-5, 1e-7);
        }
    }

    [DeviceFact]
    public void SgdStep()
    {
        foreach (int n in Sizes)
        {
            float[] p = Random(n, 40), g = Random(n, 41);
            using var pb = Upload(p);
            using var gb = Upload(g);
            SgdKernel.Reference(p, g, 0.05f, 0.01f);
            Backend.SgdStep(pb.All, gb.All, 0.05f, 0.01f);
            Tolerance.AssertClose($"sgd p[{n}]", p, pb.ToArray(), ElementRelative, ElementAbsolute);
        }
    }

    [DeviceFact]
    public void TopKAndTargetRanks()
    {
        const int rows = 33, columns = 100, k = 10;
        float[] scores = Random(rows * columns, 42);
        scores[5] = scores[7]; // a tie in row 0
        scores[columns + 3] = float.NaN;
        int[] targets = Enumerable.Range(0, rows).Select(r => (r * 7) % columns).ToArray();
        targets[0] = 5; // the tied pair: the other column counts against the target
        scores[2 * columns + targets[2]] = float.NaN; // a NaN target ranks last (Evaluator.Rank's rule)
        using var s = Upload(scores);
        using var t = Upload(targets);
        using var topColumns = Backend.AllocateInt(rows * k);
        using var topScores = Backend.AllocateFloat(rows * k);
        using var ranks = Backend.AllocateInt(rows);
        Backend.TopK(s.All, rows, columns, k, topColumns.All, topScores.All);
        Backend.TargetRanks(s.All, rows, columns, t.All, ranks.All);

        var expectedColumns = new int[rows * k];
        var expectedRanks = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = scores.AsSpan(r * columns, columns).ToArray();
            var order = Enumerable.Range(0, columns).Where(c => !float.IsNaN(row[c])).OrderByDescending(c => row[c]).ThenBy(c => c).Take(k).ToArray();
            order.CopyTo(expectedColumns, r * k);
            int target = targets[r];
            expectedRanks[r] = float.IsNaN(row[target]) ? columns - 1 : Enumerable.Range(0, columns).Count(c => c != target && row[c] >= row[target]);
        }

        Tolerance.AssertEqual("top-k columns", expectedColumns, topColumns.ToArray());
        Tolerance.AssertEqual("target ranks", expectedRanks, ranks.ToArray());
    }

    private DeviceBuffer<float> Upload(float[] data)
    {
        var buffer = Backend.AllocateFloat(data.Length);
        buffer.Write(0, data);
        return buffer;
    }

    private DeviceBuffer<int> Upload(int[] data)
    {
        var buffer = Backend.AllocateInt(data.Length);
        buffer.Write(0, data);
        return buffer;
    }

    private static float[] Random(int n, int seed, float scale = 1)
    {
        var random = new Random(seed * 7919 + n);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    private static int[] RandomIds(int n, int rows, int seed)
    {
        var random = new Random(seed * 7919 + n);
        return Enumerable.Range(0, n).Select(_ => random.Next(rows)).ToArray();
    }

    private static float[] Targets(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => random.Next(2) == 0 ? 0f : 1f).ToArray();
    }
}
