using Ncf.IO;
using Ncf.Tensors;

namespace Ncf.Training;

/// <summary>
/// The training state file, version 1, little-endian: everything a run stopped between epochs needs to continue as
/// if it had never stopped.
/// <code>
/// "NCFSTATE"  8 bytes magic
/// u32 version (1)
/// u32 model kind, i32 factors, i32 layers, i32 users, i32 items, i32 parameter count P
/// u8 optimizer (0 SGD, 1 Adam, 2 lazy Adam, 3 deferred Adam), i32 steps taken
/// i32 epochs done, i32 epoch ends in the running mean
/// u8 flags    bit 0: the before-training evaluation was reported; bit 1: the model holds the mean;
///             bit 2: the mean follows; bit 3: the optimizer's own point follows
/// f32[P]      parameters, in the model's layout order
/// f32[P] ×2   (Adam) first and second moments
/// per embedding table, in layout order: i32 rows, i32[rows] the step each row was last brought to (deferred Adam)
/// f32[P]      (bit 2) the running mean of the epoch ends; f32[P] (bit 3) the point the optimizer's steps reached
/// i32 n, u8[n] the caller's own data (SaveState's callerData: what the caller needs to continue, such as its reports)
/// 32 bytes    SHA-256 of everything above
/// </code>
/// </summary>
public sealed partial class NcfTrainer
{
    /// <summary>The training state format version written.</summary>
    public const int StateVersion = 1;

    private static ReadOnlySpan<byte> StateMagic => "NCFSTATE"u8;

    private const byte EvaluatedBeforeFlag = 1, HoldingAverageFlag = 2, AverageFlag = 4, TrainingPointFlag = 8;

    /// <summary>
    /// Writes the training state — parameters, the optimizer's moments and step count, epochs done and the weight
    /// average — to <paramref name="path"/> atomically (a crash leaves the old file or the new one). Call it between
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
    public byte[] RestoreState(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return RestoreState(StoredFile.ReadAll(path, "training state"), path);
    }

    /// <summary>Restores the training state read from <paramref name="source"/> (see <see cref="RestoreState(string)"/>);
    /// <paramref name="name"/> names it in errors. Returns the caller's data saved with it.</summary>
    public byte[] RestoreState(Stream source, string name = "training state")
    {
        ArgumentNullException.ThrowIfNull(source);
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return RestoreState(copy.ToArray(), name);
    }

