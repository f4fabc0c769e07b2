using Ncf.Backends;
using Ncf.Gpu;
using Ncf.Kernels;

/// <summary>
/// `--check`: each kernel once on the device at training-like shapes, compared with the scalar reference of
/// Ncf.Kernels (llm.c's dev/cuda checker idea). For machines where `dotnet test` cannot run (no SDK or NuGet
/// access, as on a lent GPU machine); the full suite is tests/Ncf.Gpu.Tests.
/// </summary>
internal sealed class KernelCheck(IlgpuBackend backend)
{
    private int _failures;

    /// <summary>Runs every check, prints one line each, returns the number of failures.</summary>
    public int Run()
    {
        var random = new Random(5);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        int[] Ids(int n, int rows) => Enumerable.Range(0, n).Select(_ => random.Next(rows)).ToArray();

        foreach (var (rows, inDim, outDim) in new[] { (1027, 64, 32), (256, 33, 17) })
        {
            float[] x = Rand(rows * inDim), w = Rand(outDim * inDim), b = Rand(outDim), dy = Rand(rows * outDim);
            float[] y = new float[rows * outDim], dx = new float[rows * inDim], dW = Rand(outDim * inDim), dB = Rand(outDim);
            using var xb = Upload(x);
            using var wb = Upload(w);
            using var bb = Upload(b);
            using var yb = backend.AllocateFloat(y.Length);
            using var dyb = Upload(dy);
            using var dxb = backend.AllocateFloat(dx.Length);
            using var dWb = Upload(dW);
            using var dBb = Upload(dB);
            DenseKernel.ForwardReference(x, w, b, y, rows, inDim, outDim);
            DenseKernel.BackwardReference(x, w, dy, dx, dW, dB, rows, inDim, outDim);
            backend.DenseForward(xb.All, wb.All, bb.All, yb.All, rows, inDim, outDim);
            backend.DenseBackward(xb.All, wb.All, dyb.All, dxb.All, dWb.All, dBb.All, rows, inDim, outDim);
            string shape = $"[{rows}, {inDim} -> {outDim}]";
            Compare($"dense y {shape}", y, yb.ToArray(), 1e-5, 1e-5);
            Compare($"dense dx {shape}", dx, dxb.ToArray(), 1e-5, 1e-5);
            Compare($"dense dW {shape}", dW, dWb.ToArray(), 1e-5, 1e-4);
            Compare($"dense dBias {shape}", dB, dBb.ToArray(), 1e-5, 1e-4);
        }

        foreach (var method in new[] { ScatterAddMethod.Atomic, ScatterAddMethod.Sorted })
        {
            foreach (var (count, rows) in new[] { (5000, 16), (65536, 3706) })
            {
                const int dim = 32;
                float[] g = Rand(count * dim), table = Rand(rows * dim);
                int[] ids = Ids(count, rows);
                using var gb = Upload(g);
                using var ib = Upload(ids);
                using var tb = Upload(table);
                ScatterAddKernel.Reference(g, ids, dim, table);
                backend.ScatterAdd(gb.All, ib.All, dim, tb.All, method);
                Compare($"scatter-add {method} {count}x{dim} into {rows} rows", table, tb.ToArray(),
                    method == ScatterAddMethod.Sorted ? 0 : 1e-5, method == ScatterAddMethod.Sorted ? 0 : 1e-3);
            }
        }

        {
            const int count = 4096, dim = 16, rows = 6040;
            float[] table = Rand(rows * dim), output = new float[count * dim];
            int[] ids = Ids(count, rows);
            using var tb = Upload(table);
            using var ib = Upload(ids);
            using var ob = backend.AllocateFloat(output.Length);
            GatherKernel.Reference(table, dim, ids, output);
            backend.Gather(tb.All, dim, ib.All, ob.All);
            Compare("gather 4096x16", output, ob.ToArray(), 0, 0);
        }

        {
            const int n = 65536;
            float[] z = Rand(n).Select(v => v * 10).ToArray(), t = Rand(n).Select(v => v > 0 ? 1f : 0f).ToArray(), dz = new float[n];
            double loss = SigmoidBinaryCrossEntropyKernel.Reference(z, t, dz, 1f / n);
            using var zb = Upload(z);
            using var tb = Upload(t);
            using var dzb = backend.AllocateFloat(n);
            using var accumulator = backend.AllocateFloat(2);
            backend.SigmoidBinaryCrossEntropy(zb.All, tb.All, dzb.All, 1f / n, accumulator.All);
            Compare("sigmoid-bce dz 65536", dz, dzb.ToArray(), 1e-5, 1e-9);
            float[] sum = accumulator.ToArray();
            Compare("sigmoid-bce loss sum", [(float)loss], [sum[0] - sum[1]], 1e-5, 1e-3);
        }

        {
            const int n = 100_003;
            var settings = new AdamSettings(0.001f, 0.9f, 0.999f, 1e-8f, 0, 7);
            float[] p = Rand(n), g = Rand(n), m = Rand(n).Select(v => v * 0.1f).ToArray(), v = Rand(n).Select(MathF.Abs).ToArray();
            using var pb = Upload(p);
            using var gb = Upload(g);
            using var mb = Upload(m);
            using var vb = Upload(v);
            AdamKernel.Reference(p, g, m, v, settings);
            backend.AdamStep(pb.All, gb.All, mb.All, vb.All, settings);
            Compare("adam p 100003", p, pb.ToArray(), 1e-5, 1e-6);
        }

        return _failures;
    }

    private void Compare(string name, float[] expected, float[] actual, double relative, double absolute)
    {
        int worst = 0;
        double worstExcess = double.NegativeInfinity, worstDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            double excess = double.IsNaN(diff) ? double.PositiveInfinity : diff - (absolute + relative * Math.Abs(expected[i]));
            if (excess > worstExcess)
            {
                (worst, worstExcess, worstDiff) = (i, excess, diff);
            }
        }

        bool ok = expected.Length == 0 || worstExcess <= 0;
        if (!ok)
        {
            _failures++;
        }

        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {name}: max |diff| {worstDiff:G3} at [{worst}]" +
            (ok ? "" : $" (actual {actual[worst]:R}, expected {expected[worst]:R})"));
    }

    private DeviceBuffer<float> Upload(float[] data)
    {
        var buffer = backend.AllocateFloat(data.Length);
        buffer.Write(0, data);
        return buffer;
    }

    private DeviceBuffer<int> Upload(int[] data)
    {
        var buffer = backend.AllocateInt(data.Length);
        buffer.Write(0, data);
        return buffer;
    }
}
