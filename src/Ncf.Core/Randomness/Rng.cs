using System.Runtime.CompilerServices;

namespace Ncf.Randomness;

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64. Chosen over <see cref="System.Random"/>
/// because its sequence is fixed by this code, not by the runtime version: one seed gives the same draws
/// on every machine and every .NET release. A struct-free class with no allocation per draw.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator for <paramref name="seed"/> and an optional stream number (e.g. the epoch).</summary>
    public Rng(ulong seed, ulong stream = 0)
    {
        ulong x = CounterHash.Mix(seed, stream);
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform integer in <c>[0, bound)</c> (Lemire's multiply-shift, bias below 2^-32 for bounds &lt; 2^32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int bound) => (int)(((NextUInt64() >> 32) * (ulong)(uint)bound) >> 32);

    /// <summary>Uniform double in <c>[0, 1)</c> with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal draw (Box–Muller; one of the pair is discarded to keep the stream simple).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="values"/>.</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong SplitMix(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return CounterHash.Finalize(state);
    }
}

/// <summary>
/// Counter-based randomness: a draw is a pure function of (seed, stream, counter), so parallel or GPU code
/// reproduces the same draws whatever the scheduling.
/// </summary>
public static class CounterHash
{
    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Mixes two words into one well-distributed word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong a, ulong b) => Finalize(a * 0x9E3779B97F4A7C15UL ^ Finalize(b + 0x632BE59BD9B4E019UL));

    /// <summary>64 random bits for (seed, stream, counter).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bits(ulong seed, ulong stream, ulong counter) => Finalize(Mix(seed, stream) + counter * 0x9E3779B97F4A7C15UL);

    /// <summary>The key of (seed, stream): <c>Bits(seed, stream, c) == BitsFromKey(Key(seed, stream), c)</c>, for hot loops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Key(ulong seed, ulong stream) => Mix(seed, stream);

    /// <summary>64 random bits for a precomputed <see cref="Key"/> and a counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong BitsFromKey(ulong key, ulong counter) => Finalize(key + counter * 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform integer in <c>[0, bound)</c> for a precomputed <see cref="Key"/> and a counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NextIntFromKey(ulong key, ulong counter, int bound) => (int)(((BitsFromKey(key, counter) >> 32) * (ulong)(uint)bound) >> 32);

    /// <summary>Uniform integer in <c>[0, bound)</c> for (seed, stream, counter).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NextInt(ulong seed, ulong stream, ulong counter, int bound) =>
        (int)(((Bits(seed, stream, counter) >> 32) * (ulong)(uint)bound) >> 32);
}
