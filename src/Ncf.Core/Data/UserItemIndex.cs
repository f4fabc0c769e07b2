namespace Ncf.Data;

/// <summary>
/// Each user's distinct items, sorted, in compressed-sparse-row form: items of user u are
/// <c>Items[Offsets[u] .. Offsets[u+1])</c>. Membership is a binary search (≈ log2 of the user's count).
/// </summary>
public sealed class UserItemIndex
{
    /// <summary>Builds the index from parallel (user, item) arrays; duplicates are removed.</summary>
    public UserItemIndex(int userCount, int itemCount, ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        if (users.Length != items.Length)
        {
            throw new ArgumentException("users and items differ in length.");
        }

        UserCount = userCount;
        ItemCount = itemCount;
        var counts = new int[userCount + 1];
        for (int n = 0; n < users.Length; n++)
        {
            if ((uint)users[n] >= (uint)userCount || (uint)items[n] >= (uint)itemCount)
            {
                throw new ArgumentOutOfRangeException(nameof(users), $"Pair ({users[n]}, {items[n]}) is outside {userCount} users x {itemCount} items.");
            }

            counts[users[n] + 1]++;
        }

        for (int u = 0; u < userCount; u++)
        {
            counts[u + 1] += counts[u];
        }

        var fill = counts.AsSpan(0, userCount).ToArray();
        var all = new int[users.Length];
        for (int n = 0; n < users.Length; n++)
        {
            all[fill[users[n]]++] = items[n];
        }

        // Sort and de-duplicate each user's run, then compact.
        var offsets = new int[userCount + 1];
        int write = 0;
        for (int u = 0; u < userCount; u++)
        {
            var run = all.AsSpan(counts[u], counts[u + 1] - counts[u]);
            run.Sort();
            offsets[u] = write;
            for (int k = 0; k < run.Length; k++)
            {
                if (k == 0 || run[k] != run[k - 1])
                {
                    all[write++] = run[k];
                }
            }
        }

        offsets[userCount] = write;
        Offsets = offsets;
        Items = write == all.Length ? all : all.AsSpan(0, write).ToArray();
    }

    private UserItemIndex(int userCount, int itemCount, int[] offsets, int[] items)
    {
        UserCount = userCount;
        ItemCount = itemCount;
        Offsets = offsets;
        Items = items;
    }

    /// <summary>
    /// Takes compressed-sparse-row arrays as they are, without copying, when they form a valid index: offsets from 0 to
    /// <c>items.Length</c>, never decreasing, and every user's run strictly increasing within <c>[0, itemCount)</c>.
    /// Otherwise returns null, with <paramref name="problem"/> describing the first violation for the caller's error message.
    /// </summary>
    internal static UserItemIndex? FromSortedRows(int userCount, int itemCount, int[] offsets, int[] items, out string? problem)
    {
        problem = null;
        if (offsets.Length != userCount + 1 || offsets[0] != 0 || offsets[userCount] != items.Length)
        {
            problem = "its offsets do not span the table";
            return null;
        }

        for (int u = 0; u < userCount; u++)
        {
            int start = offsets[u], end = offsets[u + 1];
            if (end < start || end > items.Length)
            {
                problem = $"user {u}'s offsets run from {start} to {end}";
                return null;
            }

            for (int k = start; k < end; k++)
            {
                if ((uint)items[k] >= (uint)itemCount)
                {
                    problem = $"a known item id {items[k]} is outside the model's {itemCount} items";
                    return null;
                }

                if (k > start && items[k] <= items[k - 1])
                {
                    problem = $"user {u}'s items are not sorted and distinct";
                    return null;
                }
            }
        }

        return new UserItemIndex(userCount, itemCount, offsets, items);
    }

    /// <summary>Number of users.</summary>
    public int UserCount { get; }

    /// <summary>Number of items.</summary>
    public int ItemCount { get; }

    /// <summary>Row offsets, length <c>UserCount + 1</c>.</summary>
    public int[] Offsets { get; }

    /// <summary>Sorted distinct items of every user, concatenated.</summary>
    public int[] Items { get; }

    /// <summary>Number of distinct (user, item) pairs.</summary>
    public int PairCount => Items.Length;

    /// <summary>The sorted items of <paramref name="user"/>.</summary>
    public ReadOnlySpan<int> ItemsOf(int user) => Items.AsSpan(Offsets[user], Offsets[user + 1] - Offsets[user]);

    /// <summary>Number of distinct items of <paramref name="user"/>.</summary>
    public int CountOf(int user) => Offsets[user + 1] - Offsets[user];

    /// <summary>True when <paramref name="user"/> has <paramref name="item"/>.</summary>
    public bool Contains(int user, int item) => ItemsOf(user).BinarySearch(item) >= 0;
}
