namespace Ncf.Data;

/// <summary>
/// Command-line names of <see cref="DatasetFormat"/>: <c>auto</c>, <c>ml-100k</c>, <c>ml-1m</c> (also
/// <c>ml-10m</c>), <c>movielens-csv</c> (also <c>ml-csv</c>), <c>ncf</c>, <c>csv</c> (also <c>generic</c>, <c>tsv</c>);
/// case-insensitive.
/// </summary>
public static class DatasetFormats
{
    /// <summary>The canonical names, in enum order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "ml-100k", "ml-1m", "movielens-csv", "ncf", "csv"];

    /// <summary>The canonical name of <paramref name="format"/>.</summary>
    public static string ToName(DatasetFormat format) => Names[(int)format];

    /// <summary>Parses a name; false for an unknown one.</summary>
    public static bool TryParse(string? text, out DatasetFormat format)
    {
        DatasetFormat? found = text?.Trim().ToLowerInvariant() switch
        {
            "auto" => DatasetFormat.Auto,
            "ml-100k" or "ml100k" or "movielens-100k" or "u.data" => DatasetFormat.MovieLens100K,
            "ml-1m" or "ml1m" or "ml-10m" or "ml10m" or "movielens-1m" or "ratings.dat" => DatasetFormat.MovieLens1M,
            "movielens-csv" or "ml-csv" or "ratings.csv" => DatasetFormat.MovieLensCsv,
            "ncf" => DatasetFormat.Ncf,
            "csv" or "tsv" or "generic" => DatasetFormat.Generic,
            _ => null,
        };
        format = found ?? DatasetFormat.Auto;
        return found is not null;
    }

    /// <summary>Parses a name.</summary>
    /// <exception cref="NcfException">The name is unknown; the message lists the valid ones.</exception>
    public static DatasetFormat Parse(string text) =>
        TryParse(text, out var format) ? format : throw new NcfException($"Unknown data format '{text}'; expected one of: {string.Join(", ", Names)}.");
}
