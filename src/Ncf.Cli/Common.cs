using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;

namespace Ncf.Cli;

/// <summary>Option handling shared by the commands: data, model shape, device.</summary>
internal static class Common
{
    public static readonly IReadOnlySet<string> Flags = new HashSet<string>
    {
        "json", "pretrain", "validation", "refit", "resume", "full-ranking", "include-known", "all-users", "help", "ceilings", "overwrite", "fold-in",
    };

    /// <summary>
    /// Reads the data options (--data --format --header --validation --min-interactions --test-neg --holdout) and returns the loader,
    /// so that a command can reject unknown options before it spends time loading anything.
    /// </summary>
    public static Func<NcfDataset> DataLoader(Arguments args, ulong seed, CancellationToken cancellationToken)
    {
        var load = SeededDataLoader(args, cancellationToken);
        return () => load(seed);
    }

    /// <summary>
    /// As <see cref="DataLoader"/>, with the seed of the split's random draws given when loading. Without
    /// <paramref name="keepValidation"/> the validation rows stay in training (`--refit`); the test cases and their
    /// negatives are the same either way.
    /// </summary>
    public static Func<ulong, NcfDataset> SeededDataLoader(Arguments args, CancellationToken cancellationToken, bool keepValidation = true)
    {
        string? path = args.String("data");
        string? formatName = args.String("format");
        var format = formatName is null ? DatasetFormat.Auto : DatasetFormats.Parse(formatName);
        bool validation = args.Flag("validation") && keepValidation;
        int minInteractions = args.Int("min-interactions", 0, 0, 1_000_000);
        int testNegatives = args.Int("test-neg", 99, 1, 100_000);
        var holdOut = HoldOutOption(args);
        bool? hasHeader = args.Choice<bool?>("header", null, ("auto", null), ("yes", true), ("no", false));
        var fileOptions = new[] { "format", "header", "validation", "min-interactions", "test-neg", "holdout" }.Where(args.Given).ToArray();
        if (IsSyntheticData(path))
        {
            if (fileOptions.Length > 0)
            {
                throw new NcfException($"{string.Join(", ", fileOptions.Select(o => "--" + o))}: only with a data file (--data PATH); "
                    + "the synthetic data has its own split.");
            }

            if (path is null)
            {
                return _ => SyntheticData.Generate();
            }

            var synthetic = SyntheticOptions(path);
            return _ => SyntheticData.Generate(synthetic);
        }

        if (holdOut == HoldOut.None && (validation || args.Given("test-neg")))
        {
            throw new NcfException("--holdout none trains on every interaction and keeps no test or validation cases; drop --validation and --test-neg.");
        }

        return seed => DataFiles.Load(path, format, validation, seed, cancellationToken, minInteractions, testNegatives, holdOut, hasHeader);
    }

    /// <summary>
    /// Refuses, before any work, an output path that cannot be written (empty, a folder, under a file) or that is one
    /// of the run's <paramref name="inputs"/> (a model written over its data or its parents would destroy them; for an
    /// NCF prefix, its three files count). Links are followed, so two names of one file are the same file.
    /// </summary>
    public static void CheckOutputPath(string option, string output, params string?[] inputs)
    {
        if (string.IsNullOrWhiteSpace(output))
        {
            throw new NcfException($"{option} '{output}': not a usable file path (empty).");
        }

        // The very file the atomic write will replace, by the same rule.
        string target;
        try
        {
            target = Ncf.IO.AtomicFile.TargetOf(output);
        }
        catch (NcfException e)
        {
            throw new NcfException($"{option} {e.Message}", e);
        }

        for (string? ancestor = Path.GetDirectoryName(target); ancestor is not null; ancestor = Path.GetDirectoryName(ancestor))
        {
            if (File.Exists(ancestor))
            {
                throw new NcfException($"{option} {output}: {ancestor} is a file, not a folder.");
            }

            if (Directory.Exists(ancestor))
            {
                break;
            }
        }

        foreach (string file in inputs.SelectMany(InputFiles))
        {
            if (File.Exists(file) && string.Equals(Ncf.IO.AtomicFile.TargetOf(file), target, StringComparison.Ordinal))
            {
                throw new NcfException($"{option} {output}: is {file}, which this run reads; write the output elsewhere.");
            }
        }
    }

