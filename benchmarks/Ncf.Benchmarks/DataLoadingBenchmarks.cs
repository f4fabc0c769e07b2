using BenchmarkDotNet.Attributes;
using Ncf.Data;

namespace Ncf.Benchmarks;

/// <summary>
/// Loading ML-1M-sized data: parsing a 1M-row <c>ratings.dat</c>, the same plus the leave-one-out split with 99
/// seeded negatives per user, the same rows as a string-ID CSV (plain and gzipped), and reading the NCF paper's
/// ML-1M files (real when ../shared/data/ml-1m exists).
/// Run: <c>dotnet run -c Release --project benchmarks/Ncf.Benchmarks -- --filter *DataLoading*</c>.
/// </summary>
[MemoryDiagnoser]
public class DataLoadingBenchmarks
{
    private BenchmarkData? _data;

    [GlobalSetup]
    public void Setup()
    {
        _data = new BenchmarkData();
        Console.WriteLine($"// NCF files: {(_data.NcfIsReal ? "real ML-1M from shared/data" : "synthetic")} at {_data.NcfPrefix}");
    }

    [GlobalCleanup]
    public void Cleanup() => _data?.Dispose();

    [Benchmark(Description = "ratings.dat 1M rows: parse")]
    public int ReadRatingsDat() => MovieLensReader.ReadRatingsDat(_data!.RatingsDat).Count;

    [Benchmark(Description = "ratings.dat 1M rows: parse + leave-one-out + 99 negatives")]
    public int LoadRatingsDatWithSplit() => NcfDataLoader.Load(_data!.RatingsDat, new DataLoadOptions()).TrainCount;

    [Benchmark(Description = "string-ID CSV 1M rows, quoted items: parse")]
    public int ReadStringCsv() => DelimitedInteractionReader.Read(_data!.StringCsv).Count;

    [Benchmark(Description = "the same CSV gzipped: decompress + parse")]
    public int ReadStringCsvGz() => DelimitedInteractionReader.Read(_data!.StringCsvGz).Count;

    [Benchmark(Description = "NCF ml-1m files: train.rating + test.negative")]
    public int LoadNcfFiles() => NcfDataLoader.Load(_data!.NcfPrefix, new DataLoadOptions()).TrainCount;
}
