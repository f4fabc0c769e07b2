using System.Runtime.InteropServices;
using Ncf.Randomness;

namespace Ncf.Data;

/// <summary>
/// Reads the NCF paper's pre-split files for a prefix <c>X</c> (e.g. <c>Data/ml-1m</c>) into an <see cref="NcfDataset"/>:
/// <list type="bullet">
/// <item><c>X.train.rating</c> (required): tab-separated <c>user item rating timestamp</c>, 0-based dense IDs; the
/// rating and timestamp are optional, extra columns are ignored. Users and items are <c>0..max</c> of this file.</item>
/// <item><c>X.test.negative</c>: one test case per line, <c>(user,item)\tneg1\tneg2...</c>. It fixes the test item
/// and its negatives, used exactly as written (the original ML-1M file lists the test item itself among the
/// negatives for 156 users; that is kept).</item>
/// <item><c>X.test.rating</c>: <c>user item rating timestamp</c>, one test case per line. When both test files exist,
/// their (user, item) pairs must agree line by line; when only this one exists, negatives are drawn as in
/// <see cref="LeaveOneOutSplitter"/>.</item>
/// </list>
/// External IDs are the 0-based numbers as strings. With <see cref="DataLoadOptions.Validation"/>, each user's latest
/// training row (ties: the later line) is moved out of training into a validation case when the user has at
/// least two distinct training items. A user whose training rows all carry timestamp 0 (or none) has no latest
/// row: the NCF files write 0 for "time unknown" and sort such rows by item ID, so the validation row is drawn
/// uniformly from the user's rows with the seed instead of taken from the file's end. Training rows are otherwise
/// kept exactly as in the file.
/// </summary>
/// <remarks>Throws <see cref="NcfException"/> for a missing or unreadable file and <see cref="DataFormatException"/>
/// (file, 1-based line, problem) for a malformed line, an empty training file, or a test user, item or negative
/// outside the ID range of the training file.</remarks>
public static class NcfFileReader
{
    /// <summary>Largest ID accepted: the IDs size dense embedding tables, so a stray huge number is an error, not an allocation.</summary>
    public const int MaxId = 100_000_000;

    /// <summary>The file itself, or its gzipped twin <c>FILE.gz</c> when only that exists.</summary>
    internal static string Existing(string file) => !File.Exists(file) && File.Exists(file + ".gz") ? file + ".gz" : file;

    /// <summary>Reads the files of <paramref name="prefix"/> (each may be gzipped as <c>FILE.gz</c>).</summary>
    /// <param name="prefix">The path before <c>.train.rating</c>.</param>
    /// <param name="options">The split; defaults as documented on <see cref="DataLoadOptions"/>.</param>
    /// <param name="name">The data set's label; default the prefix's file name.</param>
    /// <param name="cancellationToken">Checked as the files are read (every megabyte or so).</param>
    public static NcfDataset Read(string prefix, DataLoadOptions? options = null, string? name = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataLoadOptions();
        options.Validate();
        if (options.MinInteractionsPerUser > 1)
        {
            throw new NcfException($"{prefix}: NCF files are already split; a minimum-interactions filter cannot be applied to them.");
        }

        string trainPath = Existing(prefix + ".train.rating"), negativePath = Existing(prefix + ".test.negative");
        string testPath = Existing(prefix + ".test.rating");
        foreach (string file in (string[])[trainPath, negativePath, testPath])
        {
            if (Directory.Exists(file))
            {
                throw new NcfException($"{file}: is a folder; NCF data needs it to be a file (or absent, for the test files, when the other one is there).");
            }
        }

        if (!File.Exists(trainPath))
        {
            throw new NcfException($"{trainPath}: file not found (NCF data needs PREFIX.train.rating and PREFIX.test.negative or PREFIX.test.rating).");
        }

        bool hasNegatives = File.Exists(negativePath), hasTestRatings = File.Exists(testPath);
        if (!hasNegatives && !hasTestRatings)
        {
            throw new NcfException($"{negativePath}: file not found, and no {Path.GetFileName(testPath)} either; NCF data needs one of them for the test cases.");
        }

        var train = ReadRatings(trainPath, userLimit: MaxId + 1, itemLimit: MaxId + 1, trainPath, cancellationToken);
        if (train.Users.Count == 0)
        {
            throw new DataFormatException(trainPath, 0, "no interactions found (the file is empty or holds only blank lines)");
        }

        RequireDenseIds(trainPath, train);
        int userCount = train.MaxUser + 1, itemCount = train.MaxItem + 1;
        TestCases test;
        if (hasNegatives)
        {
            test = ReadNegatives(negativePath, userCount, itemCount, trainPath, cancellationToken);
            if (hasTestRatings)
            {
                CheckAgreement(ReadRatings(testPath, userCount, itemCount, trainPath, cancellationToken, keepLines: true), testPath, test, negativePath);
            }
        }
        else
        {
            var ratings = ReadRatings(testPath, userCount, itemCount, trainPath, cancellationToken);
            if (ratings.Users.Count == 0)
            {
                throw new DataFormatException(testPath, 0, "no test cases found (the file is empty or holds only blank lines)");
            }

            test = new TestCases { Users = ratings.Users, Items = ratings.Items };
        }

        name ??= Path.GetFileName(prefix);
        return options.HoldOut == HoldOut.None
            ? TrainOnEverything(name, userCount, itemCount, train, test)
            : Assemble(name, userCount, itemCount, train, test, hasNegatives, options, cancellationToken);
    }

