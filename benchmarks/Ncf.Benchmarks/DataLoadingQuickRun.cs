using System.Diagnostics;
using Ncf.Data;

namespace Ncf.Benchmarks;

/// <summary>
/// A Stopwatch timing of the data-loading benchmarks in seconds rather than BenchmarkDotNet's minutes: one warm-up
/// and seven timed runs each, reporting the median and the fastest. An optional path is loaded too.
/// </summary>
internal static class DataLoadingQuickRun
{
    public static int Run(string? extraPath)
    {
        using var data = new BenchmarkData();
        Console.WriteLine($"NCF files: {(data.NcfIsReal ? "real ML-1M" : "synthetic")} ({data.NcfPrefix})");
        Time("ratings.dat 1M rows: parse", () => MovieLensReader.ReadRatingsDat(data.RatingsDat).Count);
        Time("ratings.dat 1M rows: parse + split + 99 negatives", () => NcfDataLoader.Load(data.RatingsDat).TrainCount);
        Time("string-ID CSV 1M rows, quoted items: parse", () => DelimitedInteractionReader.Read(data.StringCsv).Count);
        Time("the same CSV gzipped: decompress + parse", () => DelimitedInteractionReader.Read(data.StringCsvGz).Count);
        Time("NCF ml-1m: train.rating + test.negative", () => NcfDataLoader.Load(data.NcfPrefix).TrainCount);
        if (extraPath is not null)
        {
            Time(extraPath, () => NcfDataLoader.Load(extraPath).TrainCount);
        }

        return 0;
    }

    private static void Time(string label, Func<int> load)
    {
        int rows = load();
        var times = new double[7];
        for (int run = 0; run < times.Length; run++)
        {
            var watch = Stopwatch.StartNew();
            rows = load();
            times[run] = watch.Elapsed.TotalMilliseconds;
        }

        Array.Sort(times);
        Console.WriteLine($"{label,-55} median {times[times.Length / 2],8:F1} ms  min {times[0],8:F1} ms  ({rows:N0} training rows)");
    }
}
