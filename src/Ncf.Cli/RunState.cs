using System.Diagnostics;
using System.Text;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Cli;

/// <summary>
/// `ncf train --state FILE [--resume]`: the trainer's state (<see cref="NcfTrainer.SaveState(string, ReadOnlySpan{byte})"/>)
/// written at every epoch end, with what the command needs to finish as the run that never stopped would: its settings
/// (a resumed run must be given the same), the epoch reports so far, the best epoch's parameters (--checkpoint best)
/// and the time spent. A crash or Ctrl-C costs at most the epoch under way.
/// </summary>
internal sealed class RunState(string path, string settings, bool resume)
{
    private const byte Format = 1;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _earlierSeconds;

    public string Path => path;

    /// <summary>Epochs done by the state the file holds for this run (-1 before its first save or resume).</summary>
    public int SavedEpochs { get; private set; } = -1;

    /// <summary>Seconds the run has taken so far, earlier processes included.</summary>
    public double Seconds => _earlierSeconds + _clock.Elapsed.TotalSeconds;

    /// <summary>Refused before anything is read: a state the run would overwrite, or a resume without a state.</summary>
    public static void CheckBeforeRun(string path, bool resume)
    {
        bool exists = File.Exists(path);
        if (exists && !resume)
        {
            throw new NcfException($"--state {path}: the file exists and holds a run's training state; add --resume to continue that run, or remove the file to start anew.");
        }

        if (!exists && resume)
        {
            throw new NcfException($"--resume: {path} does not exist{(Directory.Exists(path) ? " as a file (it is a folder)" : "")}; without --resume the run starts anew and keeps its state there.");
        }
    }

    /// <summary>
    /// With --resume, puts <paramref name="trainer"/> and <paramref name="best"/> where the saved run stood and returns
    /// its epoch reports (to be printed and summarised again); else nothing.
    /// </summary>
    public IReadOnlyList<EpochReport> Resume(NcfTrainer trainer, BestCheckpoint best, int epochs)
    {
        if (!resume)
        {
            return [];
        }

        byte[] callerData = trainer.RestoreState(path);
        try
        {
            using var reader = new BinaryReader(new MemoryStream(callerData), Encoding.UTF8);
            if (reader.ReadByte() != Format)
            {
                throw new NcfException($"{path}: not a state written by `ncf train --state` (or by a newer ncf).");
            }

            string saved = reader.ReadString();
            if (saved != settings)
            {
                throw new NcfException($"{path}: the state was written by a run with other settings ({Difference(saved, settings)}). " +
                    "Resume with the same options and data; only --epochs, --threads, --scatter, --out, --json and --full-ranking may change.");
            }

            _earlierSeconds = reader.ReadDouble();
            var reports = new EpochReport[reader.ReadInt32()];
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

            if (reader.ReadBoolean())
            {
                double hitRate = reader.ReadDouble();
                var parameters = new float[reader.ReadInt32()];
                for (int i = 0; i < parameters.Length; i++)
                {
                    parameters[i] = reader.ReadSingle();
                }

                best.Set(hitRate, parameters);
            }

            if (reader.BaseStream.Position != callerData.Length)
            {
                throw new NcfException($"{path}: unexpected bytes after the run's reports.");
            }

            if (trainer.EpochsDone > epochs)
            {
                throw new NcfException($"--epochs {epochs}: {path} holds a run already {trainer.EpochsDone} epochs in; give --epochs {trainer.EpochsDone} or more.");
            }

            SavedEpochs = trainer.EpochsDone;
            return reports;
        }
        catch (EndOfStreamException e)
        {
            throw new NcfException($"{path}: the run's reports end early: not a state written by this ncf.", e);
        }
    }

    /// <summary>Passes each epoch's report to <paramref name="best"/>, then saves the state with the reports so far.</summary>
    public IProgress<EpochReport> Saving(NcfTrainer trainer, BestCheckpoint best, IReadOnlyList<EpochReport> earlier)
    {
        var reports = new List<EpochReport>(earlier);
        return new InlineProgress<EpochReport>(report =>
        {
            best.Report(report);
            reports.Add(report);
            // A diverged epoch is not kept: the state of the epoch before it stays, to resume with other settings' help.
            if (report.Epoch > 0 && !double.IsFinite(report.Loss))
            {
                return;
            }

            trainer.SaveState(path, Encode(reports, best));
            SavedEpochs = trainer.EpochsDone;
        });
    }

    private byte[] Encode(List<EpochReport> reports, BestCheckpoint best)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write(settings);
            writer.Write(Seconds);
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

            writer.Write(best.Parameters is not null);
            if (best.Parameters is { } parameters)
            {
                writer.Write(best.HitRate);
                writer.Write(parameters.Length);
                foreach (float value in parameters)
                {
                    writer.Write(value);
                }
            }
        }

        return buffer.ToArray();
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
    /// same. Left out: --epochs (a run may be extended), --threads and --scatter (the same results, or the same up to the
    /// last bits), --out, --json and --full-ranking (what is done with the result).
    /// </summary>
    public static string Settings(ModelOptions shape, TrainingOptions training, bool keepBest, string backend, Data.NcfDataset data,
        string? pretrained)
    {
        // The training rows in order (the epochs' examples follow it), through SplitMix64's finaliser.
        ulong rows = 0;
        for (int n = 0; n < data.TrainCount; n++)
        {
            rows = Ncf.Randomness.CounterHash.Finalize(rows ^ (((ulong)(uint)data.TrainUsers[n] << 32) | (uint)data.TrainItems[n]));
        }

        var lines = new List<string>
        {
            $"model={shape.Kind} factors={shape.Factors} layers={(shape.Kind == ModelKind.Gmf ? 0 : shape.Layers)}",
            FormattableString.Invariant($"optimizer={training.Optimizer} lr={training.LearningRate:R} l2={training.L2:R} batch={training.BatchSize} negatives={training.Negatives} seed={training.Seed}"),
            $"average-from={training.AverageFromEpoch} k={training.TopK} ties={training.Ties} checkpoint={(keepBest ? "best" : "final")} backend={backend}",
            $"data: users={data.UserCount} items={data.ItemCount} training-rows={data.TrainCount} rows-hash={rows:x16}",
            $"test={data.Test?.Count ?? 0}:{data.Test?.TargetsFingerprint() ?? 0:x16} validation={data.Validation?.Count ?? 0}:{data.Validation?.TargetsFingerprint() ?? 0:x16}",
        };
        if (pretrained is not null)
        {
            lines.Add(pretrained);
        }

        return string.Join('\n', lines);
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
