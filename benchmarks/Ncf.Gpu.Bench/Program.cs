using System.Diagnostics;
using System.Globalization;
using Ncf;
using Ncf.Backends;
using Ncf.Gpu;

// Kernel throughput of the ILGPU backend on one device. Usage:
//   ncf-gpu-bench [--device auto|cuda|opencl|ilgpu-cpu] [--quick] [--seconds S] [--check] [--train [--tiny] [--train-seconds S]]
// --only FAMILY times one kernel family.
// --check compares each kernel once with the scalar reference instead of timing (exit code 1 on a mismatch).
// --quick shrinks every shape (for ILGPU's CPU accelerator, a slow simulator). Each case runs warm-up calls, then
// repeats until about --seconds have passed (default 0.5), synchronising before the clock stops.
// --train times whole models instead (TrainBench.cs): training and scoring samples/s of NeuMF-8 on ML-1M and of the
// MLPerf-shape model on ML-20M-size synthetic data; --train-seconds S per measurement (default 5); --tiny (or
// NCF_BENCH_TINY=1) shrinks data and batches so that OpenCL on a CPU (PoCL) finishes in about a minute.

var options = BenchOptions.Parse(args);
try
{
    Console.WriteLine("devices: " + string.Join("; ", IlgpuBackend.ListDevices()));
    using var backend = IlgpuBackend.Create(options.Kind);
    Console.WriteLine($"running on {backend.Name}: {backend.DeviceName}");
    if (options.Check)
    {
        int failures = new KernelCheck(backend).Run();
        Console.WriteLine(failures == 0 ? $"check {backend.Name}: all kernels match the reference" : $"check {backend.Name}: {failures} FAILED");
        return failures == 0 ? 0 : 1;
    }

    if (options.Train)
    {
        var training = new TrainBench(backend, options);
        try
        {
            training.RunAll();
        }
        finally
        {
            training.Print();
        }

        return 0;
    }

    var bench = new KernelBench(backend, options);
    bench.RunAll();
    bench.Print();
    return 0;
}
catch (NcfException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}

internal sealed record BenchOptions(GpuDeviceKind Kind, bool Quick, double Seconds, bool Check, string? Only)
{
    /// <summary>Whole-model training and scoring throughput instead of kernel timings.</summary>
    public bool Train { get; init; }

    /// <summary>Seconds per training or scoring measurement of <see cref="Train"/>.</summary>
    public double TrainSeconds { get; init; } = 5;

    /// <summary>Tiny data and batches for <see cref="Train"/> (PoCL, CI).</summary>
    public bool Tiny { get; init; } = Environment.GetEnvironmentVariable("NCF_BENCH_TINY") == "1";

    public static BenchOptions Parse(string[] args)
    {
        var kind = GpuDeviceKind.Auto;
        bool quick = false, check = false;
        string? only = null;
        double seconds = 0.5, trainSeconds = 5;
        bool train = false, tiny = Environment.GetEnvironmentVariable("NCF_BENCH_TINY") == "1";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--device" when i + 1 < args.Length:
                    kind = IlgpuBackend.ParseKind(args[++i]);
                    break;
                case "--quick":
                    quick = true;
                    break;
                case "--train":
                    train = true;
                    break;
                case "--tiny":
                    tiny = true;
                    break;
                case "--train-seconds" when i + 1 < args.Length:
                    trainSeconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--check":
                    check = true;
                    break;
                case "--only" when i + 1 < args.Length:
                    only = args[++i];
                    break;
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new NcfException($"Unknown argument '{args[i]}'. Usage: ncf-gpu-bench [--device auto|cuda|opencl|ilgpu-cpu] [--quick] [--seconds S] [--check] [--only scatter|gather|dense|multiply|adam|loss] [--train [--tiny] [--train-seconds S]]");
            }
        }

        return new BenchOptions(kind, quick, seconds, check, only) { Train = train, TrainSeconds = trainSeconds, Tiny = tiny };
    }
}

/// <summary>Times each kernel family on shapes typical of NCF training and evaluation.</summary>
internal sealed class KernelBench(IlgpuBackend backend, BenchOptions options)
{
    private readonly List<(string Case, double Microseconds, string Rate)> _rows = [];

    private void Add(string name, double microseconds, string rate)
    {
        _rows.Add((name, microseconds, rate));
        Console.WriteLine($"  {name}: {microseconds.ToString("F1", CultureInfo.InvariantCulture)} µs, {rate}");
    }

    public void RunAll()
    {
        int scale = options.Quick ? 16 : 1;
        bool Run(string family) => options.Only is null || options.Only == family;

        // Scatter-add: the embedding backward. Uniform ids over 3706 items (ML-1M), and a hot case with 16 rows.
        foreach (int count in Run("scatter") ? new[] { 256, 65536 / scale, 1 << 20 >> (options.Quick ? 8 : 0) } : [])
        {
            foreach (int tableRows in new[] { 3706, 16 })
            {
                foreach (var method in new[] { ScatterAddMethod.Atomic, ScatterAddMethod.Sorted })
                {
                    ScatterAdd(count, 32, tableRows, method);
                }
            }
        }

        if (Run("gather"))
        {
            Gather(65536 / scale, 32, 6040);
        }

        if (Run("dense"))
        {
            foreach (var (rows, inDim, outDim) in new[] { (256, 64, 32), (65536 / scale, 64, 32), (65536 / scale, 512, 256), (1024 / scale, 1024 / scale, 1024 / scale) })
            {
                Dense(rows, inDim, outDim);
            }
        }

        if (Run("multiply"))
        {
            Elementwise(1 << 20 >> (options.Quick ? 6 : 0));
        }

        if (Run("adam"))
        {
            Adam(4_000_000 / scale / (options.Quick ? 4 : 1));
        }

        if (Run("loss"))
        {
            Loss(65536 / scale);
        }
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine($"| {backend.Name} kernel | µs/call | throughput |");
        Console.WriteLine("|---|---:|---|");
        foreach (var (name, us, rate) in _rows)
        {
            Console.WriteLine($"| {name} | {us.ToString("F1", CultureInfo.InvariantCulture)} | {rate} |");
        }
    }

