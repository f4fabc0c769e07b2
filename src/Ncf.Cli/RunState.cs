using System.Diagnostics;
using System.Text;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Cli;

/// <summary>
/// `ncf train --state FILE [--resume]`: the trainer's state (<see cref="NcfTrainer.SaveState(string, ReadOnlySpan{byte})"/>)
/// written at every epoch end, with what the command needs to finish as the run that never stopped would: its settings
/// (a resumed run must be given the same), the phase under way (a run trains one model, or several: a validation run and
/// its refit, or the GMF and MLP parents and then NeuMF), the phases finished before it (their reports, and the
/// parents' parameters), the phase's epoch reports so far, its best epoch's parameters (--checkpoint best) and the time
/// spent. A crash or Ctrl-C costs at most the epoch under way.
/// </summary>
internal sealed class RunState
{
    private const byte Format = 2; // 2: finished phases record an early stop
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _settings;
    private readonly double _earlierSeconds;
    private readonly List<FinishedPhase> _finished = [];

    // The saved run's phase under way, its reports and best epoch, when resuming; consumed by the phase that restores it.
    private string? _savedPhase;
    private IReadOnlyList<EpochReport> _savedReports = [];
    private (double HitRate, float[] Parameters)? _savedBest;
    private TrainingState? _savedTrainer; // read and checked once, with the reports above

    private RunState(string path, string settings, double earlierSeconds)
    {
        Path = path;
        _settings = settings;
        _earlierSeconds = earlierSeconds;
    }

    /// <summary>A phase the saved run had finished: its reports, and the model it left when a later phase needs it.</summary>
    public sealed record FinishedPhase(string Name, IReadOnlyList<EpochReport> Reports, bool Diverged, bool StoppedEarly, float[]? Parameters);

    public string Path { get; }

    /// <summary>The phase and epochs done of the state last written for this run (null before the first save).</summary>
    public (string Phase, int Epochs)? Saved { get; private set; }

    /// <summary>
    /// After a cancellation: says where the state stands and how to continue (on stderr beside "ncf: cancelled", also in
    /// text mode, where notes go to stdout). Nothing before the first save.
    /// </summary>
    public void NoteWhereToResume(TextWriter stderr)
    {
        if (Saved is not var (phase, epochs))
        {
            return;
        }

        stderr.WriteLine($"note: {Path} holds the training state after epoch {epochs}{(phase == "train" ? "" : $" of {Describe(phase)}")}: " +
            "the same command with --resume continues from there.");
    }

    /// <summary>A phase as the notes name it: "the validation run", "the refit", "the GMF phase".</summary>
    public static string Describe(string phase) => phase switch
    {
        "select" => "the validation run",
        "refit" => "the refit",
        "train" => "the run",
        _ => $"the {phase.ToUpperInvariant().Replace("NEUMF", "NeuMF")} phase",
    };

    /// <summary>Seconds the run has taken so far, earlier processes included.</summary>
    public double Seconds => _earlierSeconds + _clock.Elapsed.TotalSeconds;

