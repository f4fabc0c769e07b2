using BenchmarkDotNet.Attributes;
using Ncf.Kernels;
using Ncf.Randomness;

namespace Ncf.Benchmarks;

/// <summary>
/// Embedding gather and scatter-add for a batch of 256 ids into the MovieLens-1M user (6040) and item (3706) tables,
/// dims 8 (GMF) and 32 (MLP). Bytes: gather reads and writes count·dim floats plus the ids; scatter-add reads the
/// gradient rows and reads and writes the table rows (3·count·dim floats) plus the ids.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class EmbeddingBenchmarks : IWorkload
{
    private const int Count = 256;
    private float[] _table = [], _rows = [], _tableGradient = [];
    private int[] _ids = [];

    [Params(6040, 3706)]
    public int TableRows { get; set; } = 6040;

    [Params(8, 32)]
    public int Dim { get; set; } = 8;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(7);
        _table = DenseBenchmarks.Fill(rng, TableRows * Dim);
        _tableGradient = new float[TableRows * Dim];
        _rows = DenseBenchmarks.Fill(rng, Count * Dim);
        _ids = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            _ids[i] = rng.NextInt(TableRows);
        }
    }

    [BenchmarkCategory("Gather"), Benchmark(Description = "Gather v0 Reference [2·count·dim·4 + count·4 B]")]
    public void GatherV0() => GatherKernel.Reference(_table, Dim, _ids, _rows);

    [BenchmarkCategory("Gather"), Benchmark(Baseline = true, Description = "Gather v1 Simd [2·count·dim·4 + count·4 B]")]
    public void GatherV1() => GatherKernel.Simd(_table, Dim, _ids, _rows);

    [BenchmarkCategory("ScatterAdd"), Benchmark(Description = "ScatterAdd v0 Reference [3·count·dim·4 + count·4 B]")]
    public void ScatterAddV0() => ScatterAddKernel.Reference(_rows, _ids, Dim, _tableGradient);

    [BenchmarkCategory("ScatterAdd"), Benchmark(Baseline = true, Description = "ScatterAdd v1 Simd [3·count·dim·4 + count·4 B]")]
    public void ScatterAddV1() => ScatterAddKernel.Simd(_rows, _ids, Dim, _tableGradient);

    public Work WorkPerOperation(string benchmarkMethod)
    {
        double floats = (double)Count * Dim;
        return benchmarkMethod.StartsWith("Gather", StringComparison.Ordinal)
            ? Work.Bytes(2 * floats * 4 + Count * 4)
            : Work.Bytes(3 * floats * 4 + Count * 4);
    }
}
