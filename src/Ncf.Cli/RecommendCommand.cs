using Ncf.Backends.Cpu;

namespace Ncf.Cli;

/// <summary>`ncf recommend`: the top-K items for one user from a model file, in the user's own IDs.</summary>
internal static class RecommendCommand
{
    public static int Run(string[] argv, TextWriter stdout)
    {
        var args = new Arguments(argv, Common.Flags);
        string path = args.String("model") ?? throw new NcfException("recommend needs --model FILE.");
        string user = args.String("user") ?? throw new NcfException("recommend needs --user ID.");
        int k = args.Int("k", 10, 1, 1_000_000);
        string? candidates = args.String("candidates");
        bool includeKnown = args.Flag("include-known");
        bool json = args.Flag("json");
        args.RejectUnknown("recommend");

        using var backend = new CpuBackend();
        using var recommender = NcfRecommender.Load(path, backend);
        var list = candidates?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (list is { Length: 0 })
        {
            throw new NcfException("--candidates is empty.");
        }

        var top = recommender.Recommend(user, k, list, includeKnown);
        if (json)
        {
            stdout.WriteLine(new JsonLine()
                .Add("user", user)
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
                }));
            return Cli.Ok;
        }

        stdout.WriteLine($"top {top.Count} for user {user} ({recommender.Model.Kind}, {recommender.ItemIds.Count} items, known items {(includeKnown ? "included" : "excluded")}):");
        int position = 1;
        foreach (var r in top)
        {
            stdout.WriteLine($"{position++,4}  {r.ItemId,-12}  score {r.Score,9:F4}  p {1 / (1 + Math.Exp(-r.Score)):F4}");
        }

        return Cli.Ok;
    }
}
