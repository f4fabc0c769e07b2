using BenchmarkDotNet.Running;

namespace Ncf.Benchmarks;

/// <summary>
/// Kernel benchmarks, versioned like llm.c's dev kernels (v0 = scalar reference, v1 = first SIMD version, v2 = ...).
/// Run e.g. <c>dotnet run -c Release --project benchmarks/Ncf.Benchmarks -- --filter '*Dense*' --job short</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
