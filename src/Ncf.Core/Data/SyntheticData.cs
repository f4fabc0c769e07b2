using Ncf.Randomness;

namespace Ncf.Data;

/// <summary>Shape of the embedded synthetic data set. Defaults give ~1,200 users, 900 items and ~50k interactions.</summary>
public sealed record SyntheticDataOptions
{
    /// <summary>Number of users. Default 1200.</summary>
    public int Users { get; init; } = 1200;

    /// <summary>Number of items. Default 900.</summary>
    public int Items { get; init; } = 900;

    /// <summary>Dimension of the planted taste space. Default 6.</summary>
    public int LatentDim { get; init; } = 6;

    /// <summary>Mean interactions per user (each user has at least <see cref="MinPerUser"/>). Default 40.</summary>
    public int MeanPerUser { get; init; } = 40;

    /// <summary>Fewest interactions per user. Default 10.</summary>
    public int MinPerUser { get; init; } = 10;

    /// <summary>Weight of taste (user·item affinity) in an item's logit. Default 2.5.</summary>
    public double TasteWeight { get; init; } = 2.5;

    /// <summary>Zipf-like popularity skew: item of popularity rank r gets <c>-Skew·log(r+1)</c> added. Default 0.6.</summary>
    public double PopularitySkew { get; init; } = 0.6;

    /// <summary>Test negatives per user. Default 99.</summary>
    public int TestNegatives { get; init; } = 99;

    /// <summary>Seed of the generator. Default 2017.</summary>
    public ulong Seed { get; init; } = 2017;
}

/// <summary>
/// A deterministic implicit-feedback generator with planted structure, the embedded default data of `ncf train`.
/// Users and items get latent vectors on the unit sphere; items also get a popularity bias that falls with a
/// random popularity rank. A user's items are drawn without replacement with probability ∝
/// <c>exp(TasteWeight·⟨u, v_i⟩·√d + bias_i)</c> (Gumbel top-k), in a random order that serves as time: the last one
/// is held out for testing, with 99 negatives drawn from the items the user never touched. A popularity model sees
/// only the bias; a model that learns the tastes does much better.
/// </summary>
public static class SyntheticData
{
    /// <summary>Generates the data set.</summary>
    public static NcfDataset Generate(SyntheticDataOptions? options = null)
    {
        options ??= new SyntheticDataOptions();
        if (options.Users < 1 || options.Items < options.MinPerUser + options.TestNegatives + 1 || options.LatentDim < 1 || options.MinPerUser < 2
            || options.MeanPerUser < options.MinPerUser || options.TestNegatives < 0 || !double.IsFinite(options.TasteWeight) || !double.IsFinite(options.PopularitySkew))
        {
            throw new NcfException("Synthetic data needs users ≥ 1, latent dim ≥ 1, at least 2 interactions per user, a mean per user at least the "
                + "minimum, test negatives ≥ 0, items > min per user + test negatives, and a finite taste weight and popularity skew.");
        }

        var rng = new Rng(options.Seed);
        int d = options.LatentDim, itemCount = options.Items;
        var userVectors = UnitVectors(rng, options.Users, d);
        var itemVectors = UnitVectors(rng, itemCount, d);
        var popularityRank = new int[itemCount];
        for (int i = 0; i < itemCount; i++)
        {
            popularityRank[i] = i;
        }

        rng.Shuffle<int>(popularityRank);
        var bias = new double[itemCount];
        for (int i = 0; i < itemCount; i++)
        {
            bias[i] = -options.PopularitySkew * Math.Log(popularityRank[i] + 1);
        }

        var trainUsers = new List<int>();
        var trainItems = new List<int>();
        var testUsers = new int[options.Users];
        var testItems = new int[options.Users];
        var negatives = new int[options.Users * options.TestNegatives];
        // The user's `count` smallest keys, kept in a max-heap as they are drawn: a full sort of every item's key costs
        // O(items log items) a user, which made 100,000 users over 20,000 items take minutes. Same items, same order.
        var heapKeys = new double[itemCount];
        var heapItems = new int[itemCount];
        var seen = new bool[itemCount];
        double scale = options.TasteWeight * Math.Sqrt(d);
        for (int u = 0; u < options.Users; u++)
        {
            // Interactions per user: min + geometric-like tail with the requested mean, capped to leave room for negatives.
            int extra = (int)(-Math.Log(1 - rng.NextDouble()) * (options.MeanPerUser - options.MinPerUser));
            int count = Math.Min(options.MinPerUser + extra, itemCount - options.TestNegatives - 1);
            int held = 0;
            for (int i = 0; i < itemCount; i++)
            {
                double affinity = 0;
                for (int k = 0; k < d; k++)
                {
                    affinity += userVectors[u * d + k] * itemVectors[i * d + k];
                }

                double gumbel = -Math.Log(-Math.Log(1 - rng.NextDouble() * (1 - 1e-12)));
                double key = -(scale * affinity + bias[i] + gumbel);
                if (held < count)
                {
                    HeapPush(heapKeys, heapItems, held++, key, i);
                }
                else if (Before(key, i, heapKeys[0], heapItems[0]))
                {
                    HeapReplaceTop(heapKeys, heapItems, held, key, i);
                }
            }

            var chosen = heapItems.AsSpan(0, count).ToArray();
            Array.Sort(heapKeys.AsSpan(0, count).ToArray(), chosen);
            rng.Shuffle<int>(chosen);
            Array.Clear(seen);
            foreach (int item in chosen)
            {
                seen[item] = true;
            }

            for (int k = 0; k < count - 1; k++)
            {
                trainUsers.Add(u);
                trainItems.Add(chosen[k]);
            }

            testUsers[u] = u;
            testItems[u] = chosen[^1];
            for (int k = 0; k < options.TestNegatives; k++)
            {
                int item;
                do
                {
                    item = rng.NextInt(itemCount);
                }
                while (seen[item]);

                seen[item] = true;
                negatives[u * options.TestNegatives + k] = item;
            }
        }

        var test = EvaluationSet.WithFixedNegatives(testUsers, testItems, negatives, options.TestNegatives);
        return new NcfDataset("synthetic", options.Users, itemCount, [.. trainUsers], [.. trainItems], test);
    }

