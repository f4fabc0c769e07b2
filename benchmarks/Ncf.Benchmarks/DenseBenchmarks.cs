using BenchmarkDotNet.Attributes;
using Ncf.Kernels;
using Ncf.Randomness;

namespace Ncf.Benchmarks;

/// <summary>
/// Dense layer at the NeuMF-8 tower shapes, batch 256: 64→32, 32→16, 16→8 and the output 16→1.
/// Forward is 2·rows·in·out FLOP; backward (dx, dW, db) is 4·rows·in·out + rows·out FLOP.
/// v1 = <see cref="DenseKernel.ForwardSimd"/>/<see cref="DenseKernel.BackwardSimd"/> (a dot per output, an axpy per
/// output), v2 = <see cref="DenseKernel.ForwardBlocked"/>/<see cref="DenseKernel.BackwardBlocked"/> (register-blocked).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class DenseBenchmarks : IWorkload
{
    private const int Rows = 256;
    private float[] _x = [], _w = [], _b = [], _y = [], _dy = [], _dx = [], _dW = [], _db = [];

    /// <summary>"inDim→outDim".</summary>
    [Params("64x32", "32x16", "16x8", "16x1")]
    public string Shape { get; set; } = "64x32";

    private int InDim => int.Parse(Shape.Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);

    private int OutDim => int.Parse(Shape.Split('x')[1], System.Globalization.CultureInfo.InvariantCulture);

    [GlobalSetup]
    public void Setup()
    {
        int inDim = InDim, outDim = OutDim;
        var rng = new Rng(42);
        _x = Fill(rng, Rows * inDim);
        _w = Fill(rng, outDim * inDim);
        _b = Fill(rng, outDim);
        _dy = Fill(rng, Rows * outDim);
        _y = new float[Rows * outDim];
        _dx = new float[Rows * inDim];
        _dW = new float[outDim * inDim];
        _db = new float[outDim];
    }

    [BenchmarkCategory("Forward"), Benchmark(Baseline = true, Description = "Forward v1 ForwardSimd [2·rows·in·out FLOP]")]
    public void ForwardV1() => DenseKernel.ForwardSimd(_x, _w, _b, _y, Rows, InDimCached, OutDimCached);

    [BenchmarkCategory("Forward"), Benchmark(Description = "Forward v2 ForwardBlocked [2·rows·in·out FLOP]")]
    public void ForwardV2() => DenseKernel.ForwardBlocked(_x, _w, _b, _y, Rows, InDimCached, OutDimCached);

    [BenchmarkCategory("Backward"), Benchmark(Baseline = true, Description = "Backward v1 BackwardSimd [4·rows·in·out + rows·out FLOP]")]
    public void BackwardV1() => DenseKernel.BackwardSimd(_x, _w, _dy, _dx, _dW, _db, Rows, InDimCached, OutDimCached);

    [BenchmarkCategory("Backward"), Benchmark(Description = "Backward v2 BackwardBlocked [4·rows·in·out + rows·out FLOP]")]
    public void BackwardV2() => DenseKernel.BackwardBlocked(_x, _w, _dy, _dx, _dW, _db, Rows, InDimCached, OutDimCached);

    public Work WorkPerOperation(string benchmarkMethod)
    {
        double rio = (double)Rows * InDim * OutDim;
        return benchmarkMethod.StartsWith("Forward", StringComparison.Ordinal) ? Work.Flops(2 * rio) : Work.Flops(4 * rio + Rows * OutDim);
    }

    // Dimensions read from the arrays, so the timed calls do not parse the parameter string.
    private int InDimCached => _dx.Length / Rows;

    private int OutDimCached => _b.Length;

    internal static float[] Fill(Rng rng, int length, float low = -1, float high = 1)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(low + (high - low) * rng.NextDouble());
        }

        return values;
    }
}
