using System.Diagnostics;
using System.Globalization;
using System.Text;
using Ncf.Backends.Cpu;
using Ncf.IO;

namespace Ncf.Cli;

/// <summary>
/// `ncf recommend`: the top-K items for one user from a model file, in the user's own IDs; or, with --all-users, a
/// table of every user's top K (tab-separated <c>user rank item score</c>, or a JSON line per user).
/// </summary>
internal static class RecommendCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var args = new Arguments(argv, Common.Flags);
        string path = args.String("model") ?? throw new NcfException("recommend needs --model FILE.");
        string? user = args.String("user");
        bool allUsers = args.Flag("all-users");
        string? history = args.String("history");
        int chosen = (user is null ? 0 : 1) + (allUsers ? 1 : 0) + (history is null ? 0 : 1);
        if (chosen != 1)
        {
            throw new NcfException(chosen == 0 ? "recommend needs --user ID (or --all-users, or --history for a user the model does not know)."
                : "--user, --all-users and --history are alternatives: give one.");
        }

        if (history is null && args.Given("seed"))
        {
            throw new NcfException("--seed seeds the fit of a --history; without one nothing is drawn.");
        }

        ulong seed = args.ULong("seed", 42);
        if (history is not null && args.Given("include-known"))
        {
            throw new NcfException("--include-known: a --history's items are always left out of its recommendations; drop it.");
        }

        int k = args.Int("k", 10, 1, 1_000_000);
        string? candidates = args.String("candidates");
        bool includeKnown = args.Flag("include-known");
        bool json = args.Flag("json");
        string? output = args.String("out");
        if (output is not null && !allUsers)
        {
            throw new NcfException("--out writes the --all-users table; one user's recommendations go to the terminal.");
        }

        if (output is not null)
        {
            Common.CheckOutputPath("--out", output, path);
        }

        args.RejectUnknown("recommend");
        var historyIds = history is null ? null : ParseIdList("--history", history);
        if (historyIds is { Length: 0 })
        {
            throw new NcfException("--history is empty: expected the IDs of the items the user interacted with, separated by commas.");
        }

        var list = candidates is null ? null : ParseIdList("--candidates", candidates);
        if (list is { Length: 0 })
        {
            throw new NcfException("--candidates is empty: expected item IDs separated by commas.");
        }

        using var backend = new CpuBackend();
        using var recommender = NcfRecommender.Load(path, backend);
        if (allUsers)
        {
            return WriteAll(path, recommender, k, list, includeKnown, json, output, stdout, stderr, cancellationToken);
        }

        var top = historyIds is not null
            ? recommender.RecommendForHistory(historyIds, k, list, new Ncf.Models.FoldInOptions { Seed = seed })
            : recommender.Recommend(user!, k, list, includeKnown);
        if (json)
        {
            stdout.WriteLine(JsonFor(user, historyIds?.Distinct().Count(), k, top));
            return Cli.Ok;
        }

        stdout.WriteLine(historyIds is not null
            ? $"top {top.Count} for a history of {historyIds.Distinct().Count()} item{(historyIds.Distinct().Count() == 1 ? "" : "s")} ({recommender.Model.Kind}, {recommender.ItemIds.Count} items, the user's embeddings fitted to the history, its items excluded):"
            : $"top {top.Count} for user {user} ({recommender.Model.Kind}, {recommender.ItemIds.Count} items, known items {(includeKnown ? "included" : "excluded")}):");
        int position = 1;
        foreach (var r in top)
        {
            stdout.WriteLine($"{position++,4}  {r.ItemId,-12}  score {r.Score,9:F4}  p {1 / (1 + Math.Exp(-r.Score)):F4}");
        }

        return Cli.Ok;
    }

    /// <summary>
    /// Item IDs separated by commas, quoted as in the CSV files they came from: an entry in double quotes may hold
    /// commas and spaces and writes a quote as two (<c>"Crouching Tiger, Hidden Dragon",m2</c>); unquoted entries are
    /// trimmed, as the CSV reader trims unquoted fields; empty entries are skipped.
    /// </summary>
    internal static string[] ParseIdList(string option, string text)
    {
        var ids = new List<string>();
        int at = 0;
        while (at <= text.Length)
        {
            while (at < text.Length && text[at] == ' ')
            {
                at++;
            }

            string id;
            if (at < text.Length && text[at] == '"')
            {
                var quoted = new StringBuilder();
                for (at++; ; at++)
                {
                    if (at >= text.Length)
                    {
                        throw new NcfException($"{option}: entry {ids.Count + 1} opens a quote that is not closed.");
                    }

                    if (text[at] == '"')
                    {
                        if (at + 1 < text.Length && text[at + 1] == '"')
                        {
                            at++;
                        }
                        else
                        {
                            break;
                        }
                    }

                    quoted.Append(text[at]);
                }

                id = quoted.ToString();
                at++;
                while (at < text.Length && text[at] == ' ')
                {
                    at++;
                }

                if (at < text.Length && text[at] != ',')
                {
                    throw new NcfException($"{option}: expected a comma after the closing quote of entry {ids.Count + 1}, found '{text[at]}' (a quote inside quotes is written twice: \"\").");
                }
            }
            else
            {
                int comma = text.IndexOf(',', at);
                id = text[at..(comma < 0 ? text.Length : comma)].Trim();
                at = comma < 0 ? text.Length : comma;
            }

            if (id.Length > 0)
            {
                ids.Add(id);
            }

            at++; // past the comma (or the end)
        }

        return [.. ids];
    }

    private static int WriteAll(string modelPath, NcfRecommender recommender, int k, string[]? candidates, bool includeKnown, bool json,
        string? output, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (!json && recommender.UserIds.Ids.Concat(recommender.ItemIds.Ids).FirstOrDefault(HasTableBreak) is { } bad)
        {
            throw new NcfException($"{modelPath}: the ID '{bad.ReplaceLineEndings(" ").Replace('\t', ' ')}' holds a tab or line break, which would break the "
                + "tab-separated table; use --json.");
        }

        var clock = Stopwatch.StartNew();
        // Unknown candidate IDs are reported before anything is written.
        var all = recommender.RecommendAll(k, candidates, includeKnown, cancellationToken);
        long rows = 0;
        // Writing into a file leaves stderr free for a line every few seconds: over a large catalogue the table takes
        // minutes (138 k users × 27 k items: about two). Not into a device or a pipe: --out /dev/stderr, or /dev/stdout
        // on a terminal, would interleave the lines with the table.
        int users = 0;
        var progress = output is not null && !AtomicFile.IsDeviceOrPipe(output) ? Common.UserProgress(stderr, recommender.UserIds.Count) : null;
        void WriteTable(TextWriter writer)
        {
            if (!json)
            {
                writer.WriteLine("user\trank\titem\tscore");
            }

            foreach (var (userId, items) in all)
            {
                if (json)
                {
                    writer.WriteLine(JsonFor(userId, null, k, items));
                }
                else
                {
                    for (int r = 0; r < items.Count; r++)
                    {
                        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{userId}\t{r + 1}\t{items[r].ItemId}\t{items[r].Score:R}"));
                    }
                }

                rows += items.Count;
                progress?.Report(++users);
            }
        }

        if (output is null)
        {
            WriteTable(stdout);
            return Cli.Ok;
        }

        // A partial table is never left behind: the file appears whole or not at all (also on Ctrl-C).
        AtomicFile.Write(output, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16, leaveOpen: true);
            WriteTable(writer);
        });
        stderr.WriteLine($"wrote {Common.Number(rows)} recommendations for {Common.Number(recommender.UserIds.Count)} users to {output} in {clock.Elapsed.TotalSeconds:F1} s");
        return Cli.Ok;
    }

    private static bool HasTableBreak(string id) => id.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0;

    private static string JsonFor(string? user, int? history, int k, IReadOnlyList<ItemRecommendation> top) =>
        (user is null ? new JsonLine().Add("history_items", history ?? 0) : new JsonLine().Add("user", user))
            .Add("k", k)
            .AddArray("items", w =>
            {
                int rank = 1;
                foreach (var r in top)
                {
                    w.WriteStartObject();
                    w.WriteNumber("rank", rank++);
                    w.WriteString("item", r.ItemId);
                    w.WriteNumber("score", Math.Round(r.Score, 6));
                    w.WriteNumber("probability", Math.Round(1 / (1 + Math.Exp(-r.Score)), 6));
                    w.WriteEndObject();
                }
            })
            .ToString();
}
