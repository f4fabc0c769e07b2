using BenchmarkDotNet.Attributes;
using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Benchmarks;

/// <summary>
/// Whole-model work at the paper's shapes on ML-1M (the real NCF split when shared/data is present, else a synthetic
/// set of the same size): one training step of NeuMF-8 (batch 256: forward, fused loss, backward, Adam), and
/// full-catalogue scoring of every item for 1,000 users. One epoch is `ncf bench`'s job (seconds, not microseconds).
/// A NeuMF-8 training sample is ~16.3 kFLOP (5.4 forward, 10.9 backward), so a step is ~4.2 MFLOP; a scored pair ~5.4 kFLOP.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class TrainingBenchmarks : IWorkload
{
    private NcfDataset _data = null!;
    private CpuBackend _backend = null!;
    private NcfModel _model = null!;
    private NcfTrainer _trainer = null!;
    private TrainingSample[] _samples = [];
    private int[] _users = [], _items = [];
    private float[] _labels = [], _scores = [];
    private int _cursor;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(OptimizerKind.Adam, OptimizerKind.LazyAdam, OptimizerKind.DeferredAdam)]
    public OptimizerKind Optimizer { get; set; }

    /// <summary>The fused step (a whole pass per chunk of rows) or the layer-by-layer one; same results.</summary>
    [Params(true, false)]
    public bool Fused { get; set; }

    /// <inheritdoc />
    public Work WorkPerOperation(string benchmarkMethod) => benchmarkMethod == nameof(TrainingStep)
        ? Work.Flops(256 * 16_300.0)
        : Work.Flops(1000.0 * 3706 * 5_400);

    [GlobalSetup]
    public void Setup()
    {
        _data = BenchmarkData.LoadMl1mOrSynthetic();
        _backend = new CpuBackend(threads: Threads);
        _model = new NcfModel(_backend, _data.UserCount, _data.ItemCount, new ModelOptions());
        _model.Initialize(42);
        _trainer = new NcfTrainer(_model, _data, new TrainingOptions { Optimizer = Optimizer, FusedCpuStep = Fused });
        _samples = new NegativeSampler(_data, 4, 42).Epoch(0).ToArray();
        _users = new int[256];
        _items = new int[256];
        _labels = new float[256];
        _scores = new float[_data.ItemCount];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _trainer.Dispose();
        _model.Dispose();
        _backend.Dispose();
    }

    /// <summary>One NeuMF-8 step on the next 256 examples of a real epoch: ~4.2 MFLOP.</summary>
    [Benchmark(Description = "NeuMF-8 training step, batch 256 (4.2 MFLOP)")]
    public double TrainingStep()
    {
        if (_cursor + 256 > _samples.Length)
        {
            _cursor = 0;
        }

        for (int k = 0; k < 256; k++)
        {
            var s = _samples[_cursor + k];
            _users[k] = s.User;
            _items[k] = s.Item;
            _labels[k] = s.Label;
        }

        _cursor += 256;
        return _trainer.TrainBatch(_users, _items, _labels);
    }

    /// <summary>Every item scored for 1,000 users (3.7 M pairs on ML-1M, ~20 GFLOP).</summary>
    [Benchmark(Description = "Full-catalogue scoring, 1,000 users")]
    public float ScoreAllItemsFor1000Users()
    {
        float sink = 0;
        for (int u = 0; u < 1000; u++)
        {
            _model.ScoreAllItems(u % _data.UserCount, _scores);
            sink += _scores[0];
        }

        return sink;
    }
}
