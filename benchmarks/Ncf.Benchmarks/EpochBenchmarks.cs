using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Benchmarks;

/// <summary>
/// One whole ML-1M epoch of NeuMF-8 (4.97 M examples: sampling, shuffling and 19,418 steps of 256), as `ncf train`
/// runs it, without evaluation. Seconds per invocation, so BenchmarkDotNet's monitoring strategy with few iterations.
/// Uses the real NCF split when shared/data is present, else a synthetic set of the same size.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
[Config(typeof(ThroughputConfig))]
public class EpochBenchmarks : IWorkload
{
    private NcfDataset _data = null!;

    [Params(OptimizerKind.Adam, OptimizerKind.LazyAdam, OptimizerKind.DeferredAdam)]
    public OptimizerKind Optimizer { get; set; }

    [Params(true, false)]
    public bool Fused { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = BenchmarkData.LoadMl1mOrSynthetic();
    }

    /// <inheritdoc />
    /// <remarks>The NCF split's 994,169 positives × 5 examples × 16.3 kFLOP (asked of a fresh instance, before setup).</remarks>
    public Work WorkPerOperation(string benchmarkMethod) => Work.Flops(994_169 * 5.0 * 16_300);

    /// <summary>A fresh NeuMF-8 trained for one epoch on both cores; returns the epoch's loss.</summary>
    [Benchmark(Description = "NeuMF-8 epoch on ML-1M, 2 threads")]
    public double Epoch()
    {
        using var backend = new CpuBackend(threads: 2);
        using var model = new NcfModel(backend, _data.UserCount, _data.ItemCount, new ModelOptions());
        model.Initialize(42);
        using var trainer = new NcfTrainer(model, _data, new TrainingOptions
        {
            Epochs = 1, Optimizer = Optimizer, FusedCpuStep = Fused, EvaluateEachEpoch = false, SamplerThreads = 2,
        });
        return trainer.Fit().Epochs[0].Loss;
    }
}
