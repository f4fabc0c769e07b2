using Ncf.Data;

namespace Ncf.Cli;

/// <summary>Reads data files for the commands.</summary>
internal static class DataFiles
{
    public static NcfDataset Load(string path, string? format, bool validation, ulong seed)
    {
        _ = format;
        _ = validation;
        _ = seed;
        throw new NcfException($"{path}: reading data files is not available in this build yet.");
    }
}
