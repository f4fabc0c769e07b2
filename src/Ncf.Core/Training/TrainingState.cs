namespace Ncf.Training;

/// <summary>
/// A training state file read and checked once (<see cref="NcfTrainer.ReadState"/>): the caller's data stored with it
/// and how far the run had come, to be given to <see cref="NcfTrainer.RestoreState(TrainingState)"/> by a program that
/// needs that data first (to build the right trainer) without reading and checking the file twice.
/// </summary>
public sealed class TrainingState
{
    internal TrainingState(NcfTrainer.StoredState stored, string name)
    {
        Stored = stored;
        Name = name;
    }

    /// <summary>The file's path (or the name a stream was given), as errors name it.</summary>
    public string Name { get; }

    /// <summary>The caller's own data saved with the state (empty when none was given).</summary>
    public ReadOnlyMemory<byte> CallerData => Stored.CallerData;

    /// <summary>The epochs the saved run had completed.</summary>
    public int EpochsDone => Stored.Epochs;

    internal NcfTrainer.StoredState Stored { get; }
}
