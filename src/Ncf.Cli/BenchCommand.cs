using System.Diagnostics;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Cli;

/// <summary>`ncf bench`: training and scoring throughput on real or synthetic data.</summary>
internal static class BenchCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        _ = stderr;
        var args = new Arguments(argv, Common.Flags);
        var shape = Common.ModelShape(args);
        var training = Common.Training(args, defaultEpochs: 1, evaluateEachEpoch: false);
        ulong seed = training.Seed;
        bool json = args.Flag("json");
        string scoreUsers = args.String("score-users") ?? "1000";
        int scoreUserLimit = scoreUsers == "all" ? int.MaxValue
            : int.TryParse(scoreUsers, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0 ? n
            : throw new NcfException($"--score-users expects a positive number or 'all'; got '{scoreUsers}'.");
        if (Common.HoldOutOption(args) == Ncf.Data.HoldOut.None)
        {
            throw new NcfException("--holdout none leaves bench no test cases to report HR@10 and NDCG@10 on; drop it.");
        }

        if (args.Flag("ceilings"))
        {
            // The ceilings are the machine's, not a run's: options that shape a run would be ignored, so they are refused.
            string[] runOptions = ["data", "model", "factors", "layers", "epochs", "batch", "lr", "neg", "seed", "threads", "optimizer",
                "step", "score-users", "device", "scatter", "l2", "average-from", "format", "header", "test-neg", "min-interactions", "holdout", "ties"];
            if (runOptions.FirstOrDefault(args.Given) is { } given)
            {
                throw new NcfException($"--ceilings measures the machine alone; --{given} shapes a training run: drop one of them.");
            }

            args.RejectUnknown("bench");
            var c = Ceilings.Measure();
            if (json)
            {
                stdout.WriteLine(new JsonLine().Add("fp32_gflops_one_core_256", c.Gflops256).Add("fp32_gflops_one_core_512", c.Gflops512)
                    .Add("fp32_gflops_all_cores", c.GflopsAllCores).Add("triad_gb_per_s", c.TriadGBps).Add("copy_gb_per_s", c.CopyGBps));
            }
            else
            {
                stdout.WriteLine($"FP32 peak, one core: {c.Gflops256:F1} GFLOP/s (256-bit FMA), {c.Gflops512:F1} GFLOP/s (512-bit FMA)");
                stdout.WriteLine($"FP32 peak, {Environment.ProcessorCount} cores: {c.GflopsAllCores:F1} GFLOP/s (256-bit FMA)");
                stdout.WriteLine($"memory bandwidth: triad {c.TriadGBps:F1} GB/s, copy {c.CopyGBps:F1} GB/s (64 MiB arrays)");
            }

            return Cli.Ok;
        }

        if (training.Epochs == 0)
        {
            throw new NcfException("bench measures training speed: --epochs 1 or more.");
        }

        var createBackend = Common.Backend(args);
        Common.RequireDeviceRuns(args, training.Optimizer, "optimizer");
        var loadData = Common.DataLoader(args, seed, cancellationToken);
        args.RejectUnknown("bench");
        using var backend = createBackend();
        var data = loadData();

        using var model = new NcfModel(backend, data.UserCount, data.ItemCount, shape);
        model.Initialize(seed);
        using var trainer = new NcfTrainer(model, data, training);
        string optimizer = Common.OptimizerName(NcfTrainer.ResolveOptimizer(training, shape, data.UserCount, data.ItemCount, backend));
        var result = trainer.Fit(cancellationToken: cancellationToken);
        if (result.Cancelled)
        {
            throw new OperationCanceledException();
        }

        // A speed figure over a diverged run measures arithmetic on NaN over fewer epochs than asked for.
        if (result.Diverged)
        {
            throw new NcfException($"training diverged in epoch {result.Final?.Epoch} (loss {result.Final?.Loss:G4}); no figures are reported. Lower --lr.");
        }

        double trainRate = result.Epochs.Sum(e => e.Samples) / result.Epochs.Sum(e => e.TrainSeconds);

        // Full-catalogue scoring: every item for 1,000 users (or --score-users N|all).
        int users = Math.Min(scoreUserLimit, data.UserCount);
        const int UsersPerCall = 64;
        var scores = new float[UsersPerCall * data.ItemCount];
        var batch = new int[UsersPerCall];
        var clock = Stopwatch.StartNew();
        for (int first = 0; first < users; first += UsersPerCall)
        {
            int count = Math.Min(UsersPerCall, users - first);
            for (int u = 0; u < count; u++)
            {
                batch[u] = first + u;
            }

            model.ScoreAllItems(batch.AsSpan(0, count), scores);
        }

        double scoreRate = (double)users * data.ItemCount / clock.Elapsed.TotalSeconds;
        clock.Restart();
        var metrics = data.Test is null ? default : Evaluator.SampledRanking(model, data.Test, 10, training.Ties, cancellationToken);
        double evalSeconds = clock.Elapsed.TotalSeconds;
        if (json)
        {
            stdout.WriteLine(new JsonLine().Add("data", data.Name).Add("model", Common.Kind(shape.Kind)).Add("factors", shape.Factors)
                .Add("batch", training.BatchSize).Add("optimizer", optimizer).Add("backend", backend.Name)
                .Add("train_samples_per_second", trainRate).Add("score_pairs_per_second", scoreRate)
                .Add("eval_seconds", evalSeconds).Add("hr10", metrics.HitRate));
            return Cli.Ok;
        }

        stdout.WriteLine($"data {data.Name}, {Common.Kind(shape.Kind)} f={shape.Factors}, batch {training.BatchSize}, optimizer {optimizer}, backend {backend.Name}");
        stdout.WriteLine($"training: {Common.Number(trainRate)} samples/s over {result.Epochs.Count} epoch(s)");
        stdout.WriteLine($"scoring:  {Common.Number(scoreRate)} pairs/s (all {Common.Number(data.ItemCount)} items for {users} users)");
        stdout.WriteLine($"sampled evaluation: {evalSeconds:F3} s (HR@10 {metrics.HitRate:F4})");
        return Cli.Ok;
    }
}
