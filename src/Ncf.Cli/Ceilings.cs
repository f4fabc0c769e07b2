using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ncf.Cli;

/// <summary>
/// The machine's ceilings, measured: FP32 peak from a tight FMA loop (many independent accumulators, so the loop
/// is bound by FMA throughput, not latency) and memory bandwidth from a STREAM-style triad over arrays far larger
/// than the caches.
/// </summary>
internal static class Ceilings
{
    public readonly record struct Result(double Gflops256, double Gflops512, double GflopsAllCores, double TriadGBps, double CopyGBps);

    public static Result Measure()
    {
        double g256 = Best(() => Fma256(40_000_000));
        double g512 = Vector512.IsHardwareAccelerated ? Best(() => Fma512(20_000_000)) : 0;
        double all = Best(() =>
        {
            int threads = Environment.ProcessorCount;
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => GC.KeepAlive(Fma256Loop(40_000_000)));
            return threads * FmaFlops256(40_000_000) / clock.Elapsed.TotalSeconds / 1e9;
        });
        var (triad, copy) = Bandwidth();
        return new Result(g256, g512, all, triad, copy);
    }

    private static double Best(Func<double> run) => Enumerable.Range(0, 3).Select(_ => run()).Max();

    private static double FmaFlops256(long iterations) => iterations * 10.0 * 8 * 2;

    private static double Fma256(long iterations)
    {
        var clock = Stopwatch.StartNew();
        float sink = Fma256Loop(iterations);
        double seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return FmaFlops256(iterations) / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma256Loop(long iterations)
    {
        var a = Vector256.Create(1.0000001f);
        var b = Vector256.Create(0.9999999f);
        Vector256<float> c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b);
            c1 = Vector256.FusedMultiplyAdd(c1, a, b);
            c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b);
            c4 = Vector256.FusedMultiplyAdd(c4, a, b);
            c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b);
            c7 = Vector256.FusedMultiplyAdd(c7, a, b);
            c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b);
        }

        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9);
    }

    private static double Fma512(long iterations)
    {
        var clock = Stopwatch.StartNew();
        float sink = Fma512Loop(iterations);
        double seconds = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return iterations * 10.0 * 16 * 2 / seconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma512Loop(long iterations)
    {
        var a = Vector512.Create(1.0000001f);
        var b = Vector512.Create(0.9999999f);
        Vector512<float> c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b);
            c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b);
            c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b);
            c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b);
        }

        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9);
    }

    private static (double Triad, double Copy) Bandwidth()
    {
        const int N = 1 << 24; // 64 MiB per array: far beyond any cache of this machine
        var a = new float[N];
        var b = new float[N];
        var c = new float[N];
        b.AsSpan().Fill(1);
        c.AsSpan().Fill(2);
        double triad = 0, copy = 0;
        for (int round = 0; round < 3; round++)
        {
            var clock = Stopwatch.StartNew();
            Triad(a, b, c, 3f);
            triad = Math.Max(triad, 3.0 * N * sizeof(float) / clock.Elapsed.TotalSeconds / 1e9);
            clock.Restart();
            b.AsSpan().CopyTo(a);
            copy = Math.Max(copy, 2.0 * N * sizeof(float) / clock.Elapsed.TotalSeconds / 1e9);
        }

        return (triad, copy);
    }

    private static void Triad(float[] a, float[] b, float[] c, float s)
    {
        var sv = Vector256.Create(s);
        int i = 0;
        for (; i <= a.Length - 8; i += 8)
        {
            Vector256.FusedMultiplyAdd(sv, Vector256.Create(c.AsSpan(i, 8)), Vector256.Create(b.AsSpan(i, 8))).CopyTo(a.AsSpan(i, 8));
        }

        for (; i < a.Length; i++)
        {
            a[i] = b[i] + s * c[i];
        }
    }
}
