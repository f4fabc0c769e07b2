using System.Diagnostics;
using System.Globalization;
using Ncf;
using Ncf.Backends;
using Ncf.Data;
using Ncf.Gpu;
using Ncf.Layers;
using Ncf.Models;
using Ncf.Randomness;
using Ncf.Training;

/// <summary>
/// Training and scoring samples/s of whole models on the device, the way <see cref="NcfTrainer"/> trains there:
/// epochs from <see cref="DeviceEpochSampler"/>, each batch taken as device views, forward + fused sigmoid-BCE +
/// backward + exact Adam, loss summed on the device. Each case builds epoch 0 (timed as "prep"), runs two warm-up
/// steps, then steps until the time limit or the epoch's end; scoring is the forward pass alone on the same batches.
/// A case that fails prints its error in the table instead of stopping the run.
/// </summary>
internal sealed class TrainBench(IlgpuBackend backend, BenchOptions options)
{
    /// <summary>ML-1M in the NCF files (6,040 users, 3,706 items, 994,169 training positives); NCF_ML1M_PREFIX overrides.</summary>
    private static readonly string Ml1mPrefix = Environment.GetEnvironmentVariable("NCF_ML1M_PREFIX") is { Length: > 0 } prefix
        ? prefix
        : "../shared/data/ml-1m/ml-1m";

    private readonly List<string> _rows = [];

