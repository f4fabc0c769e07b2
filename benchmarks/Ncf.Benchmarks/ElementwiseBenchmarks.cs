using BenchmarkDotNet.Attributes;
using Ncf.Kernels;
using Ncf.Randomness;

namespace Ncf.Benchmarks;

/// <summary>
/// Element-wise kernels at 6·512+7 = 3079 elements (an odd size, so the remainder path is timed too).
/// Bytes: unary 8 B/element (read x, write y); the losses 12 B/element (read z and t, write the gradient).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class ElementwiseBenchmarks : IWorkload
{
    private const int N = 6 * 512 + 7;
    private float[] _x = [], _y = [], _p = [], _t = [], _grad = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(5);
        _x = DenseBenchmarks.Fill(rng, N, -8, 8);
        _p = DenseBenchmarks.Fill(rng, N, 0, 1);
        _t = new float[N];
        for (int i = 0; i < N; i++)
        {
            _t[i] = rng.NextInt(2);
        }

        _y = new float[N];
        _grad = new float[N];
    }

    [BenchmarkCategory("Relu"), Benchmark(Description = "ReLU v0 Reference [8 B/element]")]
    public void ReluV0() => ReluKernel.ForwardReference(_x, _y);

    [BenchmarkCategory("Relu"), Benchmark(Baseline = true, Description = "ReLU v1 Simd [8 B/element]")]
    public void ReluV1() => ReluKernel.ForwardSimd(_x, _y);

    [BenchmarkCategory("Sigmoid"), Benchmark(Description = "Sigmoid v0 Reference [8 B/element]")]
    public void SigmoidV0() => SigmoidKernel.ForwardReference(_x, _y);

    [BenchmarkCategory("Sigmoid"), Benchmark(Baseline = true, Description = "Sigmoid v1 Simd [8 B/element]")]
    public void SigmoidV1() => SigmoidKernel.ForwardSimd(_x, _y);

    [BenchmarkCategory("SigmoidBce"), Benchmark(Description = "Fused sigmoid+BCE v0 Reference [12 B/element]")]
    public double SigmoidBceV0() => SigmoidBinaryCrossEntropyKernel.Reference(_x, _t, _grad, 1f / N);

    [BenchmarkCategory("SigmoidBce"), Benchmark(Baseline = true, Description = "Fused sigmoid+BCE v1 Simd [12 B/element]")]
    public double SigmoidBceV1() => SigmoidBinaryCrossEntropyKernel.Simd(_x, _t, _grad, 1f / N);

    [BenchmarkCategory("Bce"), Benchmark(Baseline = true, Description = "BCE on probabilities v1 Simd [12 B/element]")]
    public double BceV1() => BinaryCrossEntropyKernel.Simd(_p, _t, _grad, 1f / N);

    public Work WorkPerOperation(string benchmarkMethod)
    {
        bool loss = benchmarkMethod.Contains("Bce", StringComparison.Ordinal);
        return Work.Bytes((loss ? 12.0 : 8.0) * N);
    }
}
