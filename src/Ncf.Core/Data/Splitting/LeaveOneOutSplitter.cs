namespace Ncf.Data;

/// <summary>
/// The NCF paper's leave-one-out split of a raw <see cref="InteractionLog"/> into an <see cref="NcfDataset"/>.
/// </summary>
/// <remarks>
/// <para><b>Filter.</b> Users with fewer distinct items than <see cref="DataLoadOptions.MinInteractionsPerUser"/> are
/// dropped first; the remaining users and the items they touched are re-indexed densely, keeping their order of
/// first appearance. External IDs follow them.</para>
/// <para><b>Test.</b> Each user's latest interaction (largest timestamp; among equal timestamps the later line of
/// the file) is the test item. A user with only one distinct item has no test case and keeps that item in
/// training (so every user still has an embedding that is trained).</para>
/// <para><b>Validation</b> (optional). The latest interaction with an item other than the test item becomes the
/// validation item, for users with at least three distinct items; users with two get a test case only.</para>
/// <para><b>Training.</b> All remaining rows in file order. Every row of a held-out (user, item) pair is removed,
/// not only the latest one, so a repeated pair never leaks the test or validation item into training; repeated
/// training pairs are kept once (their first row).</para>
/// <para><b>No hold-out</b> (<see cref="HoldOut.None"/>): every distinct pair trains, and there are no cases.</para>
/// <para><b>Negatives.</b> <see cref="DataLoadOptions.TestNegatives"/> distinct items per case, drawn without
/// replacement from items the user never interacted with anywhere in the log (so validation negatives never
/// include the test item), seeded by <see cref="DataLoadOptions.Seed"/> per user: the same seed and log give the
/// same negatives on every machine.</para>
/// </remarks>
public static class LeaveOneOutSplitter
{
    /// <summary>Splits <paramref name="log"/>; <paramref name="name"/> labels the data set (default: the log's source).</summary>
    /// <exception cref="NcfException">No user survives the filter; a user has fewer unseen items than the negatives
    /// asked for (the message names the user's external ID); or a hold-out asked for finds no case: no user has two
    /// distinct items (test) or three (validation).</exception>
    /// <param name="log">The interactions, as read.</param>
    /// <param name="options">The split; defaults as documented on <see cref="DataLoadOptions"/>.</param>
    /// <param name="name">The data set's label; default the log's source.</param>
    /// <param name="cancellationToken">Checked every 4,096 users while the negatives are drawn.</param>
    public static NcfDataset Split(InteractionLog log, DataLoadOptions? options = null, string? name = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataLoadOptions();
        options.Validate();
        int userCount = log.UserCount, itemCount = log.ItemCount, rowCount = log.Count;
        int[] users = log.Users, items = log.Items;
        long[] times = log.Timestamps;

        // Rows grouped by user (CSR), each group in file order.
        var offsets = new int[userCount + 1];
        foreach (int u in users)
        {
            offsets[u + 1]++;
        }

        for (int u = 0; u < userCount; u++)
        {
            offsets[u + 1] += offsets[u];
        }

        var rowsByUser = new int[rowCount];
        var fill = offsets.AsSpan(0, userCount).ToArray();
        for (int n = 0; n < rowCount; n++)
        {
            rowsByUser[fill[users[n]]++] = n;
        }

        // Distinct items per user; a stamp array (value = user + 1) marks items already counted.
        var mark = new int[itemCount];
        var distinct = new int[userCount];
        for (int u = 0; u < userCount; u++)
        {
            foreach (int r in rowsByUser.AsSpan(offsets[u], offsets[u + 1] - offsets[u]))
            {
                if (mark[items[r]] != u + 1)
                {
                    mark[items[r]] = u + 1;
                    distinct[u]++;
                }
            }
        }

        var (newUser, newItem, userIds, itemIds) = Reindex(log, distinct, options.MinInteractionsPerUser);
        int keptUsers = userIds.Count, keptItems = itemIds.Count;

        int k = options.TestNegatives;
        var testUsers = new List<int>(keptUsers);
        var testItems = new List<int>(keptUsers);
        var testNegatives = new List<int>(keptUsers * k);
        var validUsers = new List<int>();
        var validItems = new List<int>();
        var validNegatives = new List<int>();
        var sampler = new TestNegativeSampler(keptItems, options.Seed);
        var keepRow = new bool[rowCount];
        var seen = new List<int>();
        var negatives = new int[k];
        Array.Clear(mark);
        int stamp = 0;
        for (int u = 0; u < userCount; u++)
        {
            if ((u & 4095) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            int nu = newUser[u];
            if (nu < 0)
            {
                continue;
            }

            var rows = rowsByUser.AsSpan(offsets[u], offsets[u + 1] - offsets[u]);
            int testItem = distinct[u] >= 2 && options.HoldOut == HoldOut.Latest ? items[Latest(rows, items, times, exclude: -1)] : -1;
            int validItem = options.Validation && distinct[u] >= 3 ? items[Latest(rows, items, times, exclude: testItem)] : -1;

            stamp++;
            seen.Clear();
            foreach (int r in rows)
            {
                int item = items[r];
                seen.Add(newItem[item]);
                if (item != testItem && item != validItem && mark[item] != stamp)
                {
                    mark[item] = stamp;
                    keepRow[r] = true;
                }
            }

            if (testItem < 0)
            {
                continue;
            }

            sampler.BeginUser(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seen));
            if (sampler.Unseen < k)
            {
                throw new NcfException($"{log.Source}: user '{log.UserIds[u]}' has interacted with {keptItems - sampler.Unseen} of the "
                    + $"{keptItems} items, leaving {sampler.Unseen} unseen; {k} distinct negatives per evaluation case cannot be drawn. "
                    + $"Lower the number of test negatives to {sampler.Unseen} or fewer (ncf: --test-neg)"
                    + (keptItems <= k ? $": the catalogue holds only {keptItems} items." : "."));
            }

            testUsers.Add(nu);
            testItems.Add(newItem[testItem]);
            sampler.Draw(nu, TestNegativeSampler.TestPurpose, negatives);
            testNegatives.AddRange(negatives);
            if (validItem >= 0)
            {
                validUsers.Add(nu);
                validItems.Add(newItem[validItem]);
                sampler.Draw(nu, TestNegativeSampler.ValidationPurpose, negatives);
                validNegatives.AddRange(negatives);
            }
        }

        // A split with nothing to evaluate on would report HR@10 = 0 for every epoch and choose epochs on nothing.
        if (options.HoldOut == HoldOut.Latest && testUsers.Count == 0)
        {
            throw new NcfException($"{log.Source}: no user has two or more distinct items, so leave-one-out holds out no test case. "
                + "Hold nothing out to train on every interaction (ncf: --holdout none), or add interactions.");
        }

        if (options.Validation && validUsers.Count == 0)
        {
            throw new NcfException($"{log.Source}: no user has three or more distinct items, so no validation case can be held out "
                + "besides the test case. Train without one (ncf: drop --validation, and --refit), or add interactions.");
        }

        int trainCount = 0;
        foreach (bool keep in keepRow)
        {
            trainCount += keep ? 1 : 0;
        }

        var trainUsers = new int[trainCount];
        var trainItems = new int[trainCount];
        for (int n = 0, t = 0; n < rowCount; n++)
        {
            if (keepRow[n])
            {
                trainUsers[t] = newUser[users[n]];
                trainItems[t++] = newItem[items[n]];
            }
        }

        var test = options.HoldOut == HoldOut.None ? null : EvaluationSet.WithFixedNegatives([.. testUsers], [.. testItems], [.. testNegatives], k);
        var validation = options.Validation ? EvaluationSet.WithFixedNegatives([.. validUsers], [.. validItems], [.. validNegatives], k) : null;
        string[] notes = log.HasTimestamps || options.HoldOut == HoldOut.None ? []
            : [$"{log.Source} has no timestamps: each user's last line is the test case{(options.Validation ? " and the last line with another item the validation case" : "")}, which is the paper's protocol only if the file is in time order."];
        return new NcfDataset(name ?? log.Source, keptUsers, keptItems, trainUsers, trainItems, test, validation, userIds, itemIds)
        {
            Notes = notes,
        };
    }