    /// <summary>Refused before anything is read: a state the run would overwrite, or a resume without a state.</summary>
    public static void CheckBeforeRun(string path, bool resume)
    {
        bool exists = File.Exists(path);
        if (exists && !resume)
        {
            throw new NcfException(NcfTrainer.LooksLikeState(path)
                ? $"--state {path}: the file exists and holds a run's training state; add --resume to continue that run, or remove the file to start anew."
                : $"--state {path}: the file exists and is not a training state, which the run would replace at its first epoch end; choose another path.");
        }

        if (!exists && resume)
        {
            throw new NcfException($"--resume: {path} does not exist{(Directory.Exists(path) ? " as a file (it is a folder)" : "")}; without --resume the run starts anew and keeps its state there.");
        }

        // The state is first written after an epoch, which may be hours in: a folder it cannot be written to is found now.
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Ncf.IO.AtomicFile.TargetOf(path)))!;
        try
        {
            Directory.CreateDirectory(folder); // as the state's atomic write would
            using (File.Create(System.IO.Path.Combine(folder, $".ncf-state-probe-{Environment.ProcessId}-{Guid.NewGuid():N}"), 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NcfException($"--state {path}: cannot write in {folder} ({e.Message}).", e);
        }
    }

    /// <summary>A new run's state, first written at its first epoch end.</summary>
    public static RunState Start(string path, string settings) => new(path, settings, 0);

    /// <summary>The state a stopped run left in <paramref name="path"/>, which must have been written with the same settings.</summary>
    public static RunState Resume(string path, string settings)
    {
        var trainerState = NcfTrainer.ReadState(path);
        byte[] callerData = trainerState.CallerData.ToArray();
        try
        {
            using var reader = new BinaryReader(new MemoryStream(callerData), Encoding.UTF8);
            if (callerData.Length == 0 || reader.ReadByte() != Format)
            {
                throw new NcfException($"{path}: a training state, but not one written by this version of `ncf train --state`.");
            }

            string saved = reader.ReadString();
            if (saved != settings)
            {
                throw new NcfException($"{path}: the state was written by a run with other settings ({Difference(saved, settings)}). " +
                    "Resume with the same options and data; only --threads, --step, --scatter, --out, --json, --full-ranking and, when one model is trained, --epochs may change.");
            }

            var state = new RunState(path, settings, reader.ReadDouble()) { _savedTrainer = trainerState };
            int finished = reader.ReadInt32();
            for (int f = 0; f < finished; f++)
            {
                string name = reader.ReadString();
                var reports = ReadReports(reader);
                bool diverged = reader.ReadBoolean(), stoppedEarly = reader.ReadBoolean();
                state._finished.Add(new FinishedPhase(name, reports, diverged, stoppedEarly, ReadFloats(reader)));
            }

            state._savedPhase = reader.ReadString();
            state._savedReports = ReadReports(reader);
            if (reader.ReadBoolean())
            {
                state._savedBest = (reader.ReadDouble(), ReadFloats(reader) ?? throw new EndOfStreamException());
            }

            if (reader.BaseStream.Position != callerData.Length)
            {
                throw new NcfException($"{path}: unexpected bytes after the run's reports.");
            }

            return state;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or OverflowException or ArgumentException)
        {
            throw new NcfException($"{path}: the run's own part of the state is not as `ncf train --state` writes it ({e.Message}).", e);
        }
    }

    /// <summary>With --resume, the epochs the saved phase had done (0 for a new run).</summary>
    public int SavedEpoch => _savedReports.Count == 0 ? 0 : _savedReports[^1].Epoch;

    /// <summary>With --resume, what to tell before any epoch line is printed again; null for a new run.</summary>
    public string? ResumeNote => _savedPhase is not { } phase ? null
        : $"note: resumed from {Path} after epoch {SavedEpoch}{(phase == "train" ? "" : $" of {Describe(phase)}")}; " +
          "the epochs before it are as that run reported them.";

    /// <summary>The saved run's result of <paramref name="phase"/>, when it had finished it.</summary>
    public FinishedPhase? Finished(string phase) => _finished.FirstOrDefault(f => f.Name == phase);

    /// <summary>Records a finished phase, written with every later state; <paramref name="parameters"/> when a later phase needs its model.</summary>
    public void Finish(string phase, TrainingResult result, float[]? parameters)
    {
        if (Finished(phase) is null)
        {
            _finished.Add(new FinishedPhase(phase, result.Epochs, result.Diverged, result.StoppedEarly, parameters));
        }
    }

    /// <summary>
    /// When the saved run stood in <paramref name="phase"/>, puts <paramref name="trainer"/> and <paramref name="best"/>
    /// where it stood and returns its epoch reports (to be printed and summarised again); else nothing.
    /// </summary>
    public IReadOnlyList<EpochReport> Restore(string phase, NcfTrainer trainer, BestCheckpoint best)
    {
        if (_savedPhase != phase)
        {
            return [];
        }

        _savedPhase = null;
        trainer.RestoreState(_savedTrainer!);
        _savedTrainer = null;
        if (_savedBest is { } saved)
        {
            best.Set(saved.HitRate, saved.Parameters);
        }

        Saved = (phase, trainer.EpochsDone);
        return _savedReports;
    }

    /// <summary>Passes each epoch's report to <paramref name="best"/>, then saves the state with the reports so far.</summary>
    public IProgress<EpochReport> Saving(string phase, NcfTrainer trainer, BestCheckpoint best, IReadOnlyList<EpochReport> earlier)
    {
        var reports = new List<EpochReport>(earlier);
        return new InlineProgress<EpochReport>(report =>
        {
            best.Report(report);
            reports.Add(report);
            // A diverged epoch is not kept: its parameters are no longer numbers; the state of the epoch before it stays.
            if (report.Epoch > 0 && !double.IsFinite(report.Loss))
            {
                return;
            }

            trainer.SaveState(Path, Encode(phase, reports, best));
            Saved = (phase, trainer.EpochsDone);
        });
    }

    private byte[] Encode(string phase, List<EpochReport> reports, BestCheckpoint best)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write(_settings);
            writer.Write(Seconds);
            writer.Write(_finished.Count);
            foreach (var finished in _finished)
            {
                writer.Write(finished.Name);
                WriteReports(writer, finished.Reports);
                writer.Write(finished.Diverged);
                writer.Write(finished.StoppedEarly);
                WriteFloats(writer, finished.Parameters);
            }

            writer.Write(phase);
            WriteReports(writer, reports);
            writer.Write(best.Parameters is not null);
            if (best.Parameters is { } parameters)
            {
                writer.Write(best.HitRate);
                WriteFloats(writer, parameters);
            }
        }

        return buffer.ToArray();
    }

    private static void WriteFloats(BinaryWriter writer, float[]? values)
    {
        writer.Write(values is not null);
        if (values is null)
        {
            return;
        }

        writer.Write(values.Length);
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static float[]? ReadFloats(BinaryReader reader)
    {
        if (!reader.ReadBoolean())
        {
            return null;
        }

        int count = reader.ReadInt32();
        if (count < 0 || (long)count * sizeof(float) > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new EndOfStreamException();
        }

        var values = new float[count];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    private static void WriteReports(BinaryWriter writer, IReadOnlyList<EpochReport> reports)
    {
        writer.Write(reports.Count);
        foreach (var r in reports)
        {
            writer.Write(r.Epoch);
            writer.Write(r.Loss);
            WriteMetrics(writer, r.Test);
            WriteMetrics(writer, r.Validation);
            writer.Write(r.AveragedEpochs);
            writer.Write(r.Samples);
            writer.Write(r.TrainSeconds);
            writer.Write(r.PrepSeconds);
            writer.Write(r.EvalSeconds);
        }
    }

    private static EpochReport[] ReadReports(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > reader.BaseStream.Length)
        {
            throw new EndOfStreamException();
        }

        var reports = new EpochReport[count];
        for (int r = 0; r < reports.Length; r++)
        {
            reports[r] = new EpochReport
            {
                Epoch = reader.ReadInt32(),
                Loss = reader.ReadDouble(),
                Test = ReadMetrics(reader),
                Validation = ReadMetrics(reader),
                AveragedEpochs = reader.ReadInt32(),
                Samples = reader.ReadInt64(),
                TrainSeconds = reader.ReadDouble(),
                PrepSeconds = reader.ReadDouble(),
                EvalSeconds = reader.ReadDouble(),
            };
        }

        return reports;
    }

    private static void WriteMetrics(BinaryWriter writer, RankingMetrics? metrics)
    {
        writer.Write(metrics is not null);
        if (metrics is { } m)
        {
            writer.Write(m.HitRate);
            writer.Write(m.Ndcg);
            writer.Write(m.Cases);
            writer.Write(m.K);
        }
    }

    private static RankingMetrics? ReadMetrics(BinaryReader reader) => reader.ReadBoolean()
        ? new RankingMetrics(reader.ReadDouble(), reader.ReadDouble(), reader.ReadInt32(), reader.ReadInt32())
        : null;

    /// <summary>The first setting that differs, as "`lr=0.0005` there, `lr=0.001` here".</summary>
    private static string Difference(string saved, string current)
    {
        var there = saved.Split('\n');
        var here = current.Split('\n');
        for (int i = 0; i < Math.Max(there.Length, here.Length); i++)
        {
            string a = i < there.Length ? there[i] : "(nothing)", b = i < here.Length ? here[i] : "(nothing)";
            if (a != b)
            {
                return $"`{a}` there, `{b}` here";
            }
        }

        return "none found";
    }

    /// <summary>
    /// The settings that fix a run's arithmetic, one per line, with the data's identity: a resumed run must have the
    /// same. Left out: --threads, --step and --scatter (the same results, or the same up to the last bits), --out, --json and
    /// --full-ranking (what is done with the result), and --epochs when one model is trained (a run may be extended;
    /// with several phases, the later ones start from what the earlier epochs chose).
    /// </summary>
    /// <param name="optimizer">The optimizer as resolved (<see cref="NcfTrainer.ResolveOptimizer"/>) for each model trained with --optimizer.</param>
    /// <param name="pretrained">The pre-trained NeuMF's own settings (parents, α, fine-tuning), or null.</param>
    /// <param name="parentsGiven">NeuMF fine-tuned from --gmf/--mlp files: --optimizer and --lr play no part then.</param>
    public static string Settings(ModelOptions shape, TrainingOptions training, string optimizer, bool keepBest, string backend, Data.NcfDataset data,
        bool phases, string? pretrained, bool parentsGiven)
    {
        // The training rows in order (the epochs' examples follow it), through SplitMix64's finaliser.
        ulong rows = Hash(0, data.TrainUsers.AsSpan(0, data.TrainCount));
        rows = Hash(rows, data.TrainItems.AsSpan(0, data.TrainCount));
        var lines = new List<string>
        {
            $"model={shape.Kind} factors={shape.Factors} layers={(shape.Kind == ModelKind.Gmf ? 0 : shape.Layers)}",
            (parentsGiven ? "" : FormattableString.Invariant($"optimizer={optimizer} lr={training.LearningRate:R} "))
                + FormattableString.Invariant($"l2={training.L2:R} batch={training.BatchSize} negatives={training.Negatives} seed={training.Seed}"),
            $"average-from={training.AverageFromEpoch} patience={training.EarlyStoppingPatience} k={training.TopK} ties={training.Ties} checkpoint={(keepBest ? "best" : "final")} backend={backend}",
            $"data: users={data.UserCount} items={data.ItemCount} training-rows={data.TrainCount} rows-hash={rows:x16}",
            $"test cases: {Cases(data.Test)}; validation cases: {Cases(data.Validation)}",
        };
        if (phases)
        {
            lines.Add($"epochs={training.Epochs}");
        }

        if (pretrained is not null)
        {
            lines.Add(pretrained);
        }

        return string.Join('\n', lines);
    }

    /// <summary>An evaluation set's identity: its cases, their held-out items and their negatives (--test-neg, the seed, an NCF negative file).</summary>
    private static string Cases(Data.EvaluationSet? cases) => cases is null
        ? "none"
        : $"{cases.Count} hash={Hash(Hash(Hash(0, cases.Users), cases.TargetItems), cases.Negatives):x16} negatives={cases.Negatives.Length}";

    /// <summary>Folds <paramref name="values"/>, in order, into <paramref name="hash"/> through SplitMix64's finaliser.</summary>
    private static ulong Hash(ulong hash, ReadOnlySpan<int> values)
    {
        foreach (int value in values)
        {
            hash = Ncf.Randomness.CounterHash.Finalize(hash ^ (uint)value);
        }

        return hash;
    }
}

