using System.Diagnostics;
using Ncf.Backends;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Cli;

/// <summary>`ncf train`: trains, evaluates every epoch, prints a line (or a JSON object) per epoch and a summary.</summary>
internal static class TrainCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var kept = new System.Runtime.CompilerServices.StrongBox<RunState?>();
        try
        {
            return Run(argv, stdout, stderr, kept, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested && kept.Value is { } state)
        {
            // Cancelled anywhere (between phases, in the final full ranking, while saving): where --resume picks up.
            state.NoteWhereToResume(stderr);
            throw;
        }
    }

    private static int Run(string[] argv, TextWriter stdout, TextWriter stderr, System.Runtime.CompilerServices.StrongBox<RunState?> kept,
        CancellationToken cancellationToken)
    {
        var args = new Arguments(argv, Common.Flags);
        var shape = Common.ModelShape(args);
        var training = Common.Training(args, defaultEpochs: 20, evaluateEachEpoch: true);
        training = training with
        {
            AverageFromEpoch = args.Int("average-from", 0, 0, 100_000),
            EarlyStoppingPatience = args.Int("patience", 0, 0, 1_000_000),
        };
        if (training.AverageFromEpoch > training.Epochs)
        {
            throw new NcfException(training.Epochs == 0
                ? $"--average-from {training.AverageFromEpoch}: the run has no epochs to average (--epochs 0)."
                : $"--average-from {training.AverageFromEpoch}: the run has {training.Epochs} epochs, so nothing would be averaged; " +
                  $"expected an epoch from 1 to {training.Epochs} (0: off).");
        }
        ulong seed = training.Seed;
        bool pretrain = args.Flag("pretrain");
        string? gmfFile = args.String("gmf");
        string? mlpFile = args.String("mlp");
        if ((gmfFile is null) != (mlpFile is null))
        {
            throw new NcfException("--gmf and --mlp go together: the two pre-trained models NeuMF starts from.");
        }

        pretrain |= gmfFile is not null;
        // These shape the assembled NeuMF only; silently ignoring them would let a typo'd command train something else.
        foreach (string option in new[] { "alpha", "finetune-lr", "finetune-optimizer" })
        {
            if (!pretrain && args.Given(option))
            {
                throw new NcfException($"--{option} applies to pre-trained NeuMF only: add --pretrain, or --gmf FILE --mlp FILE.");
            }
        }

        // The paper's α (§3.4.1): the share of the GMF parent in the assembled output layer; it fixes 0.5.
        float alpha = args.Float("alpha", 0.5f);
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new NcfException($"--alpha: expected a number from 0 to 1 (the GMF parent's share of the output layer); got {alpha}.");
        }
        float finetuneLr = args.Float("finetune-lr", training.LearningRate);
        if (!(finetuneLr > 0))
        {
            throw new NcfException($"--finetune-lr: expected a positive number; got {finetuneLr}.");
        }

        // The paper fine-tunes with plain SGD (§3.4.1); the authors' published NeuMF command uses Adam.
        var finetuneOptimizer = args.Choice("finetune-optimizer", OptimizerKind.Sgd, ("sgd", OptimizerKind.Sgd), ("adam", OptimizerKind.Adam),
            ("lazy-adam", OptimizerKind.LazyAdam), ("deferred-adam", OptimizerKind.DeferredAdam));
        bool json = args.Flag("json");
        bool keepBest = args.Choice("checkpoint", false, ("final", false), ("best", true));
        bool fullRanking = args.Flag("full-ranking");
        string? output = args.String("out");
        if (output is not null)
        {
            // Checked now, not after hours of training; and never over a file this run reads.
            Common.CheckOutputPath("--out", output, args.String("data"), gmfFile, mlpFile);
            if (NamesStandardOutput(output))
            {
                // The model's bytes go to standard output (`--out /dev/stdout | gzip > m.ncf.gz`): the log, JSON lines
                // included, goes to stderr, or it would be written into the model.
                stdout = stderr;
            }
        }
        if (pretrain && shape.Kind != ModelKind.NeuMF)
        {
            throw new NcfException("--pretrain applies to --model neumf only.");
        }

        if (Common.HoldOutOption(args) == HoldOut.None && (keepBest || fullRanking || args.Given("ties") || training.EarlyStoppingPatience > 0))
        {
            string option = keepBest ? "--checkpoint best" : fullRanking ? "--full-ranking" : args.Given("ties") ? "--ties" : "--patience";
            throw new NcfException($"{option} needs held-out test cases; --holdout none keeps none.");
        }

        // --refit: the validation run chooses the epoch, then the model is trained again from the same start on the
        // validation rows as well, for exactly that many epochs, and that model is the one reported and saved.
        bool refit = args.Flag("refit");
        if (refit)
        {
            if (!args.Flag("validation"))
            {
                throw new NcfException("--refit retrains for the epoch the validation set chose: add --validation.");
            }

            if (pretrain)
            {
                throw new NcfException("--refit retrains one model: refit each parent (ncf train --model gmf|mlp --validation --refit --out FILE), " +
                    "then assemble them with --gmf FILE --mlp FILE.");
            }

            if (keepBest)
            {
                throw new NcfException("--refit keeps the refitted model's last epoch, which is the epoch the validation set chose; drop --checkpoint best.");
            }

            if (training.Epochs == 0)
            {
                throw new NcfException("--refit needs epochs to choose from: --epochs 1 or more.");
            }

            if (Common.HoldOutOption(args) == HoldOut.None || Common.IsSyntheticData(args.String("data")))
            {
                throw new NcfException("--refit needs a data file split into training, validation and test (--data PATH, --holdout latest).");
            }
        }

        // --state FILE: the training state after every epoch, so that a crash or Ctrl-C costs one epoch; --resume continues from it.
        string? statePath = args.String("state");
        bool resume = args.Flag("resume");
        if (statePath is null)
        {
            if (resume)
            {
                throw new NcfException("--resume continues the run whose training state --state FILE keeps: add --state FILE.");
            }
        }
        else
        {
            Common.CheckOutputPath("--state", statePath, args.String("data"), gmfFile, mlpFile);
            if (output is not null && Ncf.IO.AtomicFile.TargetOf(output) == Ncf.IO.AtomicFile.TargetOf(statePath))
            {
                throw new NcfException($"--state and --out both name {output}: the training state and the model are different files.");
            }

            if (training.Epochs == 0 && !pretrain)
            {
                throw new NcfException("--state keeps the training state at epoch ends, and --epochs 0 has none.");
            }

            RunState.CheckBeforeRun(statePath, resume);
        }

        var createBackend = Common.Backend(args);
        if (gmfFile is null)
        {
            // Parents read from files are not trained, so --optimizer plays no part then.
            Common.RequireDeviceRuns(args, training.Optimizer, "optimizer");
        }

        if (pretrain)
        {
            Common.RequireDeviceRuns(args, finetuneOptimizer, "finetune-optimizer");
        }

        var loadData = Common.DataLoader(args, seed, cancellationToken);
        var loadRefitData = refit ? Common.SeededDataLoader(args, cancellationToken, keepValidation: false) : null;
        args.RejectUnknown("train");
        using var backend = createBackend();
        var loadClock = Stopwatch.StartNew();
        var data = loadData();
        double loadSeconds = loadClock.Elapsed.TotalSeconds;
        // Reading and splitting a large log leaves garbage several times the data's size (an ML-20M-sized log: ~0.8 GB),
        // which the heap would otherwise keep committed under the epoch arrays built next: returned now, one epoch of
        // that log peaks at 1.8 GB resident instead of 2.3 GB. A small heap makes this a few milliseconds.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var popularity = PopularityBaseline(data, training);
        if (Common.TrivialHitRateNote(data.Test, training.TopK, $" and epochs cannot be told apart: give each case {training.TopK} negatives or more (--test-neg; an NCF .test.negative file fixes its own).") is { } trivial)
        {
            (json ? stderr : stdout).WriteLine(trivial);
        }

        if (json)
        {
            // stdout carries JSON lines only.
            foreach (string note in data.Notes)
            {
                stderr.WriteLine($"note: {note}");
            }
        }
        else
        {
            stdout.WriteLine($"data: {data.Name}: {Common.Number(data.UserCount)} users, {Common.Number(data.ItemCount)} items, " +
                $"{Common.Number(data.TrainCount)} training interactions, {Common.Number(data.Test?.Count ?? 0)} test cases (loaded in {loadSeconds:F2} s)");
            stdout.WriteLine($"model: {Common.Kind(shape.Kind)} f={shape.Factors}{(shape.Kind == ModelKind.Gmf ? "" : $" layers={shape.Layers}")}" +
                $"{(pretrain ? " with GMF+MLP pre-training" : "")}; batch {training.BatchSize}, lr {training.LearningRate}, {training.Negatives} negatives, " +
                $"{training.Epochs} epochs, seed {seed}, backend {backend.Name}" +
                (training.AverageFromEpoch > 0 ? $"; weights averaged from epoch {training.AverageFromEpoch}" : ""));
            foreach (string note in data.Notes)
            {
                stdout.WriteLine($"note: {note}");
            }

            if (popularity is { } p)
            {
                stdout.WriteLine($"popularity baseline: HR@10 {p.HitRate:F4}  NDCG@10 {p.Ndcg:F4}");
            }
        }

        if (AutoOptimizerNote(training, shape, data.UserCount, data.ItemCount, backend, pretrain, parentsGiven: gmfFile is not null) is { } auto)
        {
            (json ? stderr : stdout).WriteLine(auto);
        }

        var clock = Stopwatch.StartNew();
        RunState? state = null;
        if (statePath is not null)
        {
            // --optimizer auto is recorded as the kind it resolves to for each model trained with it: the arithmetic. So
            // a state continues under auto, under the kind auto names, or from a build whose default was adam, alike.
            var kinds = OptimizedPhases(training, shape, data.UserCount, data.ItemCount, backend, pretrain);
            string optimizer = kinds.Select(p => p.Kind).Distinct().Count() == 1 ? $"{kinds[0].Kind}"
                : string.Join(", ", kinds.Select(p => $"{p.Kind} ({p.Shape.Kind.ToString().ToUpperInvariant()})"));
            string settings = RunState.Settings(shape, training, optimizer, keepBest, backend.Name, data, phases: refit || (pretrain && gmfFile is null),
                pretrain ? Pretrained(gmfFile, mlpFile, alpha, finetuneLr, finetuneOptimizer) : null, parentsGiven: gmfFile is not null);
            state = kept.Value = resume ? RunState.Resume(statePath, settings) : RunState.Start(statePath, settings);
            // Every phase runs at most --epochs (a refit fewer), so a state further in is refused before anything is printed.
            if (state.SavedEpoch > training.Epochs)
            {
                throw new NcfException($"--epochs {training.Epochs}: {statePath} holds a run already {state.SavedEpoch} epochs in; give --epochs {state.SavedEpoch} or more.");
            }

            if (state.ResumeNote is { } resumed)
            {
                (json ? stderr : stdout).WriteLine(resumed);
            }
        }

        var printer = new EpochPrinter(stdout, stderr, json, training.Epochs);
        var notes = json ? stderr : stdout; // stdout carries JSON lines only
        NcfModel model;
        TrainingResult result;
        Selection? selection = null;
        if (pretrain)
        {
            using var gmf = gmfFile is null
                ? TrainPhase(backend, data, shape with { Kind = ModelKind.Gmf }, training, printer, "gmf", keepBest, notes, cancellationToken, out _, state)
                : LoadPretrained(gmfFile, backend, data, ModelKind.Gmf, shape);
            using var mlp = mlpFile is null
                ? TrainPhase(backend, data, shape with { Kind = ModelKind.Mlp }, training with { Seed = seed + 1 }, printer, "mlp", keepBest, notes, cancellationToken, out _, state)
                : LoadPretrained(mlpFile, backend, data, ModelKind.Mlp, shape);
            model = NcfModel.FromPretrained(gmf, mlp, alpha);
            using var trainer = new NcfTrainer(model, data, training with
            {
                Optimizer = finetuneOptimizer,
                LearningRate = finetuneLr,
                Seed = seed + 2,
                // As the authors' NeuMF.py: the assembled model is evaluated before fine-tuning and may be the best.
                EvaluateBeforeTraining = training.EvaluateEachEpoch,
            });
            printer.Phase = "neumf";
            var best = new BestCheckpoint(model, printer.Epochs);
            result = Fit(trainer, best, printer, "neumf", state, notes, cancellationToken);
            if (keepBest)
            {
                best.Restore();
            }

            if (!result.Cancelled)
            {
                try
                {
                    CheckDiverged(result, model, "neumf", keepBest, notes, state);
                }
                catch
                {
                    model.Dispose();
                    throw;
                }
            }
        }
        else
        {
            model = TrainPhase(backend, data, shape, training, printer, refit ? "select" : null, keepBest, notes, cancellationToken, out result, state);
            if (loadRefitData is not null)
            {
                var chosen = result.Best!;
                int averageFrom = training.AverageFromEpoch;
                selection = new Selection(chosen, result.Epochs, data.TrainCount, result.StoppedEarly);
                model.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                var refitData = loadRefitData(seed);
                RequireSameSplit(data, refitData);
                data = refitData;
                popularity = PopularityBaseline(data, training);
                // Averaging stays as it was up to the chosen epoch: the model validation chose averaged only if it was past --average-from.
                training = training with
                {
                    Epochs = chosen.Epoch,
                    AverageFromEpoch = averageFrom <= chosen.Epoch ? averageFrom : 0,
                    // The refit trains exactly the chosen epochs; with no validation rows left, stopping would watch the test set.
                    EarlyStoppingPatience = 0,
                };
                if (averageFrom > chosen.Epoch)
                {
                    (json ? stderr : stdout).WriteLine($"note: validation chose epoch {chosen.Epoch}, before --average-from {averageFrom}: the refit does not average.");
                }

                printer.Total = chosen.Epoch;
                model = TrainPhase(backend, data, shape, training, printer, "refit", keepBest: false, notes, cancellationToken, out result, state);
            }
        }

        using (model)
        {
            if (result.Cancelled)
            {
                throw new OperationCanceledException();
            }

            if (!Ncf.IO.NcfModelFile.AllFinite(model.Parameters.ToArray()))
            {
                throw new NcfException($"training diverged: the model's parameters are no longer finite numbers (last loss {result.Epochs.LastOrDefault()?.Loss:G4})"
                    + $"{(output is null ? "" : "; nothing was saved")}. Train again with a lower learning rate (--lr{(pretrain ? ", --finetune-lr" : "")}).");
            }

            RankingMetrics? full = fullRanking && data.Test is not null
                ? Evaluator.FullRanking(model, data.Test, data.Known, training.TopK, training.Ties, cancellationToken,
                    Common.UserProgress(stderr, data.Test.Count, "full ranking: "))
                : null;
            if (output is not null)
            {
                new NcfRecommender(model, data)
                {
                    DataSeed = seed, TrainedOnEverything = data.Test is null, TestTargetsFingerprint = data.Test?.TargetsFingerprint(),
                    Ties = training.Ties,
                }.Save(output);
            }

            // The optimizer that trained the reported model: NeuMF's fine-tuning after pre-training, else --optimizer as resolved.
            var optimizer = pretrain ? finetuneOptimizer : NcfTrainer.ResolveOptimizer(training, shape, data.UserCount, data.ItemCount, backend);
            PrintSummary(stdout, json, result, selection, popularity, full, state?.Seconds ?? clock.Elapsed.TotalSeconds, output, data, shape, training,
                optimizer, backend, keepBest);
        }

        return Cli.Ok;
    }

    /// <summary>The baseline every model should beat: items ranked by their number of training interactions.</summary>
    private static RankingMetrics? PopularityBaseline(NcfDataset data, TrainingOptions training) => data.Test is null ? null
        : Evaluator.SampledRanking(new PopularityScorer(data.UserCount, data.ItemPopularity()), data.Test, training.TopK, training.Ties);

    /// <summary>
    /// The refit reads the data again without the validation hold-out; it must be the same split (a file replaced
    /// between the two reads would silently train on another one): the same IDs and test cases, and training rows that
    /// are the first read's plus every row of each validation pair (a file may repeat a pair, and the hold-out takes
    /// all of its rows).
    /// </summary>
    internal static void RequireSameSplit(NcfDataset selection, NcfDataset refit)
    {
        var (a, b) = (selection.Test!, refit.Test!);
        if (!selection.UserIds.Ids.SequenceEqual(refit.UserIds.Ids) || !selection.ItemIds.Ids.SequenceEqual(refit.ItemIds.Ids)
            || !a.Users.AsSpan().SequenceEqual(b.Users) || !a.TargetItems.AsSpan().SequenceEqual(b.TargetItems)
            || !a.Negatives.AsSpan().SequenceEqual(b.Negatives)
            || !RowsAreSelectionsPlusValidation(selection, refit))
        {
            throw new NcfException($"{selection.Name}: read again for the refit, the data is not the split validation chose on (did the file change?).");
        }
    }

    // Compares the training rows as multisets of (user, item) pairs through an order-independent sum of mixed
    // hashes, in memory proportional to the validation cases only (a 20-million-row log needs no copy of its rows).
    private static bool RowsAreSelectionsPlusValidation(NcfDataset selection, NcfDataset refit)
    {
        static long Pair(int user, int item) => ((long)user << 32) | (uint)item;

        var validation = selection.Validation!;
        var held = new HashSet<long>(validation.Count);
        for (int c = 0; c < validation.Count; c++)
        {
            held.Add(Pair(validation.Users[c], validation.TargetItems[c]));
        }

        var found = new HashSet<long>(held.Count);
        ulong refitSum = 0, selectionSum = 0;
        long refitOthers = 0;
        for (int n = 0; n < refit.TrainCount; n++)
        {
            long pair = Pair(refit.TrainUsers[n], refit.TrainItems[n]);
            if (held.Contains(pair))
            {
                found.Add(pair);
            }
            else
            {
                refitSum += Mix(pair);
                refitOthers++;
            }
        }

        for (int n = 0; n < selection.TrainCount; n++)
        {
            selectionSum += Mix(Pair(selection.TrainUsers[n], selection.TrainItems[n]));
        }

        return found.Count == held.Count && refitOthers == selection.TrainCount && refitSum == selectionSum;
    }

    // SplitMix64's step and finaliser: a bijection that spreads every input bit over the output.
    private static ulong Mix(long value) => Ncf.Randomness.CounterHash.Finalize((ulong)value + 0x9E3779B97F4A7C15UL);

    /// <summary>A saved GMF or MLP model for pre-training; its shape and data must match the NeuMF asked for.</summary>
    private static NcfModel LoadPretrained(string path, IBackend backend, NcfDataset data, ModelKind kind, ModelOptions shape)
    {
        var recommender = NcfRecommender.Load(path, backend);
        var model = recommender.Model;
        try
        {
            if (model.Kind != kind || model.Options.Factors != shape.Factors || (kind == ModelKind.Mlp && model.Options.Layers != shape.Layers)
                || model.UserCount != data.UserCount || model.ItemCount != data.ItemCount)
            {
                throw new NcfException($"{path}: expected a {Common.Kind(kind)} model with f={shape.Factors}{(kind == ModelKind.Mlp ? $", {shape.Layers} layers" : "")} " +
                    $"on {data.UserCount} users and {data.ItemCount} items; found {Common.Kind(model.Kind)} f={model.Options.Factors}, {model.Options.Layers} layers, " +
                    $"{model.UserCount} users, {model.ItemCount} items.");
            }

            Common.RequireTrainedOn(recommender, data, path);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// After a phase that diverged (an epoch's loss not finite, so training stopped): an error naming the phase if
    /// the model holds non-finite parameters, else (--checkpoint best kept an earlier epoch) a note. Stopping at once
    /// matters for pre-training: a diverged GMF parent would otherwise be assembled and the MLP trained for nothing.
    /// </summary>
    private static void CheckDiverged(TrainingResult result, NcfModel model, string? phase, bool keepBest, TextWriter notes, RunState? state = null)
    {
        if (!result.Diverged)
        {
            return;
        }

        string what = phase is null or "select" or "refit" ? "training" : $"the {phase} phase";
        if (!Ncf.IO.NcfModelFile.AllFinite(model.Parameters.ToArray()))
        {
            throw new NcfException($"{what} diverged in epoch {result.Final?.Epoch} (loss {result.Final?.Loss:G4}); nothing was saved. "
                + $"Train again with a lower learning rate ({(phase == "neumf" ? "--finetune-lr" : "--lr")})"
                + (state is null ? "." : $", after removing {state.Path} (its last epoch end before the divergence), or with another --state."));
        }

        notes.WriteLine($"note: {what} diverged in epoch {result.Final?.Epoch} (loss {result.Final?.Loss:G4}) and stopped"
            + (keepBest ? "; its best epoch's parameters (--checkpoint best) are kept." : "."));
    }

    /// <summary>Trains one model; with <paramref name="keepBest"/> it ends holding the parameters of its best epoch.</summary>
    private static NcfModel TrainPhase(IBackend backend, NcfDataset data, ModelOptions shape, TrainingOptions training, EpochPrinter printer,
        string? phase, bool keepBest, TextWriter notes, CancellationToken cancellationToken, out TrainingResult result, RunState? state = null)
    {
        var model = new NcfModel(backend, data.UserCount, data.ItemCount, shape);
        try
        {
            printer.Phase = phase;
            if (state?.Finished(phase ?? "train") is { } finished)
            {
                // A phase the resumed run had finished: its reports as printed then, and the model it left (a parent's).
                foreach (var report in finished.Reports)
                {
                    printer.Epochs.Report(report);
                }

                if (finished.Parameters is not null)
                {
                    model.Parameters.Load(finished.Parameters);
                }

                result = new TrainingResult(finished.Reports, false) { Diverged = finished.Diverged, StoppedEarly = finished.StoppedEarly };
                NoteStoppedEarly(result, phase ?? "train", training, notes);
                CheckDiverged(result, model, phase, keepBest, notes, state);
                return model;
            }

            model.Initialize(training.Seed);
            using var trainer = new NcfTrainer(model, data, training);
            var best = new BestCheckpoint(model, printer.Epochs);
            result = Fit(trainer, best, printer, phase ?? "train", state, notes, cancellationToken);
            if (result.Cancelled)
            {
                throw new OperationCanceledException();
            }

            if (keepBest)
            {
                best.Restore();
            }

            CheckDiverged(result, model, phase, keepBest, notes, state);
            // Later phases start from what this one chose (the refit's epochs) or left (a parent's parameters).
            state?.Finish(phase ?? "train", result, phase is "gmf" or "mlp" ? model.Parameters.ToArray() : null);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="NcfTrainer.Fit(int, IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/> for the
    /// options' epochs; with <paramref name="state"/>, from where a saved run stood (its epochs printed again and counted
    /// in the result), saving the state at every epoch end.
    /// </summary>
    private static TrainingResult Fit(NcfTrainer trainer, BestCheckpoint best, EpochPrinter printer, string phase, RunState? state, TextWriter notes,
        CancellationToken cancellationToken)
    {
        var result = state is null
            ? trainer.Fit(best, cancellationToken, printer.Batches)
            : FitFromState(trainer, best, printer, phase, state, cancellationToken);
        NoteStoppedEarly(result, phase, trainer.Options, notes);
        return result;
    }

    // This process's standard output under the names Linux gives it (they are links to whatever fd 1 is).
    private static bool NamesStandardOutput(string path) =>
        Path.GetFullPath(path) is "/dev/stdout" or "/dev/fd/1" or "/proc/self/fd/1";

    /// <summary>
    /// With --optimizer auto (the default), says which phase trains with deferred Adam because its embedding tables pass
    /// <see cref="NcfTrainer.DeferredAdamThreshold"/>: exact Adam would read and write every row's parameter and two
    /// moments at every step (24 bytes a parameter), which at that size is the whole step. Null when every phase gets exact
    /// Adam, when the optimizer was chosen, or when nothing is trained with it: with --pretrain the GMF and MLP phases train
    /// with --optimizer, each on its own tables, and NeuMF's fine-tuning with --finetune-optimizer; parents read from files
    /// are not trained.
    /// </summary>
    internal static string? AutoOptimizerNote(TrainingOptions training, ModelOptions shape, int users, int items, IBackend backend,
        bool pretrain, bool parentsGiven)
    {
        if (training.Optimizer != OptimizerKind.Auto || parentsGiven || training.Epochs == 0)
        {
            return null;
        }

        var deferred = OptimizedPhases(training, shape, users, items, backend, pretrain).Where(p => p.Kind == OptimizerKind.DeferredAdam)
            .Select(p => (p.Who, Embedding: NcfModel.ParameterCount(users, items, p.Shape) - NcfModel.ParameterCount(0, 0, p.Shape))).ToList();
        if (deferred.Count == 0)
        {
            return null;
        }

        string tables = string.Join(" and ", deferred.Select(d => $"{d.Who}'s embedding tables hold {Common.Number(d.Embedding)} parameters"));
        long largest = deferred.Max(d => d.Embedding);
        return $"note: {tables}, so --optimizer auto trains {(deferred.Count == 1 ? "it" : "them")} with deferred Adam: exact Adam's updates, "
            + $"made from the rows each batch uses instead of a sweep of every row at every step (about {Common.Number(largest * 24 / 1e6)} MB a batch), "
            + "2.4 to 15 times as fast on tables this large in the runs measured (docs/performance.md); --optimizer adam keeps the sweep.";
    }

    /// <summary>
    /// The models trained with --optimizer and the kind it resolves to for each: with --pretrain the GMF and MLP parents
    /// (NeuMF's fine-tuning has --finetune-optimizer), else the one model.
    /// </summary>
    private static (string Who, ModelOptions Shape, OptimizerKind Kind)[] OptimizedPhases(TrainingOptions training, ModelOptions shape, int users,
        int items, IBackend backend, bool pretrain)
    {
        (string Who, ModelOptions Shape)[] phases = pretrain
            ? [("the GMF phase", shape with { Kind = ModelKind.Gmf }), ("the MLP phase", shape with { Kind = ModelKind.Mlp })]
            : [("the model", shape)];
        return [.. phases.Select(p => (p.Who, p.Shape, NcfTrainer.ResolveOptimizer(training, p.Shape, users, items, backend)))];
    }

    private static void NoteStoppedEarly(TrainingResult result, string phase, TrainingOptions training, TextWriter notes)
    {
        if (result.StoppedEarly && result.Best is { } chosen)
        {
            string on = chosen.Validation is null ? "test" : "validation";
            int patience = training.EarlyStoppingPatience;
            notes.WriteLine($"note: {(phase == "train" ? "" : $"{RunState.Describe(phase)} ")}stopped early after epoch {result.Final?.Epoch}: " +
                $"no better {on} HR@{training.TopK} than epoch {chosen.Epoch}'s in {patience} epoch{(patience == 1 ? "" : "s")} (--patience).");
        }
    }

    private static TrainingResult FitFromState(NcfTrainer trainer, BestCheckpoint best, EpochPrinter printer, string phase, RunState state,
        CancellationToken cancellationToken)
    {
        var earlier = state.Restore(phase, trainer, best);
        foreach (var report in earlier)
        {
            printer.Epochs.Report(report);
        }

        var result = trainer.Fit(trainer.Options.Epochs - trainer.EpochsDone, state.Saving(phase, trainer, best, earlier), cancellationToken, printer.Batches);
        return earlier.Count == 0 ? result : result with { Epochs = [.. earlier, .. result.Epochs] };
    }

    /// <summary>The pre-trained NeuMF's settings for <see cref="RunState.Settings"/>: the parents (their files' contents, or
    /// trained by the run) and how they are assembled and fine-tuned.</summary>
    private static string Pretrained(string? gmfFile, string? mlpFile, float alpha, float finetuneLr, OptimizerKind finetuneOptimizer)
    {
        static string Digest(string path)
        {
            try
            {
                using var stream = File.OpenRead(path);
                return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream).AsSpan(0, 8));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NcfException($"{path}: cannot read the pre-trained model ({e.Message})", e);
            }
        }

        string parents = gmfFile is null || mlpFile is null ? "parents=trained-here" : $"gmf-sha256={Digest(gmfFile)} mlp-sha256={Digest(mlpFile)}";
        return FormattableString.Invariant($"{parents} alpha={alpha:R} finetune-lr={finetuneLr:R} finetune-optimizer={finetuneOptimizer}");
    }

    /// <summary>
    /// With <paramref name="selection"/> (--refit), the best epoch is the one the validation run chose and its figures
    /// are the refitted model's, which ends at that epoch; the validation run's own test figures are reported beside them.
    /// </summary>
    private static void PrintSummary(TextWriter stdout, bool json, TrainingResult result, Selection? selection, RankingMetrics? popularity,
        RankingMetrics? full, double seconds, string? output, NcfDataset data, ModelOptions shape, TrainingOptions training, OptimizerKind optimizer,
        IBackend backend, bool keepBest)
    {
        var final = result.Final;
        var best = selection is null ? result.Best : final;
        var chosen = selection?.Chosen;
        var epochs = selection is null ? result.Epochs : [.. selection.Epochs, .. result.Epochs];
        if (json)
        {
            var line = new JsonLine()
                .Add("summary", true)
                .Add("model", Common.Kind(shape.Kind))
                .Add("factors", shape.Factors)
                .Add("layers", shape.Kind == ModelKind.Gmf ? 0 : shape.Layers)
                .Add("data", data.Name)
                .Add("users", data.UserCount)
                .Add("items", data.ItemCount)
                .Add("train_positives", data.TrainCount)
                .Add("seed", training.Seed)
                .Add("optimizer", training.Epochs == 0 ? "none" : Common.OptimizerName(optimizer))
                .Add("backend", backend.Name)
                .Add("epochs", (selection?.Epochs ?? result.Epochs).Count(e => e.Epoch > 0))
                .AddOptional("best_epoch", best?.Epoch)
                .Add("best_selected_by", selection is not null || data.Validation is not null ? "validation" : data.Test is not null ? "test" : "none")
                .Add("best_hr10", best?.Test?.HitRate ?? double.NaN)
                .Add("best_ndcg10", best?.Test?.Ndcg ?? double.NaN)
                .Add("final_hr10", final?.Test?.HitRate ?? double.NaN)
                .Add("final_ndcg10", final?.Test?.Ndcg ?? double.NaN)
                .Add("popularity_hr10", popularity?.HitRate ?? double.NaN)
                .Add("popularity_ndcg10", popularity?.Ndcg ?? double.NaN)
                .Add("mean_samples_per_second", epochs.Count == 0 ? 0 : epochs.Sum(e => e.Samples) / Math.Max(1e-9, epochs.Sum(e => e.TrainSeconds)))
                .Add("total_seconds", seconds)
                .Add("model_file", output)
                .Add("checkpoint", keepBest ? "best" : "final")
                .Add("diverged", result.Diverged)
                .Add("stopped_early", selection?.StoppedEarly ?? result.StoppedEarly)
                .Add("average_from", training.AverageFromEpoch);
            if (chosen is not null)
            {
                // The validation run's model at the chosen epoch, trained without the validation rows.
                line.Add("refit", true)
                    .Add("refit_epochs", final?.Epoch ?? 0)
                    .Add("selection_hr10", chosen.Test?.HitRate ?? double.NaN)
                    .Add("selection_ndcg10", chosen.Test?.Ndcg ?? double.NaN)
                    .Add("selection_val_hr10", chosen.Validation?.HitRate ?? double.NaN)
                    .Add("selection_val_ndcg10", chosen.Validation?.Ndcg ?? double.NaN)
                    .Add("selection_train_positives", selection!.TrainPositives);
            }

            if (full is { } f)
            {
                line.Add("full_ranking_hr10", f.HitRate).Add("full_ranking_ndcg10", f.Ndcg);
            }

            stdout.WriteLine(line);
            return;
        }

        if (chosen is not null && final is not null)
        {
            stdout.WriteLine($"epoch {chosen.Epoch} chosen on validation: HR@10 {chosen.Test?.HitRate:F4}  NDCG@10 {chosen.Test?.Ndcg:F4} (trained without the validation rows)");
            stdout.WriteLine($"refit with the validation rows in training ({Common.Number(data.TrainCount)} interactions), {final.Epoch} epoch{(final.Epoch == 1 ? "" : "s")}: " +
                $"HR@10 {final.Test?.HitRate:F4}  NDCG@10 {final.Test?.Ndcg:F4}");
        }
        else if (best is not null && final is not null)
        {
            string by = data.Validation is null ? "test" : "validation";
            stdout.WriteLine($"best epoch {best.Epoch} (chosen on {by}): HR@10 {best.Test?.HitRate:F4}  NDCG@10 {best.Test?.Ndcg:F4}");
            stdout.WriteLine($"final epoch {final.Epoch}: HR@10 {final.Test?.HitRate:F4}  NDCG@10 {final.Test?.Ndcg:F4}");
        }
        else if (final is not null && data.Test is null)
        {
            stdout.WriteLine($"final epoch {final.Epoch}: loss {final.Loss:F4} (nothing held out, so nothing evaluated)");
        }

        if (popularity is { } p)
        {
            string trainedOn = chosen is null ? "" : " (validation rows in training)";
            stdout.WriteLine($"popularity baseline{trainedOn}: HR@10 {p.HitRate:F4}  NDCG@10 {p.Ndcg:F4}");
        }

        if (full is { } fr)
        {
            stdout.WriteLine($"full ranking (all items, the user's known items excluded): HR@10 {fr.HitRate:F4}  NDCG@10 {fr.Ndcg:F4}");
        }

        string saved = output is null ? "" : $"; model saved to {output} ({(chosen is not null ? $"refitted, epoch {final?.Epoch}" : keepBest && best is not null ? $"best epoch {best.Epoch}" : "final epoch")})";
        stdout.WriteLine($"total {seconds:F1} s{saved}");
    }

    /// <summary>What the validation run of --refit leaves: the epoch it chose, its epochs, and how many training rows it had.</summary>
    private sealed record Selection(EpochReport Chosen, IReadOnlyList<EpochReport> Epochs, int TrainPositives, bool StoppedEarly);

    /// <summary>Prints epoch reports (text or JSON) and in-epoch progress on stderr for long epochs.</summary>
    private sealed class EpochPrinter
    {
        private readonly TextWriter _stdout, _stderr;
        private readonly bool _json;

        public EpochPrinter(TextWriter stdout, TextWriter stderr, bool json, int epochs)
        {
            _stdout = stdout;
            _stderr = stderr;
            _json = json;
            Total = epochs;
            Epochs = new InlineProgress<EpochReport>(Print);
            Batches = new InlineProgress<BatchProgress>(PrintProgress);
        }

        public string? Phase { get; set; }

        /// <summary>The phase's number of epochs, for "epoch 3/20".</summary>
        public int Total { get; set; }

        public IProgress<EpochReport> Epochs { get; }

        public IProgress<BatchProgress> Batches { get; }

        private void Print(EpochReport r)
        {
            if (_json)
            {
                var line = new JsonLine();
                if (Phase is not null)
                {
                    line.Add("phase", Phase);
                }

                line.Add("epoch", r.Epoch)
                    .Add("loss", r.Loss)
                    .Add("hr10", r.Test?.HitRate ?? double.NaN)
                    .Add("ndcg10", r.Test?.Ndcg ?? double.NaN);
                if (r.Validation is { } v)
                {
                    line.Add("val_hr10", v.HitRate).Add("val_ndcg10", v.Ndcg);
                }

                if (r.AveragedEpochs > 0)
                {
                    line.Add("averaged_epochs", r.AveragedEpochs);
                }

                line.Add("train_seconds", r.TrainSeconds)
                    .Add("samples", r.Samples)
                    .Add("samples_per_second", r.SamplesPerSecond)
                    .Add("prep_seconds", r.PrepSeconds)
                    .Add("eval_seconds", r.EvalSeconds);
                _stdout.WriteLine(line);
                return;
            }

            string phase = Phase is null ? "" : $"[{Phase}] ";
            string validation = r.Validation is { } val ? $"  val HR@10 {val.HitRate:F4} NDCG@10 {val.Ndcg:F4}" : "";
            string metrics = r.Test is { } t ? $"  HR@10 {t.HitRate:F4}  NDCG@10 {t.Ndcg:F4}" : "";
            if (r.Epoch == 0)
            {
                _stdout.WriteLine($"{phase}epoch   0/{Total}  before training{metrics}{validation}  (eval {r.EvalSeconds:F2} s)");
                return;
            }

            string averaged = r.AveragedEpochs > 0 ? $"  (mean of {r.AveragedEpochs} epoch{(r.AveragedEpochs == 1 ? "" : "s")})" : "";
            _stdout.WriteLine($"{phase}epoch {r.Epoch,3}/{Total}  loss {r.Loss:F4}{metrics}{averaged}{validation}  " +
                $"{r.TrainSeconds:F2} s  {Common.Number(r.SamplesPerSecond)} samples/s  (prep {r.PrepSeconds:F2} s, eval {r.EvalSeconds:F2} s)");
        }

        private void PrintProgress(BatchProgress p)
        {
            if (!_json && p.SamplesDone < p.SamplesTotal && p.SamplesDone > 0)
            {
                _stderr.WriteLine($"  epoch {p.Epoch}: {100.0 * p.SamplesDone / p.SamplesTotal:F0}% ({Common.Number(p.SamplesDone)}/{Common.Number(p.SamplesTotal)} samples), loss {p.RunningLoss:F4}");
            }
        }
    }
}
