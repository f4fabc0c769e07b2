namespace Ncf.Benchmarks;

/// <summary>
/// The inputs of the data-loading benchmarks: the real ML-1M NCF split from <c>shared/data/ml-1m</c> when this machine
/// has it (NCF_SHARED_DATA, or found walking up from the binaries), else synthetic files of the same shape; and a
/// synthetic 1M-row <c>ratings.dat</c> (shared/data has no raw ML-1M file) and the same rows as a string-ID CSV, plain and gzipped. Synthetic files live in a temp folder
/// deleted by <see cref="Dispose"/>.
/// </summary>
internal sealed class BenchmarkData : IDisposable
{
    public const int Rows = 1_000_209;

    public BenchmarkData()
    {
        TempFolder = Path.Combine(Path.GetTempPath(), "ncf-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(TempFolder);
        RatingsDat = Path.Combine(TempFolder, "ratings.dat");
        SyntheticRatings.WriteRatingsDat(RatingsDat, Rows);
        StringCsv = Path.Combine(TempFolder, "events.csv");
        SyntheticRatings.WriteStringCsv(StringCsv, Rows, gzip: false);
        StringCsvGz = Path.Combine(TempFolder, "events.csv.gz");
        SyntheticRatings.WriteStringCsv(StringCsvGz, Rows, gzip: true);

        string? shared = LocateSharedData();
        string? realPrefix = shared is null ? null : Path.Combine(shared, "ml-1m", "ml-1m");
        if (realPrefix is not null && File.Exists(realPrefix + ".train.rating") && File.Exists(realPrefix + ".test.negative"))
        {
            NcfPrefix = realPrefix;
            NcfIsReal = true;
        }
        else
        {
            NcfPrefix = Path.Combine(TempFolder, "ml-1m");
            SyntheticRatings.WriteNcf(NcfPrefix, Rows);
        }
    }

    public string TempFolder { get; }

    public string RatingsDat { get; }

    /// <summary>The same 1M rows as a generic CSV with string IDs, quoted items and a header.</summary>
    public string StringCsv { get; }

    /// <summary><see cref="StringCsv"/> gzip-compressed.</summary>
    public string StringCsvGz { get; }

    public string NcfPrefix { get; }

    public bool NcfIsReal { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(TempFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The real ML-1M NCF split when shared/data has it, else a synthetic set of the same size (6,040 × 3,706, ~165 per user).</summary>
    internal static Ncf.Data.NcfDataset LoadMl1mOrSynthetic()
    {
        string? shared = LocateSharedData();
        string prefix = shared is null ? "" : Path.Combine(shared, "ml-1m", "ml-1m");
        return File.Exists(prefix + ".train.rating")
            ? Ncf.Data.NcfDataLoader.Load(prefix)
            : Ncf.Data.SyntheticData.Generate(new Ncf.Data.SyntheticDataOptions { Users = 6040, Items = 3706, MeanPerUser = 165 });
    }

    internal static string? LocateSharedData()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("NCF_SHARED_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Directory.Exists(fromEnvironment) ? fromEnvironment : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