    private void ScatterAdd(int count, int dim, int tableRows, ScatterAddMethod method)
    {
        var random = new Random(1);
        using var gradients = Upload(Enumerable.Range(0, count * dim).Select(_ => (float)random.NextDouble() - 0.5f).ToArray());
        using var ids = UploadInt(Enumerable.Range(0, count).Select(_ => random.Next(tableRows)).ToArray());
        using var table = backend.AllocateFloat(tableRows * dim);
        double us = Time(() => backend.ScatterAdd(gradients.All, ids.All, dim, table.All, method));
        Add($"scatter-add {method.ToString().ToLowerInvariant()} {count}x{dim} into {tableRows} rows", us,
            $"{count / us:G3} M rows/s");
    }

    private void Gather(int count, int dim, int tableRows)
    {
        var random = new Random(2);
        using var table = Upload(new float[tableRows * dim]);
        using var ids = UploadInt(Enumerable.Range(0, count).Select(_ => random.Next(tableRows)).ToArray());
        using var output = backend.AllocateFloat(count * dim);
        double us = Time(() => backend.Gather(table.All, dim, ids.All, output.All));
        Add($"gather {count}x{dim}", us, $"{2.0 * count * dim * 4 / us / 1e3:F1} GB/s");
    }

    private void Dense(int rows, int inDim, int outDim)
    {
        using var x = Upload(new float[rows * inDim]);
        using var w = Upload(new float[outDim * inDim]);
        using var b = Upload(new float[outDim]);
        using var y = backend.AllocateFloat(rows * outDim);
        using var dx = backend.AllocateFloat(rows * inDim);
        using var dw = backend.AllocateFloat(outDim * inDim);
        using var db = backend.AllocateFloat(outDim);
        double flops = 2.0 * rows * inDim * outDim;
        double forward = Time(() => backend.DenseForward(x.All, w.All, b.All, y.All, rows, inDim, outDim));
        Add($"dense forward [{rows}, {inDim} -> {outDim}]", forward, $"{flops / forward / 1e3:F1} GFLOP/s");
        double backward = Time(() => backend.DenseBackward(x.All, w.All, y.All, dx.All, dw.All, db.All, rows, inDim, outDim));
        Add($"dense backward [{rows}, {inDim} -> {outDim}]", backward, $"{2 * flops / backward / 1e3:F1} GFLOP/s");
    }

    private void Elementwise(int n)
    {
        using var a = Upload(new float[n]);
        using var b = Upload(new float[n]);
        using var y = backend.AllocateFloat(n);
        double us = Time(() => backend.Multiply(a.All, b.All, y.All));
        Add($"multiply {n}", us, $"{3.0 * n * 4 / us / 1e3:F1} GB/s");
    }

    private void Adam(int n)
    {
        using var p = backend.AllocateFloat(n);
        using var g = backend.AllocateFloat(n);
        using var m = backend.AllocateFloat(n);
        using var v = backend.AllocateFloat(n);
        var settings = new AdamSettings(0.001f, 0.9f, 0.999f, 1e-8f, 0, 1);
        double us = Time(() => backend.AdamStep(p.All, g.All, m.All, v.All, settings));
        Add($"adam {n} parameters", us, $"{7.0 * n * 4 / us / 1e3:F1} GB/s");
    }

    private void Loss(int n)
    {
        using var z = Upload(new float[n]);
        using var t = Upload(new float[n]);
        using var dz = backend.AllocateFloat(n);
        using var accumulator = backend.AllocateFloat(2);
        double us = Time(() => backend.SigmoidBinaryCrossEntropy(z.All, t.All, dz.All, 1f / n, accumulator.All));
        Add($"sigmoid-bce + device loss sum {n}", us, $"{n / us:G3} M/s");
    }

    private double Time(Action call)
    {
        call();
        call();
        backend.Synchronize();
        int iterations = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            call();
            iterations++;
            if (iterations % 8 == 0)
            {
                backend.Synchronize();
            }
        }
        while (clock.Elapsed.TotalSeconds < options.Seconds);

        backend.Synchronize();
        return clock.Elapsed.TotalMicroseconds / iterations;
    }

    private DeviceBuffer<float> Upload(float[] data)
    {
        var buffer = backend.AllocateFloat(data.Length);
        buffer.Write(0, data);
        return buffer;
    }

    private DeviceBuffer<int> UploadInt(int[] data)
    {
        var buffer = backend.AllocateInt(data.Length);
        buffer.Write(0, data);
        return buffer;
    }
}
