using BenchmarkDotNet.Attributes;
using Ncf.Backends;
using Ncf.Kernels;
using Ncf.Randomness;

namespace Ncf.Benchmarks;

/// <summary>
/// Adam over all of NeuMF-8's parameters on MovieLens-1M (392,601 floats: 8- and 32-wide embeddings for 6040 users and
/// 3706 items plus the tower), and row-sparse Adam over 512 distinct rows of a [6040, 40] table. Bytes: p, g, m, v read
/// and p, m, v written: 28 B per element. Deferred Adam first catches each row up on 20 skipped steps (p, m, v read and
/// written: 24 B) before the step, as training does before the forward pass: 52 B per element.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class OptimizerBenchmarks : IWorkload
{
    private const int DenseLength = 392_601;
    private const int TableRows = 6040, RowDim = 40, SelectedRows = 512;
    private static readonly AdamSettings Settings = new(1e-3f, 0.9f, 0.999f, 1e-8f, 0, 10);

    private float[] _p = [], _g = [], _m = [], _v = [];
    private float[] _tp = [], _tg = [], _tm = [], _tv = [];
    private int[] _rows = [];
    private int[] _lastStep = [];
    private static readonly AdamSettings SteadySettings = Settings with { Step = 30_000 };
    private static readonly AdamCatchUp CatchUpTables = new(0.9f, 0.999f, 1e-8f);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(3);
        _p = DenseBenchmarks.Fill(rng, DenseLength);
        _g = DenseBenchmarks.Fill(rng, DenseLength, -1e-2f, 1e-2f);
        _m = new float[DenseLength];
        _v = DenseBenchmarks.Fill(rng, DenseLength, 0, 1e-4f);
        _tp = DenseBenchmarks.Fill(rng, TableRows * RowDim);
        _tg = DenseBenchmarks.Fill(rng, TableRows * RowDim, -1e-2f, 1e-2f);
        _tm = new float[TableRows * RowDim];
        _tv = DenseBenchmarks.Fill(rng, TableRows * RowDim, 0, 1e-4f);
        var all = Enumerable.Range(0, TableRows).ToArray();
        rng.Shuffle<int>(all);
        _rows = all[..SelectedRows];
        _lastStep = new int[TableRows];
    }

    [BenchmarkCategory("AdamDense"), Benchmark(Description = "Adam dense v0 Reference [28 B/element]")]
    public void AdamDenseV0() => AdamKernel.Reference(_p, _g, _m, _v, Settings);

    [BenchmarkCategory("AdamDense"), Benchmark(Baseline = true, Description = "Adam dense v1 Simd [28 B/element]")]
    public void AdamDenseV1() => AdamKernel.Simd(_p, _g, _m, _v, Settings);

    [BenchmarkCategory("AdamRows"), Benchmark(Description = "Adam rows v0 RowsReference [28 B/element]")]
    public void AdamRowsV0() => AdamKernel.RowsReference(_tp, _tg, _tm, _tv, RowDim, _rows, Settings);

    [BenchmarkCategory("AdamRows"), Benchmark(Baseline = true, Description = "Adam rows v1 RowsSimd [28 B/element]")]
    public void AdamRowsV1() => AdamKernel.RowsSimd(_tp, _tg, _tm, _tv, RowDim, _rows, Settings);

    [BenchmarkCategory("AdamRows"), Benchmark(Description = "Adam rows v2 deferred: CatchUpRowsSimd + DeferredRowsSimd [52 B/element]")]
    public void AdamRowsDeferred()
    {
        // Every selected row 20 steps behind, in the steady regime (a table lookup per row), as a user row is in
        // NeuMF-8 training on ML-1M.
        foreach (int row in _rows)
        {
            _lastStep[row] = SteadySettings.Step - 21;
        }

        AdamKernel.CatchUpRowsSimd(_tp, _tm, _tv, RowDim, _rows, _lastStep, SteadySettings with { Step = SteadySettings.Step - 1 }, CatchUpTables);
        AdamKernel.DeferredRowsSimd(_tp, _tg, _tm, _tv, RowDim, _rows, _lastStep, SteadySettings, CatchUpTables);
    }

    public Work WorkPerOperation(string benchmarkMethod) => Work.Bytes(
        benchmarkMethod.StartsWith("AdamDense", StringComparison.Ordinal) ? 28.0 * DenseLength
        : benchmarkMethod == nameof(AdamRowsDeferred) ? 52.0 * SelectedRows * RowDim
        : 28.0 * SelectedRows * RowDim);
}