    // HoldOut.None: the test items are training positives too, after the training rows (so sampling order is the
    // file's); a test pair already in training, or repeated, is added once.
    private static NcfDataset TrainOnEverything(string name, int userCount, int itemCount, Ratings train, TestCases test)
    {
        var pairs = new HashSet<long>(train.Users.Count + test.Users.Count);
        var users = new List<int>(train.Users.Count + test.Users.Count);
        var items = new List<int>(users.Capacity);
        for (int n = 0; n < train.Users.Count; n++)
        {
            pairs.Add(((long)train.Users[n] << 32) | (uint)train.Items[n]);
            users.Add(train.Users[n]);
            items.Add(train.Items[n]);
        }

        for (int c = 0; c < test.Users.Count; c++)
        {
            if (pairs.Add(((long)test.Users[c] << 32) | (uint)test.Items[c]))
            {
                users.Add(test.Users[c]);
                items.Add(test.Items[c]);
            }
        }

        return new NcfDataset(name, userCount, itemCount, [.. users], [.. items], test: null, validation: null,
            IdMap.Identity(userCount), IdMap.Identity(itemCount));
    }

    private static NcfDataset Assemble(string name, int userCount, int itemCount, Ratings train, TestCases test, bool fixedNegatives, DataLoadOptions options,
        CancellationToken cancellationToken)
    {
        var trainUsers = CollectionsMarshal.AsSpan(train.Users);
        var trainItems = CollectionsMarshal.AsSpan(train.Items);
        var testUsers = CollectionsMarshal.AsSpan(test.Users);
        var testItems = CollectionsMarshal.AsSpan(test.Items);

        // Training rows and test items grouped by user, for validation hold-outs and drawn negatives.
        var rowOffsets = GroupOffsets(trainUsers, userCount, out var rowsByUser);
        var testOffsets = GroupOffsets(testUsers, userCount, out var testsByUser);
        var trainItemArray = train.Items.ToArray();
        var trainTimeArray = train.Times.ToArray();

        var keep = new bool[trainUsers.Length];
        Array.Fill(keep, true);
        int untimedUsers = 0;
        var validItemOf = new int[userCount];
        Array.Fill(validItemOf, -1);
        if (options.Validation)
        {
            var mark = new int[itemCount];
            for (int u = 0; u < userCount; u++)
            {
                var rows = rowsByUser.AsSpan(rowOffsets[u], rowOffsets[u + 1] - rowOffsets[u]);
                int distinct = 0;
                foreach (int r in rows)
                {
                    distinct += mark[trainItemArray[r]] != u + 1 ? 1 : 0;
                    mark[trainItemArray[r]] = u + 1;
                }

                if (distinct >= 2)
                {
                    bool timed = HasTimes(rows, trainTimeArray);
                    untimedUsers += timed ? 0 : 1;
                    int row = timed
                        ? LeaveOneOutSplitter.Latest(rows, trainItemArray, trainTimeArray, exclude: -1)
                        : rows[new Rng(options.Seed, CounterHash.Mix((ulong)u, ValidationDrawPurpose)).NextInt(rows.Length)];
                    int item = trainItemArray[row];
                    validItemOf[u] = item;
                    foreach (int r in rows)
                    {
                        keep[r] &= trainItemArray[r] != item;
                    }
                }
            }
        }

        var sampler = new TestNegativeSampler(itemCount, options.Seed);
        var seen = new List<int>();
        int k = options.TestNegatives;
        var negatives = new int[k];
        var drawnTest = new int[fixedNegatives ? 0 : testUsers.Length * k];
        var validUsers = new List<int>();
        var validItems = new List<int>();
        var validNegatives = new List<int>();
        bool needDraws = !fixedNegatives || options.Validation;
        for (int u = 0; u < userCount && needDraws; u++)
        {
            if ((u & 4095) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var tests = testsByUser.AsSpan(testOffsets[u], testOffsets[u + 1] - testOffsets[u]);
            bool drawTest = !fixedNegatives && tests.Length > 0;
            if (!drawTest && validItemOf[u] < 0)
            {
                continue;
            }

            // Everything the user interacted with: training rows (including the validation item) and test items.
            seen.Clear();
            foreach (int r in rowsByUser.AsSpan(rowOffsets[u], rowOffsets[u + 1] - rowOffsets[u]))
            {
                seen.Add(trainItemArray[r]);
            }

            foreach (int c in tests)
            {
                seen.Add(testItems[c]);
            }

            sampler.BeginUser(CollectionsMarshal.AsSpan(seen));
            if (sampler.Unseen < k)
            {
                throw new NcfException($"{name}: user '{u}' has interacted with {itemCount - sampler.Unseen} of the {itemCount} items; "
                    + $"{k} distinct negatives per evaluation case cannot be drawn. Lower the number of test negatives to {sampler.Unseen} or fewer (ncf: --test-neg).");
            }

            if (drawTest)
            {
                // A user normally has one test case; repeated cases get the same negatives.
                sampler.Draw(u, TestNegativeSampler.TestPurpose, negatives);
                foreach (int c in tests)
                {
                    negatives.CopyTo(drawnTest, c * k);
                }
            }

            if (validItemOf[u] >= 0)
            {
                validUsers.Add(u);
                validItems.Add(validItemOf[u]);
                sampler.Draw(u, TestNegativeSampler.ValidationPurpose, negatives);
                validNegatives.AddRange(negatives);
            }
        }

        var testSet = fixedNegatives
            ? new EvaluationSet(test.Users.ToArray(), test.Items.ToArray(), test.NegativeOffsets.ToArray(), test.Negatives.ToArray())
            : EvaluationSet.WithFixedNegatives(test.Users.ToArray(), test.Items.ToArray(), drawnTest, k);
        if (options.Validation && validUsers.Count == 0)
        {
            throw new NcfException($"{name}: no user has two or more distinct training items, so no validation case can be held out "
                + "without leaving a user untrained. Train without one (ncf: drop --validation, and --refit).");
        }

        var validation = options.Validation ? EvaluationSet.WithFixedNegatives([.. validUsers], [.. validItems], [.. validNegatives], k) : null;

        int trainCount = 0;
        foreach (bool kept in keep)
        {
            trainCount += kept ? 1 : 0;
        }

        var finalUsers = new int[trainCount];
        var finalItems = new int[trainCount];
        for (int n = 0, t = 0; n < keep.Length; n++)
        {
            if (keep[n])
            {
                finalUsers[t] = trainUsers[n];
                finalItems[t++] = trainItems[n];
            }
        }

        var notes = new List<string>();
        if (untimedUsers > 0)
        {
            notes.Add($"{untimedUsers:N0} of {validation!.Count:N0} validation cases belong to users whose training rows all have timestamp 0 (time unknown): "
                + "each is a seeded random draw from the user's rows, not their second-latest interaction.");
        }

        // A test user inside the training file's ID range but without a row in it: legal, yet no model learns it.
        int untrained = 0, firstUntrained = -1;
        foreach (int u in test.Users)
        {
            if (rowOffsets[u + 1] == rowOffsets[u] && untrained++ == 0)
            {
                firstUntrained = u;
            }
        }

        if (untrained > 0)
        {
            notes.Add($"{untrained:N0} of {test.Users.Count:N0} test cases belong to users with no training row (the first: user {firstUntrained}): "
                + "their user embeddings stay as initialised (no training row updates them; only --l2 shrinks them), so their rankings show what the model learnt of the items alone.");
        }

        return new NcfDataset(name, userCount, itemCount, finalUsers, finalItems, testSet, validation,
            IdMap.Identity(userCount), IdMap.Identity(itemCount))
        {
            Notes = [.. notes],
        };
    }

    // Stream key of the validation item drawn for a user without timestamps (negatives use TestNegativeSampler's keys).
    private const ulong ValidationDrawPurpose = 3;

    // Timestamp 0 is the NCF files' "time unknown" (the Pinterest files, and half the users of the reconstructed ML-1M
    // file, whose rows are sorted by item ID): a user whose rows all carry it has no latest row, and taking the last
    // line would hold out the highest item ID, which in these files is the user's rarest item.
    private static bool HasTimes(ReadOnlySpan<int> rows, long[] times)
    {
        foreach (int r in rows)
        {
            if (times[r] != 0)
            {
                return true;
            }
        }

        return false;
    }

    // CSR offsets of `keys` grouped by value (stable); `order` receives the positions.
    private static int[] GroupOffsets(ReadOnlySpan<int> keys, int groups, out int[] order)
    {
        var offsets = new int[groups + 1];
        foreach (int key in keys)
        {
            offsets[key + 1]++;
        }

        for (int g = 0; g < groups; g++)
        {
            offsets[g + 1] += offsets[g];
        }

        var fill = offsets.AsSpan(0, groups).ToArray();
        order = new int[keys.Length];
        for (int n = 0; n < keys.Length; n++)
        {
            order[fill[keys[n]]++] = n;
        }

        return offsets;
    }

    // Reads `user item [rating [timestamp]]` lines; IDs must be below the limits (the training file's range).
    private static Ratings ReadRatings(string path, int userLimit, int itemLimit, string trainPath, CancellationToken cancellationToken, bool keepLines = false)
    {
        using var reader = new Utf8LineReader(path, cancellationToken: cancellationToken);
        int capacity = (int)Math.Min(reader.Length / 16, 1 << 26);
        var result = new Ratings(capacity) { Lines = keepLines ? new List<int>(capacity) : null };
        Span<Range> fields = stackalloc Range[4];
        while (reader.TryReadLine(out var line))
        {
            int count = FieldSplitter.Split(line, "\t"u8, fields);
            if (count < 2)
            {
                if (FieldSplitter.IsBlank(line))
                {
                    continue;
                }

                throw new DataFormatException(path, reader.LineNumber, $"expected tab-separated fields user, item, rating, timestamp; found {count}");
            }

            int user = ParseId(reader, line[fields[0]], "user", userLimit, trainPath);
            int item = ParseId(reader, line[fields[1]], "item", itemLimit, trainPath);
            // The rating is optional and unused, but when written it must be a number (an empty field is no rating).
            if (count >= 3 && FieldSplitter.Clean(line[fields[2]]) is { IsEmpty: false } rating && !Utf8Number.TryParseSingle(rating, out _))
            {
                throw new DataFormatException(path, reader.LineNumber, $"rating '{FieldSplitter.Show(line[fields[2]])}' is not a number");
            }

            long time = 0;
            if (count >= 4 && !Utf8Number.TryParseInt64(FieldSplitter.Clean(line[fields[3]]), out time))
            {
                throw new DataFormatException(path, reader.LineNumber,
                    $"timestamp '{FieldSplitter.Show(line[fields[3]])}' {Utf8Number.Int64Problem(FieldSplitter.Clean(line[fields[3]]))}");
            }

            result.Users.Add(user);
            result.Items.Add(item);
            result.Times.Add(time);
            result.Lines?.Add((int)reader.LineNumber);
            if (user > result.MaxUser)
            {
                (result.MaxUser, result.MaxUserLine) = (user, reader.LineNumber);
            }

            if (item > result.MaxItem)
            {
                (result.MaxItem, result.MaxItemLine) = (item, reader.LineNumber);
            }
        }

        return result;
    }

    // NCF files number users and items densely from 0, and every ID up to the largest gets an embedding row: one stray
    // large ID (a corrupted line) would otherwise make a model of millions of empty rows and take gigabytes.
    private static void RequireDenseIds(string path, Ratings train)
    {
        foreach (var (what, ids, max, line) in new[] { ("user", train.Users, train.MaxUser, train.MaxUserLine), ("item", train.Items, train.MaxItem, train.MaxItemLine) })
        {
            const int Slack = 100_000; // small files may skip IDs freely
            if (max < Slack)
            {
                continue;
            }

            var seen = new System.Collections.BitArray(max + 1);
            int distinct = 0;
            foreach (int id in ids)
            {
                distinct += seen[id] ? 0 : 1;
                seen[id] = true;
            }

            if (max + 1L > 4L * distinct + Slack)
            {
                throw new DataFormatException(path, line,
                    $"{what} ID {max} makes the {what}s 0..{max}, {max + 1L:N0} embedding rows for {distinct:N0} distinct {what}s: NCF files number "
                    + $"{what}s densely from 0. Renumber them, or read the log as a generic CSV/TSV (--format csv), which maps any IDs to dense rows.");
            }
        }
    }

    // Reads `(user,item)\tneg1\tneg2...` lines. Every line must list as many negatives as the first (99 in the
    // paper's files): a line cut short by a broken download would otherwise rank its test item among fewer
    // candidates, and one with none would count as a hit, without a word.
    private static TestCases ReadNegatives(string path, int userCount, int itemCount, string trainPath, CancellationToken cancellationToken)
    {
        using var reader = new Utf8LineReader(path, cancellationToken: cancellationToken);
        var cases = new TestCases();
        cases.NegativeOffsets.Add(0);
        int expected = -1;
        long expectedLine = 0;
        while (reader.TryReadLine(out var line))
        {
            if (FieldSplitter.IsBlank(line))
            {
                continue;
            }

            int tab = line.IndexOf((byte)'\t');
            var head = FieldSplitter.Clean(tab < 0 ? line : line[..tab]);
            int comma = head.IndexOf((byte)',');
            if (head.Length < 5 || head[0] != (byte)'(' || head[^1] != (byte)')' || comma < 0)
            {
                throw new DataFormatException(path, reader.LineNumber,
                    $"expected '(user,item)' followed by tab-separated negative items; found '{FieldSplitter.Show(head)}'");
            }

            cases.Lines.Add((int)reader.LineNumber);
            cases.Users.Add(ParseId(reader, head[1..comma], "user", userCount, trainPath));
            cases.Items.Add(ParseId(reader, head[(comma + 1)..^1], "item", itemCount, trainPath));
            var rest = tab < 0 ? [] : line[(tab + 1)..];
            while (!rest.IsEmpty)
            {
                int next = rest.IndexOf((byte)'\t');
                var field = next < 0 ? rest : rest[..next];
                rest = next < 0 ? [] : rest[(next + 1)..];
                if (!FieldSplitter.IsBlank(field))
                {
                    cases.Negatives.Add(ParseId(reader, field, "negative item", itemCount, trainPath));
                }
            }

            int found = cases.Negatives.Count - cases.NegativeOffsets[^1];
            if (found == 0)
            {
                throw new DataFormatException(path, reader.LineNumber,
                    "expected tab-separated negative items after '(user,item)'; found none (a truncated file?)");
            }

            if (expected < 0)
            {
                (expected, expectedLine) = (found, reader.LineNumber);
            }
            else if (found != expected)
            {
                throw new DataFormatException(path, reader.LineNumber,
                    $"expected {expected} negative items, as on line {expectedLine}; found {found} (a truncated or mixed file?)");
            }

            cases.NegativeOffsets.Add(cases.Negatives.Count);
        }

        if (cases.Users.Count == 0)
        {
            throw new DataFormatException(path, 0, "no test cases found (the file is empty or holds only blank lines)");
        }

        return cases;
    }

    private static void CheckAgreement(Ratings ratings, string testPath, TestCases cases, string negativePath)
    {
        for (int c = 0; c < Math.Max(ratings.Users.Count, cases.Users.Count); c++)
        {
            if (c >= ratings.Users.Count || c >= cases.Users.Count
                || ratings.Users[c] != cases.Users[c] || ratings.Items[c] != cases.Items[c])
            {
                string mine = c < ratings.Users.Count ? $"({ratings.Users[c]},{ratings.Items[c]})" : "nothing";
                string theirs = c < cases.Users.Count ? $"({cases.Users[c]},{cases.Items[c]}) on its line {cases.Lines[c]}" : "nothing";
                long line = c < ratings.Users.Count ? ratings.Lines![c] : 0;
                throw new DataFormatException(testPath, line,
                    $"test case {c + 1} is {mine} but {Path.GetFileName(negativePath)} has {theirs}; the two test files must list the same (user,item) pairs in the same order");
            }
        }
    }

    private static int ParseId(Utf8LineReader reader, ReadOnlySpan<byte> text, string what, int limit, string trainPath)
    {
        text = FieldSplitter.Clean(text);
        if (!Utf8Number.TryParseIndex(text, out int id))
        {
            throw new DataFormatException(reader.Path, reader.LineNumber, $"{what} ID '{FieldSplitter.Show(text)}' is not a non-negative integer (NCF files use 0-based IDs)");
        }

        if (id >= limit)
        {
            string range = limit > MaxId ? $"the largest accepted ID {MaxId}" : $"the range 0..{limit - 1} of {Path.GetFileName(trainPath)}";
            throw new DataFormatException(reader.Path, reader.LineNumber, $"{what} ID {id} is outside {range}");
        }

        return id;
    }

    private sealed class Ratings(int capacity)
    {
        /// <summary>The 1-based file line of each row, when asked for (the test file's, for messages).</summary>
        public List<int>? Lines { get; init; }

        public List<int> Users { get; } = new(capacity);

        public List<int> Items { get; } = new(capacity);

        public List<long> Times { get; } = new(capacity);

        public int MaxUser { get; set; } = -1;

        public int MaxItem { get; set; } = -1;

        /// <summary>The 1-based line of the largest user ID's first row.</summary>
        public long MaxUserLine { get; set; }

        /// <summary>The 1-based line of the largest item ID's first row.</summary>
        public long MaxItemLine { get; set; }
    }

    private sealed class TestCases
    {
        public List<int> Users { get; init; } = [];

        public List<int> Items { get; init; } = [];

        public List<int> NegativeOffsets { get; } = [];

        public List<int> Negatives { get; } = [];

        /// <summary>The 1-based file line of each case.</summary>
        public List<int> Lines { get; } = [];
    }
}
