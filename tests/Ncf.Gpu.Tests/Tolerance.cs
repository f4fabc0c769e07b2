using Xunit.Sdk;

namespace Ncf.Gpu.Tests;

/// <summary>Element-wise comparison with one relative + absolute tolerance: |a - e| ≤ abs + rel·|e|.</summary>
public static class Tolerance
{
    /// <summary>Fails naming the tensor, the worst index, both values and the difference.</summary>
    public static void AssertClose(string tensor, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative, double absolute)
    {
        if (expected.Length != actual.Length)
        {
            throw new XunitException($"{tensor}: length {actual.Length}, expected {expected.Length}.");
        }

        int worst = -1;
        double worstExcess = 0;
        int failures = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double excess = Math.Abs(a - e) - (absolute + relative * Math.Abs(e));
            bool bad = double.IsNaN(a) != double.IsNaN(e) || (!double.IsNaN(e) && (excess > 0 || double.IsNaN(excess)) && a != e);
            if (bad)
            {
                failures++;
                if (worst < 0 || excess > worstExcess || double.IsNaN(excess))
                {
                    worst = i;
                    worstExcess = double.IsNaN(excess) ? double.PositiveInfinity : excess;
                }
            }
        }

        if (worst >= 0)
        {
            throw new XunitException(
                $"{tensor}: {failures} of {expected.Length} elements differ; worst at [{worst}]: actual {actual[worst]:R}, expected " +
                $"{expected[worst]:R}, difference {Math.Abs((double)actual[worst] - expected[worst]):G4} (tolerance {absolute:G2} + {relative:G2}·|expected|).");
        }
    }

    /// <summary>Exact equality (for integer results and bit-exact kernels), naming the first mismatch.</summary>
    public static void AssertEqual<T>(string tensor, ReadOnlySpan<T> expected, ReadOnlySpan<T> actual) where T : IEquatable<T>
    {
        if (expected.Length != actual.Length)
        {
            throw new XunitException($"{tensor}: length {actual.Length}, expected {expected.Length}.");
        }

        for (int i = 0; i < expected.Length; i++)
        {
            if (!expected[i].Equals(actual[i]))
            {
                throw new XunitException($"{tensor}: first difference at [{i}]: actual {actual[i]}, expected {expected[i]}.");
            }
        }
    }
}
