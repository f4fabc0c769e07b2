namespace Ncf.Data;

/// <summary>How <see cref="NcfDataLoader.Load"/> reads and splits a data set. Every default is the NCF paper's protocol.</summary>
public sealed class DataLoadOptions
{
    /// <summary>The file format. Default <see cref="DatasetFormat.Auto"/> (from the file or folder name).</summary>
    public DatasetFormat Format { get; init; } = DatasetFormat.Auto;

    /// <summary>
    /// Sampled negatives per evaluation case, drawn without replacement from items the user never interacted with.
    /// Default 99 (the paper). 0 gives cases with no negatives (full ranking only). The NCF <c>.test.negative</c>
    /// file fixes the test negatives itself, so there this only sizes validation negatives.
    /// </summary>
    public int TestNegatives { get; init; } = 99;

    /// <summary>What is held out of training for the test. Default <see cref="Data.HoldOut.Latest"/> (the paper).</summary>
    public HoldOut HoldOut { get; init; } = HoldOut.Latest;

    /// <summary>
    /// When true, each user's second-latest interaction is held out of training as a validation case with its
    /// own negatives, so epochs and settings can be chosen without the test set. Default false (the paper).
    /// </summary>
    public bool Validation { get; init; }

    /// <summary>
    /// Users with fewer distinct items than this are dropped before the split (users and items are then
    /// re-indexed densely). Default 0: keep everyone. Raw logs only; NCF files are already split.
    /// </summary>
    public int MinInteractionsPerUser { get; init; }

    /// <summary>
    /// Generic CSV/TSV files: true/false forces whether the first line is a header; null (default) detects it from
    /// the column names. Setting it for another format (whose header is fixed) is an error when the data is read.
    /// </summary>
    public bool? HasHeader { get; init; }

    /// <summary>Seed of every random draw (negatives). Default 42; the same seed gives the same data set everywhere.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Checks the values.</summary>
    /// <exception cref="NcfException">A value is out of range.</exception>
    public void Validate()
    {
        if (TestNegatives < 0)
        {
            throw new NcfException($"TestNegatives must be 0 or more; got {TestNegatives}.");
        }

        if (MinInteractionsPerUser < 0)
        {
            throw new NcfException($"MinInteractionsPerUser must be 0 or more; got {MinInteractionsPerUser}.");
        }

        if (!Enum.IsDefined(HoldOut))
        {
            throw new NcfException($"Unknown hold-out {(int)HoldOut}.");
        }

        if (Validation && HoldOut == HoldOut.None)
        {
            throw new NcfException("A validation hold-out needs a test hold-out: with HoldOut.None every interaction trains the model.");
        }

        if (!Enum.IsDefined(Format))
        {
            throw new NcfException($"Unknown data format {(int)Format}.");
        }
    }
}
