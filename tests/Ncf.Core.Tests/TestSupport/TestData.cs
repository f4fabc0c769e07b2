using Ncf.Randomness;

namespace Ncf.Core.Tests.TestSupport;

/// <summary>Seeded random test data; every draw comes from <see cref="Rng"/> (never System.Random), so a failure reproduces.</summary>
public static class TestData
{
    /// <summary>Uniform floats in <c>[low, high)</c> for (seed, stream).</summary>
    public static float[] Uniform(int length, ulong seed, float low = -1, float high = 1, ulong stream = 0)
    {
        var rng = new Rng(seed, stream);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(low + (high - low) * rng.NextDouble());
        }

        return values;
    }

    /// <summary>Integers in <c>[0, bound)</c>; with count &gt; bound duplicates are certain.</summary>
    public static int[] Ids(int count, int bound, ulong seed, ulong stream = 0)
    {
        var rng = new Rng(seed, stream);
        var ids = new int[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = rng.NextInt(bound);
        }

        return ids;
    }

    /// <summary>Targets in {0, 1}.</summary>
    public static float[] Labels(int length, ulong seed, ulong stream = 0)
    {
        var rng = new Rng(seed, stream);
        var labels = new float[length];
        for (int i = 0; i < length; i++)
        {
            labels[i] = rng.NextInt(2);
        }

        return labels;
    }

    /// <summary>Sizes 0..67 (every remainder of an 8-wide vector several times over) and large odd sizes.</summary>
    public static IEnumerable<int> Lengths()
    {
        for (int n = 0; n <= 67; n++)
        {
            yield return n;
        }

        yield return 127;
        yield return 1027;
        yield return 6 * 512 + 7;
    }
}