/// <summary>
/// Keeps a copy of the parameters of the best epoch so far — by validation HR@10 when there is a validation set,
/// else by test HR@10, earliest on ties (the epoch <see cref="TrainingResult.Best"/> names) — and passes every
/// report on. <see cref="Restore"/> puts that copy back (`--checkpoint best`).
/// </summary>
internal sealed class BestCheckpoint(NcfModel model, IProgress<EpochReport> inner) : IProgress<EpochReport>
{
    public float[]? Parameters { get; private set; }

    public double HitRate { get; private set; } = double.NegativeInfinity;

    public void Report(EpochReport value)
    {
        inner.Report(value);
        if ((value.Validation ?? value.Test) is { } metrics && metrics.HitRate > HitRate)
        {
            HitRate = metrics.HitRate;
            Parameters = model.Parameters.ToArray();
        }
    }

    /// <summary>The best so far, as a resumed run's state holds it.</summary>
    public void Set(double hitRate, float[] parameters)
    {
        if (parameters.Length != model.Parameters.Layout.Length)
        {
            throw new NcfException($"the saved best epoch has {parameters.Length} parameters where the model has {model.Parameters.Layout.Length}.");
        }

        HitRate = hitRate;
        Parameters = parameters;
    }

    public void Restore()
    {
        if (Parameters is not null)
        {
            model.Parameters.Load(Parameters);
        }
    }
}
