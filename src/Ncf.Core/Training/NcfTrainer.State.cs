using Ncf.IO;
using Ncf.Tensors;

namespace Ncf.Training;

/// <summary>
/// The training state file, version 2, little-endian (version 1, written by builds of 2026-11-29 before early
/// stopping, lacks the best epoch and is not read): everything a run stopped between epochs needs to continue as
/// if it had never stopped (early stopping's best epoch included).
/// <code>
/// "NCFSTATE"  8 bytes magic
/// u32 version (2)
/// u32 model kind, i32 factors, i32 layers, i32 users, i32 items, i32 parameter count P
/// u8 optimizer (0 SGD, 1 Adam, 2 lazy Adam, 3 deferred Adam), i32 steps taken
/// i32 epochs done, i32 epoch ends in the running mean
/// u8 flags    bit 0: the before-training evaluation was reported; bit 1: the model holds the mean;
///             bit 2: the mean follows; bit 3: the optimizer's own point follows
/// f64, i32    early stopping's best HR@K so far and its epoch (-inf and -1: none yet)
/// f32[P]      parameters, in the model's layout order
/// f32[P] ×2   (Adam) first and second moments
/// (deferred Adam) i32 T embedding tables, then per table in layout order: i32 rows, i32[rows] the step each row was
///             last brought to
/// f32[P]      (bit 2) the running mean of the epoch ends; f32[P] (bit 3) the point the optimizer's steps reached
/// i32 n, u8[n] the caller's own data (SaveState's callerData: what the caller needs to continue, such as its reports)
/// 32 bytes    SHA-256 of everything above
/// </code>
/// </summary>
public sealed partial class NcfTrainer
{
    /// <summary>The training state format version written.</summary>
    public const int StateVersion = 2;

    private static ReadOnlySpan<byte> StateMagic => "NCFSTATE"u8;

    private const byte EvaluatedBeforeFlag = 1, HoldingAverageFlag = 2, AverageFlag = 4, TrainingPointFlag = 8;

    /// <summary>
    /// Writes the training state — parameters, the optimizer's moments and step count, epochs done, the weight
    /// average and early stopping's best epoch — to <paramref name="path"/> atomically (a crash leaves the old file or the new one). Call it between
    /// epochs: from <see cref="Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/>'s progress callback, or between <see cref="TrainEpoch"/> calls.
    /// </summary>
    /// <remarks>The data, the seed and the other <see cref="TrainingOptions"/> are not stored: a trainer built from the
    /// same ones and given this state with <see cref="RestoreState(string)"/> trains the later epochs exactly as the
    /// saved run would have, bit for bit on the CPU (epoch <c>e</c>'s negatives and order depend only on the seed and
    /// <c>e</c>). Custom <see cref="Optimizer"/> subclasses have no stored form.</remarks>
    /// <param name="path">The file.</param>
    /// <param name="callerData">Bytes of the caller's own, stored with the state under the same checksum and given back
    /// by <see cref="RestoreState(string)"/>: what the caller needs besides the trainer to continue (its epoch reports,
    /// a best-epoch copy of the parameters).</param>
    public void SaveState(string path, ReadOnlySpan<byte> callerData = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var data = callerData.ToArray();
        AtomicFile.Write(path, stream => SaveState(stream, data));
    }

    /// <summary>Writes the training state to <paramref name="destination"/> (see <see cref="SaveState(string, ReadOnlySpan{byte})"/>).</summary>
    public void SaveState(Stream destination, ReadOnlySpan<byte> callerData = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        byte optimizer = OptimizerCode(Optimizer)
            ?? throw new NcfException($"The trainer's optimizer ({Optimizer.GetType().Name}) has no stored form; training states hold Adam (exact, lazy or deferred) and SGD.");
        if (_epochCutShort)
        {
            throw new NcfException($"Epoch {EpochsDone + 1} was cancelled, so the model may stand between two epoch ends; a training state is "
                + "saved at an epoch end (one saved after the last completed epoch still holds).");
        }

        using var w = new HashedWriter(destination);
        w.Bytes(StateMagic);
        w.UInt32(StateVersion);
        w.UInt32((uint)Model.Kind);
        w.Int32(Model.Options.Factors);
        w.Int32(Model.Options.Layers);
        w.Int32(Model.UserCount);
        w.Int32(Model.ItemCount);
        int count = Model.Parameters.Layout.Length;
        w.Int32(count);
        w.Byte(optimizer);
        w.Int32(Optimizer.StepCount);
        w.Int32(EpochsDone);
        w.Int32(AveragedEpochs);
        w.Byte((byte)((_reportedBeforeTraining ? EvaluatedBeforeFlag : 0) | (_holdingAverage ? HoldingAverageFlag : 0)
            | (_average is null ? 0 : AverageFlag) | (_trainingPoint is null ? 0 : TrainingPointFlag)));
        w.Double(_bestHitRate);
        w.Int32(_bestEpoch);
        var scratch = new float[count];
        Model.Parameters.Values.Read(0, scratch);
        w.Singles(scratch);
        if (Optimizer is Adam adam)
        {
            adam.FirstMoment.Read(0, scratch);
            w.Singles(scratch);
            adam.SecondMoment.Read(0, scratch);
            w.Singles(scratch);
            if (adam.CatchUpTables is not null)
            {
                w.Int32(Model.Parameters.Layout.Slices.Count(slice => slice.RowIds != IdSpace.None));
                ForEachEmbeddingTable((s, rows) =>
                {
                    w.Int32(rows);
                    w.Int32s(adam.LastStep(s));
                });
            }
        }

        if (_average is not null)
        {
            w.Singles(_average);
        }

        if (_trainingPoint is not null)
        {
            w.Singles(_trainingPoint);
        }

        w.Int32(callerData.Length);
        w.Bytes(callerData);
        w.Finish();
    }

