using Ncf.Data;

namespace Ncf.Cli;

/// <summary>Reads data files for the commands: a file, a folder or an NCF prefix, format detected or forced.</summary>
internal static class DataFiles
{
    public static NcfDataset Load(string path, DatasetFormat format, bool validation, ulong seed, CancellationToken cancellationToken,
        int minInteractions = 0, int testNegatives = 99,
        HoldOut holdOut = HoldOut.Latest, bool? hasHeader = null) =>
        NcfDataLoader.Load(path, new DataLoadOptions
        {
            Format = format,
            Validation = validation,
            Seed = seed,
            MinInteractionsPerUser = minInteractions,
            TestNegatives = testNegatives,
            HoldOut = holdOut,
            HasHeader = hasHeader,
        }, cancellationToken);
}
