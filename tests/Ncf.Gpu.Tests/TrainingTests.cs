using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Gpu.Tests;

/// <summary>
/// One training step of each model on the ILGPU backend against the same step on <see cref="CpuBackend"/>: same
/// initial parameters (initialised on the CPU, loaded into the device model), same batch, exact Adam. Written once,
/// run per accelerator (Accelerators.cs).
/// </summary>
/// <remarks>
/// Tolerances. Loss: 1e-5 relative + 1e-6 absolute (float sums on the device, double in the reference). Parameters
/// after the step: 2e-5 absolute + 1e-5 relative. Adam's first step moves a parameter by about
/// <c>lr · g / (|g| + ε)</c>, which is ±lr for any gradient well above ε = 1e-8 but turns on the gradient's
/// float rounding for gradients near ε, so 2e-5 is 2% of lr = 1e-3: it catches any wrong gradient (a wrong sign is
/// an error of 2e-3) while allowing for summation order.
/// </remarks>
public abstract class TrainingStepTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : BackendFixture
{
    private const int Batch = 64;

    private static readonly Lazy<NcfDataset> Data = new(() => SyntheticData.Generate(new SyntheticDataOptions
    {
        Users = 40, Items = 50, MeanPerUser = 8, MinPerUser = 3, TestNegatives = 20, Seed = 5,
    }));

    [DeviceFact]
    public void GmfStepMatchesTheCpuBackend() => OneStepMatchesTheCpuBackend(ModelKind.Gmf);

    [DeviceFact]
    public void MlpStepMatchesTheCpuBackend() => OneStepMatchesTheCpuBackend(ModelKind.Mlp);

    [DeviceFact]
    public void NeuMFStepMatchesTheCpuBackend() => OneStepMatchesTheCpuBackend(ModelKind.NeuMF);

    private void OneStepMatchesTheCpuBackend(ModelKind kind)
    {
        var data = Data.Value;
        var modelOptions = new ModelOptions { Kind = kind, Factors = 8, Layers = 3 };
        var options = new TrainingOptions { BatchSize = Batch, LearningRate = 1e-3f, Seed = 3, EvaluateEachEpoch = false };
        var batch = new NegativeSampler(data, 4, 9, threads: 1).Epoch(0).Span[..Batch].ToArray();
        int[] users = batch.Select(s => s.User).ToArray();
        int[] items = batch.Select(s => s.Item).ToArray();
        float[] labels = batch.Select(s => s.Label).ToArray();

        using var cpuBackend = new CpuBackend();
        using var cpuModel = new NcfModel(cpuBackend, data.UserCount, data.ItemCount, modelOptions);
        cpuModel.Initialize(21);
        float[] initial = cpuModel.Parameters.ToArray();
        using var gpuModel = new NcfModel(fixture.Backend, data.UserCount, data.ItemCount, modelOptions);
        gpuModel.Parameters.Load(initial);

        double cpuLoss, gpuLoss;
        using (var cpuTrainer = new NcfTrainer(cpuModel, data, options))
        {
            cpuLoss = cpuTrainer.TrainBatch(users, items, labels);
        }

        using (var gpuTrainer = new NcfTrainer(gpuModel, data, options))
        {
            gpuLoss = gpuTrainer.TrainBatch(users, items, labels);
        }

        Assert.True(Math.Abs(cpuLoss - gpuLoss) <= 1e-6 + 1e-5 * Math.Abs(cpuLoss), $"{kind} loss: cpu {cpuLoss}, {fixture.Kind} {gpuLoss}");
        float[] expected = cpuModel.Parameters.ToArray();
        Assert.NotEqual(initial, expected);
        Tolerance.AssertClose($"{kind} parameters after one Adam step", expected, gpuModel.Parameters.ToArray(), 1e-5, 2e-5);
    }
}

/// <summary>
/// A short NeuMF training run through <see cref="NcfTrainer.Fit"/> — on the device, epochs come from
/// <see cref="DeviceEpochSampler"/> — reaching the CPU backend's final HR@10 within 0.01.
/// </summary>
/// <remarks>
/// Only the OpenCL and CUDA subclasses exist: the run is ~500 optimiser steps of ~40 launches each, and ILGPU's CPU
/// accelerator simulates every group with .NET threads and barriers (0.05-0.5 s per GEMM launch), so even a
/// tenth of this run would take minutes there; the step itself is covered on the simulator by
/// <see cref="TrainingStepTests{TFixture}"/> and the sampler by <see cref="DeviceSamplerTests{TFixture}"/>.
/// The two runs see different permutations (the samplers share their negatives but not their order), so their
/// HR differs by training noise: 1,000 test users and 5 epochs at lr 0.005 bring both close to convergence.
/// </remarks>
public abstract class TrainingRunTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : BackendFixture
{
    [DeviceFact]
    public void NeuMFReachesTheCpuHitRate()
    {
        var data = SyntheticData.Generate(new SyntheticDataOptions { Users = 1000, Items = 300, MeanPerUser = 12, MinPerUser = 5, Seed = 17 });
        var modelOptions = new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 3 };
        var options = new TrainingOptions { Epochs = 5, BatchSize = 512, LearningRate = 0.005f, Seed = 4, EvaluateEachEpoch = false };

        double cpuHr = Train(new CpuBackend(), data, modelOptions, options, out _);
        double gpuHr = Train(fixture.Backend, data, modelOptions, options, out var gpuReport);
        Assert.True(gpuReport.Loss < 0.45, $"final loss {gpuReport.Loss}");
        Assert.True(Math.Abs(cpuHr - gpuHr) <= 0.01, $"HR@10: cpu {cpuHr:F4}, {fixture.Kind} {gpuHr:F4}");
    }

    private static double Train(Ncf.Backends.IBackend backend, NcfDataset data, ModelOptions modelOptions, TrainingOptions options, out EpochReport last)
    {
        try
        {
            using var model = new NcfModel(backend, data.UserCount, data.ItemCount, modelOptions);
            model.Initialize(8);
            using var trainer = new NcfTrainer(model, data, options);
            var result = trainer.Fit();
            last = trainer.Evaluate(result.Final!);
            return last.Test!.Value.HitRate;
        }
        finally
        {
            if (backend is CpuBackend)
            {
                backend.Dispose();
            }
        }
    }
}
