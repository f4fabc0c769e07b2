using Ncf.Data;
using Ncf.Training;

namespace Ncf.Gpu.Tests;

/// <summary>
/// <see cref="DeviceEpochSampler"/> against the semantics of <see cref="NegativeSampler"/>, written once and run per
/// accelerator (Accelerators.cs). The data is small (≈ 250 positives, ≈ 1,250 examples, 2,048 sort keys) so the
/// CPU accelerator's simulated barriers stay under a second per epoch.
/// </summary>
public abstract class DeviceSamplerTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : BackendFixture
{
    private const int Negatives = 4;
    private const ulong Seed = 7;

    private static readonly Lazy<NcfDataset> Data = new(() => SyntheticData.Generate(new SyntheticDataOptions
    {
        Users = 30, Items = 40, MeanPerUser = 8, MinPerUser = 3, TestNegatives = 20, Seed = 11,
    }));

    private IlgpuBackend Backend => fixture.Backend;

    [DeviceFact]
    public void EpochHoldsTheCpuSamplersExamplesInAnotherOrder()
    {
        var data = Data.Value;
        using var sampler = new DeviceEpochSampler(Backend, data, Negatives, Seed);
        Assert.Equal((long)data.TrainCount * (1 + Negatives), sampler.SamplesPerEpoch);
        var (users, items, labels) = Read(sampler, 1);

        // Same draws as the CPU sampler (same counters), so the same multiset of examples; this also checks that
        // every positive appears exactly once and that labels are 1 for positives and 0 for negatives.
        var cpu = new NegativeSampler(data, Negatives, Seed, threads: 1).Epoch(1).ToArray();
        var expected = cpu.Select(s => (s.User, s.Item, s.Label)).Order().ToArray();
        var actual = users.Select((u, o) => (u, items[o], labels[o])).Order().ToArray();
        Assert.Equal(expected, actual);

        // Checked directly as well: positives once each, negatives never a training item of their user.
        var positives = new Dictionary<(int, int), int>();
        for (int o = 0; o < users.Length; o++)
        {
            Assert.True(labels[o] is 0f or 1f, $"label {labels[o]} at {o}");
            bool seen = data.Train.ItemsOf(users[o]).BinarySearch(items[o]) >= 0;
            if (labels[o] == 1f)
            {
                Assert.True(seen, $"positive ({users[o]}, {items[o]}) is not a training pair");
                positives[(users[o], items[o])] = positives.GetValueOrDefault((users[o], items[o])) + 1;
            }
            else
            {
                Assert.False(seen, $"negative ({users[o]}, {items[o]}) at {o} is a training item of its user");
                Assert.InRange(items[o], 0, data.ItemCount - 1);
            }
        }

        Assert.Equal(data.TrainCount, positives.Values.Sum());
        Assert.All(positives.Values, count => Assert.Equal(1, count));
    }

    [DeviceFact]
    public void SameSeedAndEpochGiveTheSameEpochAndAnotherEpochDiffers()
    {
        var data = Data.Value;
        using var first = new DeviceEpochSampler(Backend, data, Negatives, Seed);
        using var second = new DeviceEpochSampler(Backend, data, Negatives, Seed);
        var a = Read(first, 3);
        var b = Read(second, 3);
        Assert.Equal(a.Users, b.Users);
        Assert.Equal(a.Items, b.Items);
        Assert.Equal(a.Labels, b.Labels);

        var c = Read(first, 4);
        int differing = Enumerable.Range(0, a.Users.Length).Count(o => a.Users[o] != c.Users[o] || a.Items[o] != c.Items[o]);
        Assert.True(differing > a.Users.Length / 2, $"epochs 3 and 4 differ at only {differing} of {a.Users.Length} positions");

        using var otherSeed = new DeviceEpochSampler(Backend, data, Negatives, Seed + 1);
        var d = Read(otherSeed, 3);
        Assert.NotEqual(a.Items, d.Items);
    }