    private byte[] RestoreState(byte[] bytes, string path)
    {
        var reader = new SpanReader(path, StoredFile.CheckedBody(path, bytes, StateMagic, "training state", StateVersion, StateVersion, out _));
        reader.Skip(StateMagic.Length + 4);
        var kind = (Models.ModelKind)reader.UInt32();
        int factors = reader.Int32(), layers = reader.Int32(), users = reader.Int32(), items = reader.Int32(), count = reader.Int32();
        var shape = Model.Options;
        if (kind != Model.Kind || factors != shape.Factors || (kind != Models.ModelKind.Gmf && layers != shape.Layers)
            || users != Model.UserCount || items != Model.ItemCount || count != Model.Parameters.Layout.Length)
        {
            throw new NcfException($"{path}: the state is of a {kind} with {factors} factors, {layers} layers, {users} users and {items} items; "
                + $"this trainer's model is a {Model.Kind} with {shape.Factors}, {shape.Layers}, {Model.UserCount} and {Model.ItemCount}.");
        }

        byte optimizer = reader.Byte();
        byte? expected = OptimizerCode(Optimizer);
        if (optimizer != expected)
        {
            throw new NcfException($"{path}: the state was written with {OptimizerName(optimizer)}; this trainer uses {(expected is { } e ? OptimizerName(e) : Optimizer.GetType().Name)}.");
        }

        int steps = reader.Int32(), epochs = reader.Int32(), averaged = reader.Int32();
        byte flags = reader.Byte();
        if (steps < 0 || epochs < 0 || averaged < 0 || averaged > epochs || (flags & ~0xF) != 0)
        {
            throw new NcfException($"{path}: the file is inconsistent (steps {steps}, epochs {epochs}, averaged {averaged}, flags {flags}).");
        }

        bool hasAverage = (flags & AverageFlag) != 0;
        if (hasAverage != (Options.AverageFromEpoch > 0 && epochs >= Options.AverageFromEpoch)
            || (hasAverage && averaged != epochs - Options.AverageFromEpoch + 1))
        {
            throw new NcfException(hasAverage
                ? $"{path}: the state holds a weight average of {averaged} epoch ends after {epochs} epochs, which "
                    + (Options.AverageFromEpoch == 0 ? "these options do not average (AverageFromEpoch 0)." : $"averaging from epoch {Options.AverageFromEpoch} would not give.")
                : $"{path}: the state holds no weight average after {epochs} epochs, and averaging from epoch {Options.AverageFromEpoch} needs one.");
        }

        // Everything is read and checked before the trainer changes, so a bad file leaves it as it was.
        var values = new float[count];
        reader.Singles(values);
        float[]? first = null, second = null;
        var lastSteps = new List<int[]>();
        if (Optimizer is Adam adam)
        {
            first = new float[count];
            second = new float[count];
            reader.Singles(first);
            reader.Singles(second);
            if (adam.CatchUpTables is not null)
            {
                ForEachEmbeddingTable((s, rows) =>
                {
                    int stored = reader.Int32();
                    if (stored != rows)
                    {
                        throw new NcfException($"{path}: an embedding table of {stored} rows where the model has {rows}.");
                    }

                    var table = new int[rows];
                    reader.Int32s(table);
                    if (table.AsSpan().IndexOfAnyExceptInRange(0, steps) >= 0)
                    {
                        throw new NcfException($"{path}: a row's last step lies outside the {steps} steps taken.");
                    }

                    lastSteps.Add(table);
                });
            }
        }

        float[]? average = hasAverage ? new float[count] : null, point = (flags & TrainingPointFlag) != 0 ? new float[count] : null;
        if (average is not null)
        {
            reader.Singles(average);
        }

        if (point is not null)
        {
            reader.Singles(point);
        }

        int callerLength = reader.Int32();
        if (callerLength < 0 || callerLength != reader.Remaining)
        {
            throw new NcfException($"{path}: the file is inconsistent (caller data of {callerLength} bytes where {reader.Remaining} are left).");
        }

        byte[] callerData = reader.Bytes(callerLength).ToArray();
        if (!reader.AtEnd)
        {
            throw new NcfException($"{path}: unexpected bytes after the training state.");
        }

        if ((flags & HoldingAverageFlag) != 0 && (average is null || point is null))
        {
            throw new NcfException($"{path}: the model holds a weight average the file does not store.");
        }

        if (!NcfModelFile.AllFinite(values) || (average is not null && !NcfModelFile.AllFinite(average)))
        {
            throw new NcfException($"{path}: holds parameters that are not finite numbers: the run that wrote it diverged.");
        }

        Model.Parameters.Load(values);
        Model.ZeroGradients();
        if (Optimizer is Adam restored)
        {
            restored.FirstMoment.Write(0, first);
            restored.SecondMoment.Write(0, second);
            int next = 0;
            if (restored.CatchUpTables is not null)
            {
                ForEachEmbeddingTable((s, rows) => lastSteps[next++].CopyTo(restored.LastStep(s)));
            }
        }

        Optimizer.RestoreStepCount(steps);
        EpochsDone = epochs;
        AveragedEpochs = averaged;
        _average = average;
        _trainingPoint = point;
        _holdingAverage = (flags & HoldingAverageFlag) != 0;
        _reportedBeforeTraining = (flags & EvaluatedBeforeFlag) != 0;
        _epochCutShort = false;
        return callerData;
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