    public void RunAll()
    {
        bool tiny = options.Tiny;
        var ml1m = Ml1m(tiny);
        var ml20m = Ml20mLike(tiny);
        var neumf8 = new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 3 };
        // MLPerf's NCF: factors 64, MLP 256-256-128-64. Ours is defined by factors and layers: f = 64, L = 3 gives MLP
        // embeddings of 256 per side, tower input 512 -> 256 -> 128 -> 64 (and GMF 64); the peer's --factors 64 --layers 3.
        var mlperf = new ModelOptions { Kind = ModelKind.NeuMF, Factors = 64, Layers = 3 };
        int big = tiny ? 1 << 10 : 1 << 16, huge = tiny ? 1 << 12 : 1 << 20;
        Case("NeuMF-8 (f8 L3)", ml1m, neumf8, tiny ? 256 : 256);
        Case("NeuMF-8 (f8 L3)", ml1m, neumf8, big);
        Case("MLPerf shape (f64 L3: 512-256-128-64)", ml1m, mlperf, big);
        Case("MLPerf shape (f64 L3: 512-256-128-64)", ml20m, mlperf, big);
        Case("MLPerf shape (f64 L3: 512-256-128-64)", ml20m, mlperf, huge);
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine("| device | model | data | batch | train samples/s | score samples/s | steps timed | epoch prep s |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|");
        foreach (string row in _rows)
        {
            Console.WriteLine(row);
        }
    }

    private void Case(string model, NcfDataset data, ModelOptions modelOptions, int batch)
    {
        string head = $"| {backend.Name} | {model} | {data.Name} | {batch:N0} |";
        try
        {
            var (train, score, steps, prep) = Measure(data, modelOptions, batch);
            _rows.Add($"{head} {train.ToString("N0", CultureInfo.InvariantCulture)} | {score.ToString("N0", CultureInfo.InvariantCulture)} | {steps} | {prep:F2} |");
        }
        catch (Exception e) when (e is NcfException or InvalidOperationException or ArgumentException or OutOfMemoryException
                                      or ILGPU.Runtime.AcceleratorException)
        {
            _rows.Add($"{head} error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} | | | |");
        }

        Console.WriteLine("  " + _rows[^1]);
    }

    private (double Train, double Score, int Steps, double Prep) Measure(NcfDataset data, ModelOptions modelOptions, int batch)
    {
        using var model = new NcfModel(backend, data.UserCount, data.ItemCount, modelOptions);
        model.Initialize(1);
        using var adam = new Adam(model.Parameters, new AdamOptions { LearningRate = 0.001f });
        using var sampler = new DeviceEpochSampler(backend, data, 4, 1);
        using var lossSum = backend.AllocateFloat(2);
        var loss = new SigmoidBceLoss(backend);
        model.Reserve(batch);
        model.ZeroGradients();

        var clock = Stopwatch.StartNew();
        sampler.BuildEpoch(0);
        backend.Synchronize();
        double prep = clock.Elapsed.TotalSeconds;
        long total = sampler.SamplesPerEpoch;
        long next = 0;

        int Take(out View<int> users, out View<int> items, out View<float> labels)
        {
            if (next >= total)
            {
                next = 0;
            }

            int n = (int)Math.Min(batch, total - next);
            (users, items, labels) = sampler.Batch((int)next, n);
            next += n;
            return n;
        }

        void TrainStep()
        {
            int n = Take(out var users, out var items, out var labels);
            var logits = model.Forward(users, items, n);
            var dLogits = model.LogitGradients(n);
            loss.ForwardBackward(logits, labels, dLogits, lossSum.All);
            model.Backward(dLogits, n);
            adam.Step(default);
            adam.ZeroGradients(default);
        }

        void ScoreStep()
        {
            int n = Take(out var users, out var items, out _);
            model.Forward(users, items, n);
        }

        double train = Rate(TrainStep, total, batch, out int steps);
        next = 0;
        double score = Rate(ScoreStep, total, batch, out _);
        return (train, score, steps, prep);
    }

    /// <summary>Samples/s of <paramref name="step"/>: two warm-up calls, then calls until the time limit or one epoch.</summary>
    private double Rate(Action step, long total, int batch, out int steps)
    {
        step();
        step();
        backend.Synchronize();
        long samples = 0;
        steps = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            step();
            steps++;
            samples += Math.Min(batch, total);
            if (steps % 4 == 0)
            {
                backend.Synchronize();
            }
        }
        while (clock.Elapsed.TotalSeconds < options.TrainSeconds && samples < total);

        backend.Synchronize();
        return samples / clock.Elapsed.TotalSeconds;
    }

    /// <summary>ML-1M from the NCF files when present, else a synthetic set of its size; tiny: a 1% synthetic set.</summary>
    private static NcfDataset Ml1m(bool tiny)
    {
        if (!tiny && File.Exists(Ml1mPrefix + ".train.rating"))
        {
            try
            {
                return NcfDataLoader.Load(Ml1mPrefix);
            }
            catch (NcfException e)
            {
                Console.WriteLine($"  ML-1M files unreadable ({e.Message}); using a synthetic set of its size");
            }
        }

        return tiny ? Synthetic("ml-1m-size synthetic (tiny: 1%)", 604, 371, 16) : Synthetic("ml-1m-size synthetic", 6040, 3706, 164);
    }

    /// <summary>ML-20M's size: 138,493 users, 26,744 items, about 20 M positives (tiny: 1% of the users, 10% of the items).</summary>
    private static NcfDataset Ml20mLike(bool tiny) =>
        tiny ? Synthetic("ml-20m-size synthetic (tiny)", 1385, 2674, 145) : Synthetic("ml-20m-size synthetic", 138_493, 26_744, 145);

    /// <summary>
    /// A fast deterministic generator (SyntheticData's Gumbel top-k over every item is far too slow at this size): user u
    /// gets between 20 and 2·mean - 20 distinct items, drawn with a popularity skew (item = ⌊items · r²⌋, r uniform),
    /// all from <see cref="CounterHash"/>. No test set: the bench only trains and scores.
    /// </summary>
    private static NcfDataset Synthetic(string name, int userCount, int itemCount, int meanPerUser)
    {
        var clock = Stopwatch.StartNew();
        ulong key = CounterHash.Key(20_000_000, 7);
        var users = new List<int>(userCount * meanPerUser);
        var items = new List<int>(userCount * meanPerUser);
        var stamp = new int[itemCount];
        int spread = Math.Max(1, 2 * (meanPerUser - 20));
        ulong counter = 0;
        for (int u = 0; u < userCount; u++)
        {
            int count = Math.Min(itemCount / 2, 20 + CounterHash.NextIntFromKey(key, counter++, spread));
            for (int k = 0; k < count;)
            {
                double r = (CounterHash.BitsFromKey(key, counter++) >> 11) * (1.0 / (1UL << 53));
                int item = (int)(itemCount * r * r);
                if (stamp[item] != u + 1)
                {
                    stamp[item] = u + 1;
                    users.Add(u);
                    items.Add(item);
                    k++;
                }
            }
        }

        var data = new NcfDataset(name, userCount, itemCount, users.ToArray(), items.ToArray(), null);
        Console.WriteLine($"  {name}: {userCount:N0} users, {itemCount:N0} items, {data.TrainCount:N0} positives ({clock.Elapsed.TotalSeconds:F1} s)");
        return data;
    }
}