    [DeviceFact]
    public void OrderLooksShuffled()
    {
        var data = Data.Value;
        using var sampler = new DeviceEpochSampler(Backend, data, Negatives, Seed);
        var (users, items, labels) = Read(sampler, 0);
        int n = users.Length;

        // Unshuffled, every positive sits at a multiple of 1 + negatives; shuffled, about 1 in 5 does.
        int onGrid = Enumerable.Range(0, n).Count(o => labels[o] == 1f && o % (1 + Negatives) == 0);
        Assert.InRange(onGrid, data.TrainCount / 10, data.TrainCount * 3 / 10);

        // The positives' output positions are uncorrelated with their index in the training arrays
        // (|r| < 0.25; its standard deviation is about 1/sqrt(250) = 0.063).
        var indexOf = new Dictionary<(int, int), int>();
        for (int p = 0; p < data.TrainCount; p++)
        {
            indexOf[(data.TrainUsers[p], data.TrainItems[p])] = p;
        }

        var pairs = Enumerable.Range(0, n).Where(o => labels[o] == 1f).Select(o => ((double)o, (double)indexOf[(users[o], items[o])])).ToArray();
        double r = Correlation(pairs);
        Assert.True(Math.Abs(r) < 0.25, $"position vs positive index correlation {r:F3}");

        // Users are not grouped: neighbours share a user about as often as random pairs (Σ share² ≈ 1/30 here).
        int sameUser = Enumerable.Range(1, n - 1).Count(o => users[o] == users[o - 1]);
        Assert.True(sameUser < n / 8, $"{sameUser} of {n - 1} neighbours share a user");
    }

    [DeviceFact]
    public void NoNegativesGivesEachPositiveOnce()
    {
        var data = Data.Value;
        using var sampler = new DeviceEpochSampler(Backend, data, 0, Seed);
        var (users, items, labels) = Read(sampler, 0);
        Assert.All(labels, l => Assert.Equal(1f, l));
        var expected = data.TrainUsers.Select((u, p) => (u, data.TrainItems[p])).Order();
        Assert.Equal(expected, users.Select((u, o) => (u, items[o])).Order());
    }

    [DeviceFact]
    public void UserWithEveryItemIsAnNcfException()
    {
        // User 1 has seen all 3 items: no negative exists, as NegativeSampler reports too.
        var data = new NcfDataset("full", 2, 3, [0, 1, 1, 1], [0, 0, 1, 2], null);
        var error = Assert.Throws<NcfException>(() => new DeviceEpochSampler(Backend, data, 1, Seed));
        Assert.Contains("all 3 items", error.Message);
        using var fine = new DeviceEpochSampler(Backend, data, 0, Seed);
    }

    [DeviceFact]
    public void BatchesAreViewsOfTheEpoch()
    {
        var data = Data.Value;
        using var sampler = new DeviceEpochSampler(Backend, data, Negatives, Seed);
        Assert.Throws<InvalidOperationException>(() => sampler.Batch(0, 1));
        var (users, items, labels) = Read(sampler, 2);
        var batch = sampler.Batch(100, 64);
        Assert.Equal(users.AsSpan(100, 64).ToArray(), batch.Users.ToArray());
        Assert.Equal(items.AsSpan(100, 64).ToArray(), batch.Items.ToArray());
        Assert.Equal(labels.AsSpan(100, 64).ToArray(), batch.Labels.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Batch((int)sampler.SamplesPerEpoch - 1, 2));
        Assert.Same(Backend, batch.Users.Buffer.Backend);
    }

    private static (int[] Users, int[] Items, float[] Labels) Read(DeviceEpochSampler sampler, int epoch)
    {
        sampler.BuildEpoch(epoch);
        var (users, items, labels) = sampler.All;
        return (users.ToArray(), items.ToArray(), labels.ToArray());
    }

    private static double Correlation((double X, double Y)[] pairs)
    {
        double mx = pairs.Average(p => p.X), my = pairs.Average(p => p.Y);
        double sxy = pairs.Sum(p => (p.X - mx) * (p.Y - my));
        double sxx = pairs.Sum(p => (p.X - mx) * (p.X - mx));
        double syy = pairs.Sum(p => (p.Y - my) * (p.Y - my));
        return sxy / Math.Sqrt(sxx * syy);
    }
}
