using BenchmarkDotNet.Running;
using Ncf.Benchmarks;

// `dotnet run -c Release --project benchmarks/Ncf.Benchmarks -- quick-load [path]` times data loading with a
// Stopwatch (seconds, not minutes); any other arguments go to BenchmarkDotNet's switcher (e.g. --filter *Data*).
if (args.Length > 0 && args[0] == "quick-load")
{
    return DataLoadingQuickRun.Run(args.Length > 1 ? args[1] : null);
}

BenchmarkSwitcher.FromAssembly(typeof(DataLoadingBenchmarks).Assembly).Run(args);
return 0;