    /// <summary>The row (of <paramref name="rows"/>, ascending file order) with the largest timestamp, the later row on ties,
    /// skipping rows of item <paramref name="exclude"/>.</summary>
    internal static int Latest(ReadOnlySpan<int> rows, int[] items, long[] times, int exclude)
    {
        int best = -1;
        foreach (int r in rows)
        {
            if (items[r] != exclude && (best < 0 || times[r] >= times[best]))
            {
                best = r;
            }
        }

        return best;
    }

    // Keeps users with at least `min` distinct items and the items they touched, both in order of first appearance.
    private static (int[] NewUser, int[] NewItem, IdMap UserIds, IdMap ItemIds) Reindex(InteractionLog log, int[] distinct, int min)
    {
        var newUser = new int[log.UserCount];
        var userIds = new List<string>();
        for (int u = 0; u < newUser.Length; u++)
        {
            newUser[u] = distinct[u] >= min ? userIds.Count : -1;
            if (newUser[u] >= 0)
            {
                userIds.Add(log.UserIds[u]);
            }
        }

        if (userIds.Count == 0)
        {
            throw new NcfException($"{log.Source}: no user has at least {min} distinct items; lower the minimum-interactions filter.");
        }

        var newItem = new int[log.ItemCount];
        Array.Fill(newItem, -1);
        var itemIds = new List<string>();
        for (int n = 0; n < log.Count; n++)
        {
            int item = log.Items[n];
            if (newItem[item] < 0 && newUser[log.Users[n]] >= 0)
            {
                newItem[item] = itemIds.Count;
                itemIds.Add(log.ItemIds[item]);
            }
        }

        return (newUser, newItem, new IdMap(userIds), new IdMap(itemIds));
    }
}