    // The files an input path stands for: itself, and for data the file a folder resolves to or an NCF prefix's
    // files (gzipped or not). A path that does not resolve is reported by its reader later.
    private static IEnumerable<string> InputFiles(string? input)
    {
        if (input is null || IsSyntheticData(input))
        {
            return [];
        }

        var files = new List<string> { Path.GetFullPath(input) };
        try
        {
            var (resolved, format) = NcfDataLoader.Resolve(input);
            files.Add(Path.GetFullPath(resolved));
            if (format == DatasetFormat.Ncf)
            {
                foreach (string suffix in (string[])[".train.rating", ".test.negative", ".test.rating"])
                {
                    files.Add(Path.GetFullPath(resolved + suffix));
                    files.Add(Path.GetFullPath(resolved + suffix + ".gz"));
                }
            }
        }
        catch (NcfException)
        {
        }

        return files;
    }

    /// <summary>
    /// Progress through <paramref name="users"/> users (the full-catalogue ranking, every user's recommendations), as a
    /// line on <paramref name="log"/> at most every 10 s, <paramref name="what"/> first; none for work that ends sooner.
    /// Over a large catalogue such work takes minutes.
    /// </summary>
    public static IProgress<int> UserProgress(TextWriter log, int users, string what = "")
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double last = 0;
        return new InlineProgress<int>(done =>
        {
            double now = clock.Elapsed.TotalSeconds;
            if (now - last >= 10 && done < users)
            {
                last = now;
                log.WriteLine($"  {what}{Number(done)} of {Number(users)} users ({100.0 * done / users:F0}%), {now:F0} s");
            }
        });
    }

    /// <summary>
    /// A note when some case ranks its item among <paramref name="k"/> or fewer sampled candidates (NCF negative files
    /// may vary per line): there the sampled HR@K is 1 whatever the model. <paramref name="advice"/> ends it. Null
    /// when every case has more.
    /// </summary>
    public static string? TrivialHitRateNote(EvaluationSet? cases, int k, string advice)
    {
        int fewest = int.MaxValue;
        for (int c = 0; c < (cases?.Count ?? 0); c++)
        {
            fewest = Math.Min(fewest, cases!.NegativesOf(c).Length + 1);
        }

        return fewest > k ? null
            : $"note: a case ranks its item among as few as {fewest} sampled candidates, so the sampled HR@{k} is 1 by construction there{advice}";
    }

    /// <summary>Whether --data names the embedded synthetic data: none given, or a "synthetic:USERSxITEMSxMEAN" spec.</summary>
    public static bool IsSyntheticData([NotNullWhen(false)] string? path) => path is null || path.StartsWith("synthetic:", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Refuses a saved model (to evaluate, or to pre-train from) that was not trained on <paramref name="data"/>'s
    /// split: other user or item IDs, or their order (a reordered file of the same size maps other IDs to the same
    /// rows); other interactions (an edited file); or every interaction, test items included (--holdout none), where
    /// the data holds test cases. The interactions must lie between the data's training pairs and all it knows: a
    /// model file keeps training, validation and test pairs (files saved before model format 2 only the training ones).
    /// </summary>
    public static void RequireTrainedOn(NcfRecommender recommender, NcfDataset data, string path)
    {
        if (!recommender.UserIds.Ids.SequenceEqual(data.UserIds.Ids) || !recommender.ItemIds.Ids.SequenceEqual(data.ItemIds.Ids))
        {
            throw new NcfException($"{path}: the model's user or item IDs are not {data.Name}'s in the same order; use a model with the data it was trained on.");
        }

        if (recommender.TrainedOnEverything && data.Test is not null)
        {
            throw new NcfException($"{path}: the model was trained on every interaction (--holdout none), the test items included: "
                + "scored on them, or used as a parent of a model that is, it would flatter the figures.");
        }

        if (recommender.TestTargetsFingerprint is { } targets && data.Test is { } test && test.TargetsFingerprint() != targets)
        {
            throw new NcfException($"{path}: the model was trained on another split of these interactions (other test items, "
                + "e.g. other timestamps or row order): it has seen this split's test items, so its figures would flatter it. "
                + "Use the data options it was trained with.");
        }

        var known = recommender.KnownItems;
        if (!Contains(known, data.Train) || !Contains(data.Known, known))
        {
            throw new NcfException($"{path}: the model's interactions ({known.PairCount} user-item pairs) are not those of {data.Name} "
                + $"({data.Known.PairCount} pairs); use a model with the data it was trained on.");
        }

        static bool Contains(UserItemIndex outer, UserItemIndex inner)
        {
            for (int u = 0; u < inner.UserCount; u++)
            {
                foreach (int item in inner.ItemsOf(u))
                {
                    if (!outer.Contains(u, item))
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }

    /// <summary>--holdout latest|none: the paper's leave-one-out test (default), or nothing held out (a model to serve).</summary>
    public static HoldOut HoldOutOption(Arguments args) =>
        args.Choice("holdout", HoldOut.Latest, ("latest", HoldOut.Latest), ("none", HoldOut.None));

    /// <summary><c>synthetic:USERSxITEMSxMEAN</c>: the embedded generator at another size (e.g. 6040x3706x165 ≈ ML-1M).</summary>
    private static SyntheticDataOptions SyntheticOptions(string spec)
    {
        var parts = spec["synthetic:".Length..].Split('x');
        if (parts.Length != 3 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int users) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int items)
            || !int.TryParse(parts[2], CultureInfo.InvariantCulture, out int mean) || users < 1 || items < 120 || mean < 10)
        {
            throw new NcfException($"--data {spec}: expected synthetic:USERSxITEMSxMEAN, e.g. synthetic:6040x3706x165 (items ≥ 120, mean ≥ 10).");
        }

        return new SyntheticDataOptions { Users = users, Items = items, MeanPerUser = mean };
    }

    /// <summary>The training options shared by `train` and `bench` (--epochs --batch --lr --neg --seed --threads --l2 --optimizer --ties).</summary>
    public static Ncf.Training.TrainingOptions Training(Arguments args, int defaultEpochs, bool evaluateEachEpoch)
    {
        var options = new Ncf.Training.TrainingOptions
        {
            Epochs = args.Int("epochs", defaultEpochs, 0, 100_000),
            BatchSize = args.Int("batch", 256, 1, 1 << 24),
            LearningRate = args.Float("lr", 0.001f),
            Negatives = args.Int("neg", 4, 0, 1000),
            Seed = args.ULong("seed", 42),
            SamplerThreads = args.Int("threads", 0, 0, 1024),
            L2 = args.Float("l2", 0f),
            Optimizer = args.Choice("optimizer", Ncf.Training.OptimizerKind.Auto, ("auto", Ncf.Training.OptimizerKind.Auto), ("adam", Ncf.Training.OptimizerKind.Adam),
                ("lazy-adam", Ncf.Training.OptimizerKind.LazyAdam), ("deferred-adam", Ncf.Training.OptimizerKind.DeferredAdam),
                ("sgd", Ncf.Training.OptimizerKind.Sgd)),
            Ties = args.Choice("ties", Ncf.Evaluation.TieBreaking.Pessimistic, ("pessimistic", Ncf.Evaluation.TieBreaking.Pessimistic),
                ("optimistic", Ncf.Evaluation.TieBreaking.Optimistic)),
            EvaluateEachEpoch = evaluateEachEpoch,
            FusedCpuStep = args.Choice("step", true, ("fused", true), ("layered", false)),
        };
        options.Validate();
        return options;
    }

    /// <summary>An optimizer as --optimizer names it.</summary>
    public static string OptimizerName(Ncf.Training.OptimizerKind kind) => kind switch
    {
        Ncf.Training.OptimizerKind.Adam => "adam",
        Ncf.Training.OptimizerKind.LazyAdam => "lazy-adam",
        Ncf.Training.OptimizerKind.DeferredAdam => "deferred-adam",
        Ncf.Training.OptimizerKind.Sgd => "sgd",
        _ => "auto",
    };

    public static ModelOptions ModelShape(Arguments args, ModelKind? fallbackKind = null) => new()
    {
        Kind = args.Choice("model", fallbackKind ?? ModelKind.NeuMF, ("gmf", ModelKind.Gmf), ("mlp", ModelKind.Mlp), ("neumf", ModelKind.NeuMF)),
        Factors = args.Int("factors", 8, 1, 4096),
        Layers = args.Int("layers", 3, 1, 10),
    };

    /// <summary>
    /// Reads --threads, --step and --device and returns the backend's factory; the device is opened only when it is
    /// called. --device: cpu (default, the SIMD kernels), cuda, opencl, ilgpu-cpu (ILGPU's simulator, slow), each
    /// optionally with :N for the N-th such device (as `ncf devices` lists them), or auto (CUDA, else OpenCL, else
    /// cpu). A requested device that is missing is an error, not a silent fallback; so are the CPU backend's options
    /// (--threads, --step) with a GPU device, which would be ignored.
    /// </summary>
    public static Func<IBackend> Backend(Arguments args)
    {
        int threads = args.Int("threads", 0, 0, 1024);
        var (device, index) = Device(args);
        if (IsGpu(device) && new[] { "threads", "step" }.FirstOrDefault(args.Given) is { } cpuOnly)
        {
            throw new NcfException($"--{cpuOnly} shapes the CPU backend; --device {device} runs on the GPU backend, which would ignore it. Drop one of them.");
        }

        // How a GPU sums embedding gradients: atomics (CUDA's default, fastest, last bits vary from run to run) or
        // the sorted method (same bits every run, as the CPU). The CPU backend is deterministic whatever is asked.
        var scatter = args.Choice<Ncf.Gpu.ScatterAddMethod?>("scatter", null, ("auto", Ncf.Gpu.ScatterAddMethod.Auto),
            ("atomic", Ncf.Gpu.ScatterAddMethod.Atomic), ("sorted", Ncf.Gpu.ScatterAddMethod.Sorted));
        if (scatter is not null && device == "cpu")
        {
            throw new NcfException("--scatter chooses how a GPU device sums embedding gradients; the CPU backend is always deterministic. Give it with --device cuda, opencl or ilgpu-cpu, or drop it.");
        }

        return device switch
        {
            "cpu" => () => new CpuBackend(threads: threads),
            "auto" => () => FirstGpuOrCpu(threads, scatter),
            "cuda" or "opencl" or "ilgpu-cpu" => () => Gpu(Ncf.Gpu.IlgpuBackend.ParseKind(device), scatter, index),
            _ => throw new NcfException($"--device expects cpu, cuda, opencl, ilgpu-cpu or auto; got '{device}'."),
        };
    }

    /// <summary>
    /// Refuses, before any data is read, an optimizer the asked-for GPU device cannot run: lazy and deferred Adam take
    /// each batch's distinct IDs on the host. (With --device auto the trainer refuses it once the device is known.)
    /// </summary>
    public static void RequireDeviceRuns(Arguments args, Ncf.Training.OptimizerKind optimizer, string option)
    {
        string device = Device(args).Name;
        if (IsGpu(device) && optimizer is Ncf.Training.OptimizerKind.LazyAdam or Ncf.Training.OptimizerKind.DeferredAdam)
        {
            throw new NcfException($"--{option} {OptimizerName(optimizer)} needs each batch's IDs "
                + $"on the host, which --device {device} does not keep: use adam or sgd there.");
        }
    }

    // --device as (name, number): "opencl:1" is the second OpenCL device; without a number, the first.
    private static (string Name, int Index) Device(Arguments args)
    {
        string device = (args.String("device") ?? "cpu").Trim().ToLowerInvariant();
        if (device.IndexOf(':') is not (var colon and > 0))
        {
            return (device, 0);
        }

        if (!int.TryParse(device.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            throw new NcfException($"--device {device}: expected a device number after the colon, as `ncf devices` lists them (opencl:0).");
        }

        string name = device[..colon];
        return name is "cpu" or "auto" ? throw new NcfException($"--device {name} takes no device number.") : (name, index);
    }

    private static bool IsGpu(string device) => device is "cuda" or "opencl" or "ilgpu-cpu";

    private static Ncf.Gpu.IlgpuBackend Gpu(Ncf.Gpu.GpuDeviceKind kind, Ncf.Gpu.ScatterAddMethod? scatter, int index = 0)
    {
        var backend = Ncf.Gpu.IlgpuBackend.Create(kind, index);
        if (scatter is { } method)
        {
            backend.ScatterAddMethod = method;
        }

        return backend;
    }

    private static IBackend FirstGpuOrCpu(int threads, Ncf.Gpu.ScatterAddMethod? scatter)
    {
        foreach (var kind in new[] { Ncf.Gpu.GpuDeviceKind.Cuda, Ncf.Gpu.GpuDeviceKind.OpenCL })
        {
            if (Ncf.Gpu.IlgpuBackend.IsAvailable(kind))
            {
                return Gpu(kind, scatter);
            }
        }

        return new CpuBackend(threads: threads);
    }

    public static string Number(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Kind(ModelKind kind) => kind switch
    {
        ModelKind.Gmf => "gmf",
        ModelKind.Mlp => "mlp",
        _ => "neumf",
    };
}