    // Key order, ties broken by item index so that the result does not depend on the order of the heap's ties.
    private static bool Before(double key, int item, double otherKey, int otherItem) => key < otherKey || (key == otherKey && item < otherItem);

    // A max-heap (by key order) in keys[0..size) and items[0..size): its root is the largest key held.
    private static void HeapPush(double[] keys, int[] items, int size, double key, int item)
    {
        int at = size;
        while (at > 0)
        {
            int parent = (at - 1) / 2;
            if (!Before(keys[parent], items[parent], key, item))
            {
                break;
            }

            keys[at] = keys[parent];
            items[at] = items[parent];
            at = parent;
        }

        keys[at] = key;
        items[at] = item;
    }

    private static void HeapReplaceTop(double[] keys, int[] items, int size, double key, int item)
    {
        int at = 0;
        while (true)
        {
            int child = 2 * at + 1;
            if (child >= size)
            {
                break;
            }

            if (child + 1 < size && Before(keys[child], items[child], keys[child + 1], items[child + 1]))
            {
                child++;
            }

            if (!Before(key, item, keys[child], items[child]))
            {
                break;
            }

            keys[at] = keys[child];
            items[at] = items[child];
            at = child;
        }

        keys[at] = key;
        items[at] = item;
    }

    private static double[] UnitVectors(Rng rng, int count, int d)
    {
        var vectors = new double[count * d];
        for (int n = 0; n < count; n++)
        {
            double norm = 0;
            for (int k = 0; k < d; k++)
            {
                double g = rng.NextGaussian();
                vectors[n * d + k] = g;
                norm += g * g;
            }

            norm = Math.Sqrt(norm);
            for (int k = 0; k < d; k++)
            {
                vectors[n * d + k] /= norm;
            }
        }

        return vectors;
    }
}