    /// <summary>
    /// Puts this trainer where the run that wrote <paramref name="path"/> with <see cref="SaveState(string, ReadOnlySpan{byte})"/> stood:
    /// its parameters, the optimizer's moments and step count, <see cref="EpochsDone"/> and the weight average, so that
    /// the next <see cref="TrainEpoch"/> is that run's next epoch. Call it before training, or between epochs.
    /// </summary>
    /// <exception cref="NcfException">The file is missing, truncated, altered or not a training state, or it was written
    /// for another model shape, another optimizer, or with weight averaging where these options have none (or the
    /// reverse); nothing is changed then.</exception>
    /// <returns>The caller's data saved with the state (empty when none was given).</returns>
    public byte[] RestoreState(string path) => RestoreState(ReadState(path));

    /// <summary>Restores the training state read from <paramref name="source"/> (see <see cref="RestoreState(string)"/>);
    /// <paramref name="name"/> names it in errors. Returns the caller's data saved with it.</summary>
    public byte[] RestoreState(Stream source, string name = "training state")
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(name);
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return RestoreState(new TrainingState(StoredState.Parse(copy.ToArray(), name), name));
    }

    /// <summary>
    /// Reads and checks the training state <paramref name="path"/> (see <see cref="SaveState(string, ReadOnlySpan{byte})"/>)
    /// without a trainer: for a program that must see the caller's data it stored (where a run of several phases stood,
    /// say) before it builds the trainer, which <see cref="RestoreState(TrainingState)"/> then restores from these same
    /// bytes, read once.
    /// </summary>
    /// <exception cref="NcfException">The file is missing, truncated, altered or not a training state.</exception>
    public static TrainingState ReadState(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new TrainingState(StoredState.Parse(StoredFile.ReadAll(path, "training state"), path), path);
    }

    /// <summary>
    /// The caller's data stored in the training state <paramref name="path"/> (see
    /// <see cref="SaveState(string, ReadOnlySpan{byte})"/>), after checking the whole file, without a trainer. To restore
    /// the same state afterwards, <see cref="ReadState"/> reads the file once for both.
    /// </summary>
    /// <exception cref="NcfException">The file is missing, truncated, altered or not a training state.</exception>
    public static byte[] ReadStateCallerData(string path) => ReadState(path).CallerData.ToArray();

    /// <summary>
    /// True when <paramref name="path"/> is a regular file that begins like a training state (its magic bytes), without
    /// reading or checking the rest; false when it is anything else (a device or a named pipe is not opened: a pipe's
    /// open would wait for a writer) or cannot be read. For a program deciding whether a file it is about to overwrite
    /// is one of its own states.
    /// </summary>
    public static bool LooksLikeState(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (SpecialFile.KindOf(path) != FileKind.Ordinary)
        {
            return false;
        }

        try
        {
            using var stream = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[StateMagic.Length];
            return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && magic.SequenceEqual(StateMagic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Puts this trainer where the state read by <see cref="ReadState"/> stood (see <see cref="RestoreState(string)"/>).
    /// The state is not consumed: it may restore other trainers built alike.
    /// </summary>
    /// <exception cref="NcfException">The state was written for another model shape, another optimizer, or with weight
    /// averaging where these options have none (or the reverse); nothing is changed then.</exception>
    /// <returns>The caller's data saved with the state (empty when none was given).</returns>
    public byte[] RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return RestoreState(state.Stored, state.Name);
    }

    private byte[] RestoreState(StoredState state, string path)
    {
        var shape = Model.Options;
        if (state.Kind != Model.Kind || state.Factors != shape.Factors || (state.Kind != Models.ModelKind.Gmf && state.Layers != shape.Layers)
            || state.Users != Model.UserCount || state.Items != Model.ItemCount || state.Values.Length != Model.Parameters.Layout.Length)
        {
            static string Shape(Models.ModelKind kind, int factors, int layers, int users, int items) =>
                $"{kind} with {factors} factors{(kind == Models.ModelKind.Gmf ? "" : $" and {layers} layers")} for {users} users and {items} items";
            throw new NcfException($"{path}: the state is of a {Shape(state.Kind, state.Factors, state.Layers, state.Users, state.Items)}; "
                + $"this trainer's model is a {Shape(Model.Kind, shape.Factors, shape.Layers, Model.UserCount, Model.ItemCount)}.");
        }

        byte? expected = OptimizerCode(Optimizer);
        if (state.Optimizer != expected)
        {
            throw new NcfException($"{path}: the state was written with {OptimizerName(state.Optimizer)}; this trainer uses "
                + $"{(expected is { } e ? OptimizerName(e) : Optimizer.GetType().Name)}.");
        }

        int epochs = state.Epochs, averaged = state.Averaged;
        bool hasAverage = state.Average is not null;
        if (hasAverage != (Options.AverageFromEpoch > 0 && epochs >= Options.AverageFromEpoch)
            || (hasAverage && averaged != epochs - Options.AverageFromEpoch + 1))
        {
            throw new NcfException(hasAverage
                ? $"{path}: the state holds a weight average of {averaged} epoch ends after {epochs} epochs, which "
                    + (Options.AverageFromEpoch == 0 ? "these options do not average (AverageFromEpoch 0)." : $"averaging from epoch {Options.AverageFromEpoch} would not give.")
                : $"{path}: the state holds no weight average after {epochs} epochs, and averaging from epoch {Options.AverageFromEpoch} needs one.");
        }

        var tables = new List<(int Slice, int Rows)>();
        ForEachEmbeddingTable((s, rows) => tables.Add((s, rows)));
        var adam = Optimizer as Adam;
        if (adam?.CatchUpTables is not null)
        {
            if (state.LastSteps.Count != tables.Count || tables.Where((t, i) => state.LastSteps[i].Length != t.Rows).Any())
            {
                throw new NcfException($"{path}: the state's per-row steps of {state.LastSteps.Count} embedding tables do not fit the model's {tables.Count}.");
            }
        }

        // Everything was read and checked before the trainer changes, so a bad file leaves it as it was.
        Model.Parameters.Load(state.Values);
        Model.ZeroGradients();
        if (adam is not null)
        {
            adam.FirstMoment.Write(0, state.FirstMoment);
            adam.SecondMoment.Write(0, state.SecondMoment);
            if (adam.CatchUpTables is not null)
            {
                for (int t = 0; t < tables.Count; t++)
                {
                    state.LastSteps[t].CopyTo(adam.LastStep(tables[t].Slice));
                }
            }
        }

        Optimizer.RestoreStepCount(state.Steps);
        EpochsDone = epochs;
        AveragedEpochs = averaged;
        _average = (float[]?)state.Average?.Clone(); // the state may restore another trainer: its arrays stay its own
        _trainingPoint = (float[]?)state.TrainingPoint?.Clone();
        _holdingAverage = (state.Flags & HoldingAverageFlag) != 0;
        _reportedBeforeTraining = (state.Flags & EvaluatedBeforeFlag) != 0;
        _bestHitRate = state.BestHitRate;
        _bestEpoch = state.BestEpoch;
        _epochCutShort = false;
        return state.CallerData.ToArray();
    }

    /// <summary>A training state file's content, read and checked for consistency with itself (not yet with a trainer).</summary>
    internal sealed record StoredState(Models.ModelKind Kind, int Factors, int Layers, int Users, int Items, byte Optimizer, int Steps, int Epochs,
        int Averaged, byte Flags, double BestHitRate, int BestEpoch, float[] Values, float[]? FirstMoment, float[]? SecondMoment, List<int[]> LastSteps, float[]? Average,
        float[]? TrainingPoint, byte[] CallerData)
    {
        public static StoredState Parse(byte[] bytes, string path)
        {
            var reader = new SpanReader(path, StoredFile.CheckedBody(path, bytes, StateMagic, "training state", StateVersion, StateVersion, out _));
            reader.Skip(StateMagic.Length + 4);
            var kind = (Models.ModelKind)reader.UInt32();
            int factors = reader.Int32(), layers = reader.Int32(), users = reader.Int32(), items = reader.Int32(), count = reader.Int32();
            byte optimizer = reader.Byte();
            int steps = reader.Int32(), epochs = reader.Int32(), averaged = reader.Int32();
            byte flags = reader.Byte();
            double bestHitRate = reader.Double();
            int bestEpoch = reader.Int32();
            if (count < 0 || optimizer > 3 || steps < 0 || epochs < 0 || averaged < 0 || averaged > epochs || (flags & ~0xF) != 0
                || bestEpoch < -1 || bestEpoch > epochs || (bestEpoch < 0) != double.IsNegativeInfinity(bestHitRate))
            {
                throw new NcfException($"{path}: the file is inconsistent (parameters {count}, optimizer {optimizer}, steps {steps}, epochs {epochs}, "
                    + $"averaged {averaged}, flags {flags}, best epoch {bestEpoch}).");
            }

            // Each array is checked against the bytes left before it is allocated: a forged count cannot ask for more
            // memory than the file holds.
            float[] Floats(ref SpanReader r)
            {
                if ((long)count * sizeof(float) > r.Remaining)
                {
                    throw new NcfException($"{path}: the file is truncated or inconsistent ({count} parameters need more than the {r.Remaining} bytes left).");
                }

                var values = new float[count];
                r.Singles(values);
                return values;
            }

            var parameters = Floats(ref reader);
            bool adam = optimizer != 0;
            float[]? first = adam ? Floats(ref reader) : null, second = adam ? Floats(ref reader) : null;
            var lastSteps = new List<int[]>();
            if (optimizer == 3)
            {
                int tables = reader.Int32();
                for (int t = 0; t < tables; t++)
                {
                    int rows = reader.Int32();
                    if (rows < 0 || (long)rows * sizeof(int) > reader.Remaining)
                    {
                        throw new NcfException($"{path}: the file is truncated or inconsistent (an embedding table of {rows} rows).");
                    }

                    var table = new int[rows];
                    reader.Int32s(table);
                    if (table.AsSpan().IndexOfAnyExceptInRange(0, steps) >= 0)
                    {
                        throw new NcfException($"{path}: a row's last step lies outside the {steps} steps taken.");
                    }

                    lastSteps.Add(table);
                }
            }

            float[]? average = (flags & AverageFlag) != 0 ? Floats(ref reader) : null;
            float[]? point = (flags & TrainingPointFlag) != 0 ? Floats(ref reader) : null;
            int callerLength = reader.Int32();
            if (callerLength < 0 || callerLength != reader.Remaining)
            {
                throw new NcfException($"{path}: the file is inconsistent (caller data of {callerLength} bytes where {reader.Remaining} are left).");
            }

            byte[] callerData = reader.Bytes(callerLength).ToArray();
            if ((flags & HoldingAverageFlag) != 0 && (average is null || point is null))
            {
                throw new NcfException($"{path}: the model holds a weight average the file does not store.");
            }

            if (!NcfModelFile.AllFinite(parameters) || (average is not null && !NcfModelFile.AllFinite(average)))
            {
                throw new NcfException($"{path}: holds parameters that are not finite numbers: the run that wrote it diverged.");
            }

            return new StoredState(kind, factors, layers, users, items, optimizer, steps, epochs, averaged, flags, bestHitRate, bestEpoch, parameters,
                first, second, lastSteps, average, point, callerData);
        }
    }

    /// <summary>Calls <paramref name="table"/> with each embedding table's slice index and row count, in layout order.</summary>
    private void ForEachEmbeddingTable(Action<int, int> table)
    {
        var slices = Model.Parameters.Layout.Slices;
        for (int s = 0; s < slices.Count; s++)
        {
            if (slices[s].RowIds != IdSpace.None)
            {
                table(s, slices[s].Rows);
            }
        }
    }

    private static byte? OptimizerCode(Optimizer optimizer) => optimizer switch
    {
        Sgd => 0,
        Adam { Options.Embeddings: AdamEmbeddingUpdate.Dense } => 1,
        Adam { Options.Embeddings: AdamEmbeddingUpdate.Lazy } => 2,
        Adam { Options.Embeddings: AdamEmbeddingUpdate.Deferred } => 3,
        _ => null,
    };

    private static string OptimizerName(byte code) => code switch
    {
        0 => "SGD",
        1 => "Adam",
        2 => "lazy Adam",
        3 => "deferred Adam",
        _ => $"an unknown optimizer (code {code})",
    };
}
