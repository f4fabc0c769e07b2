using System.Globalization;
using Xunit.Sdk;

namespace Ncf.Core.Tests.TestSupport;

/// <summary>
/// The one closeness check of the kernel tests: element i passes when
/// <c>|actual - expected| &lt;= atol + rtol·|expected|</c> (numpy's <c>isclose</c> rule), and NaN only matches NaN,
/// an infinity only the same infinity. A failure names the tensor, the worst index (the one furthest past its
/// allowance), both values, the difference and how many elements failed.
/// </summary>
public static class Tolerance
{
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol, string tensorName)
    {
        if (expected.Length != actual.Length)
        {
            throw new XunitException($"{tensorName}: length {actual.Length}, expected {expected.Length}.");
        }

        int worst = -1, failures = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double excess;
            if (double.IsNaN(e) || double.IsNaN(a) || double.IsInfinity(e) || double.IsInfinity(a))
            {
                // Non-finite values must match exactly (NaN with NaN, +inf with +inf).
                bool same = (double.IsNaN(e) && double.IsNaN(a)) || e.Equals(a);
                excess = same ? double.NegativeInfinity : double.PositiveInfinity;
            }
            else
            {
                excess = Math.Abs(a - e) - (atol + rtol * Math.Abs(e));
            }

            if (excess > 0)
            {
                failures++;
            }

            if (excess > worstExcess || worst < 0)
            {
                worstExcess = excess;
                worst = i;
            }
        }

        if (failures > 0)
        {
            double e = expected[worst], a = actual[worst];
            throw new XunitException(string.Create(CultureInfo.InvariantCulture,
                $"{tensorName}: {failures} of {expected.Length} elements differ beyond rtol={rtol:G3}, atol={atol:G3}. " +
                $"Worst at index {worst}: expected {e:G9}, actual {a:G9}, difference {a - e:G9} " +
                $"(allowed {atol + rtol * Math.Abs(e):G3})."));
        }
    }

    /// <summary>Scalar form of <see cref="AssertClose(ReadOnlySpan{float}, ReadOnlySpan{float}, double, double, string)"/> in double.</summary>
    public static void AssertClose(double expected, double actual, double rtol, double atol, string name)
    {
        double allowed = atol + rtol * Math.Abs(expected);
        if (!(Math.Abs(actual - expected) <= allowed))
        {
            throw new XunitException(string.Create(CultureInfo.InvariantCulture,
                $"{name}: expected {expected:G17}, actual {actual:G17}, difference {actual - expected:G9} (allowed {allowed:G3})."));
        }
    }

    /// <summary>
    /// Relative tolerance for a float sum of <paramref name="terms"/> products compared with a double sum: the float
    /// rounding error of a sum grows like sqrt(n)·ε in practice (random-walk bound), ε = 2^-24 ≈ 6e-8. The factor 1e-5
    /// (~170 ε) also absorbs one final rounding of the reference and FMA-versus-separate rounding.
    /// </summary>
    public static double SumRtol(int terms) => 1e-5 * Math.Sqrt(Math.Max(terms, 1));
}
