namespace Ncf.Core.Tests.Layers;

/// <summary>Central finite differences in double precision, and the comparison used by every gradient check.</summary>
internal static class FiniteDifference
{
    /// <summary>Step for central differences on a double function: truncation error ~h², rounding ~ε/h; 1e-6 balances them.</summary>
    public const double Step = 1e-6;

    /// <summary>∂f/∂x_i for every i, by (f(x + h e_i) - f(x - h e_i)) / 2h.</summary>
    public static double[] Gradient(Func<double[], double> f, double[] x)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + Step;
            double up = f(x);
            x[i] = keep - Step;
            double down = f(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * Step);
        }

        return g;
    }

    /// <summary>
    /// Asserts the analytic (float) gradient matches the numeric (double) one: |a - n| ≤ atol + rtol·|n|.
    /// The analytic side runs in float, so its relative error is ~1e-6 per operation over a few dozen
    /// operations; rtol 1e-3 and atol 1e-5 leave a wide margin over that and still catch any wrong term,
    /// which is off by O(1) relative.
    /// </summary>
    public static void AssertMatches(ReadOnlySpan<double> numeric, ReadOnlySpan<float> analytic, string name, double rtol = 1e-3, double atol = 1e-5)
    {
        Assert.Equal(numeric.Length, analytic.Length);
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < numeric.Length; i++)
        {
            double excess = Math.Abs(analytic[i] - numeric[i]) - (atol + rtol * Math.Abs(numeric[i]));
            if (excess > worst)
            {
                worst = excess;
                worstIndex = i;
            }
        }

        Assert.True(worstIndex < 0,
            worstIndex < 0 ? "" : $"{name}[{worstIndex}]: analytic {analytic[worstIndex]:G9} vs numeric {numeric[worstIndex]:G9} (tolerance {atol} + {rtol}·|numeric|)");
    }

    /// <summary>Uniform values in [-scale, scale] from a fixed seed.</summary>
    public static double[] Random(int count, ulong seed, double scale = 1)
    {
        var rng = new Ncf.Randomness.Rng(seed);
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (2 * rng.NextDouble() - 1) * scale;
        }

        return values;
    }

    /// <summary>Rounds to float (the layers' precision) and back, so both sides see identical inputs.</summary>
    public static double[] AsFloatValues(double[] values) => values.Select(v => (double)(float)v).ToArray();

    public static float[] ToFloat(double[] values) => values.Select(v => (float)v).ToArray();
}
