using System.Text;
using Ncf.Backends.Cpu;
using Ncf.Core.Tests.Data;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Models;
using Ncf.Training;

namespace Ncf.Core.Tests;

/// <summary>
/// The README's C# samples, compiled and run. Each sample sits below between "README sample" markers, as the README
/// prints it; <see cref="TheReadmeSamples_AreTheOnesCompiledHere"/> fails when the two drift apart, so a sample that
/// no longer compiles or runs cannot stay in the README.
/// </summary>
public sealed class ReadmeSamplesTests : IDisposable
{
    // The samples name files in the working directory; here they live in a temporary folder.
    private static readonly Dictionary<string, string> FileNames = new()
    {
        ["\"clicks.csv\""] = "clicksCsv",
        ["\"neumf.ncf\""] = "modelFile",
    };

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TheReadmeSamples_AreTheOnesCompiledHere()
    {
        string root = RepositoryRoot();
        var readme = CodeBlocks(File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n"))
            .Select(block => FileNames.Aggregate(block, (text, name) => text.Replace(name.Key, name.Value)))
            .Select(Normalise).ToList();
        var here = MarkedRegions(File.ReadAllText(Path.Combine(root, "tests", "Ncf.Core.Tests", "ReadmeSamplesTests.cs")).ReplaceLineEndings("\n"))
            .Select(Normalise).ToList();

        // The samples' namespace imports, which Normalise drops, are among this file's (so the samples compile with them).
        string source = File.ReadAllText(Path.Combine(root, "tests", "Ncf.Core.Tests", "ReadmeSamplesTests.cs"));
        var imports = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Path.Combine(root, "README.md")), @"^using Ncf[\w.]*;",
            System.Text.RegularExpressions.RegexOptions.Multiline).Select(m => m.Value).ToList();
        Assert.NotEmpty(imports);
        Assert.All(imports, line => Assert.True(line == "using Ncf;" || source.Contains(line + "\n", StringComparison.Ordinal) || source.Contains(line + "\r\n", StringComparison.Ordinal), line));

        Assert.Equal(2, readme.Count);
        Assert.Equal(readme.Count, here.Count);
        for (int n = 0; n < readme.Count; n++)
        {
            Assert.Equal(readme[n], here[n]);
        }
    }

    [Fact]
    public void TheFirstSample_RecommendsUnseenItemsFromAStringIdLog()
    {
        // 60 users, 40 items; alice has seen i1..i10. Every user's items are drawn with a fixed seed.
        string clicksCsv = Path.Combine(_temp.Path, "clicks.csv");
        var rng = new Ncf.Randomness.Rng(7);
        var lines = new List<string> { "user,item" };
        lines.AddRange(Enumerable.Range(1, 10).Select(i => $"alice,i{i}"));
        for (int u = 1; u < 60; u++)
        {
            foreach (int i in Enumerable.Range(0, 15).Select(_ => 1 + rng.NextInt(40)).Distinct())
            {
                lines.Add($"u{u},i{i}");
            }
        }

        File.WriteAllLines(clicksCsv, lines);
        Output.Clear();

        // README sample begin
        using var backend = new CpuBackend();
        NcfDataset data = NcfDataLoader.Load(clicksCsv, new DataLoadOptions { HoldOut = HoldOut.None });
        var model = new NcfModel(backend, data.UserCount, data.ItemCount, new ModelOptions { Factors = 16 });
        using (var trainer = new NcfTrainer(model, data, new TrainingOptions { Epochs = 20, Seed = 42 }))
            trainer.Fit();                                         // the trainer initialises the new model from its seed
        using var recommender = new NcfRecommender(model, data);   // owns the model from here on
        foreach (var r in recommender.Recommend("alice", k: 10))   // items alice has seen are left out
            Console.WriteLine($"{r.ItemId} {r.Score:F3}");
        // README sample end

        var printed = Output.Lines();
        Assert.Equal(10, printed.Length);
        var items = printed.Select(line => line.Split(' ')[0]).ToList();
        Assert.Equal(10, items.Distinct().Count());
        Assert.All(items, item => Assert.True(int.Parse(item[1..]) > 10, $"alice has seen {item}"));
        var scores = printed.Select(line => double.Parse(line.Split(' ')[1])).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
    }

    [Fact]
    public void TheSecondSample_TrainsEvaluatesSavesLoadsAndRecommends()
    {
        string modelFile = Path.Combine(_temp.Path, "neumf.ncf");
        Output.Clear();

        // README sample begin
        using var backend = new CpuBackend();
        NcfDataset data = SyntheticData.Generate();                       // or a reader for your own files
        using var model = new NcfModel(backend, data.UserCount, data.ItemCount,
            new ModelOptions { Kind = ModelKind.NeuMF, Factors = 8, Layers = 3 });
        model.Initialize(seed: 42);

        using (var trainer = new NcfTrainer(model, data, new TrainingOptions { Epochs = 20, Seed = 42 }))
        {
            // Progress<T> would post each report to the thread pool (out of order in a console app): report in line.
            var progress = new InlineProgress<EpochReport>(e => Console.WriteLine($"{e.Epoch}: HR@10 {e.Test?.HitRate:F4}"));
            TrainingResult result = trainer.Fit(progress, CancellationToken.None);
        }

        RankingMetrics test = Evaluator.SampledRanking(model, data.Test!, k: 10);      // the paper's protocol
        RankingMetrics full = Evaluator.FullRanking(model, data.Test!, data.Known);     // against every item

        var recommender = new NcfRecommender(model, data);
        recommender.Save(modelFile);                                                  // atomic, checksummed
        using var loaded = NcfRecommender.Load(modelFile, backend);
        foreach (var r in loaded.Recommend(userId: "17", k: 10))                      // seen items, held-out ones too, left out
            Console.WriteLine($"{r.ItemId} {r.Score:F3}");
        foreach (var (user, items) in loaded.RecommendAll(k: 10))                       // every user, scored in chunks
            Console.WriteLine($"{user}: {string.Join(' ', items.Select(r => r.ItemId))}");
        foreach (var r in loaded.RecommendForHistory(["3", "17", "42"], k: 10))          // a user the model has never seen
            Console.WriteLine($"{r.ItemId} {r.Score:F3}");
        // README sample end

        var printed = Output.Lines();
        Assert.Equal(Enumerable.Range(1, 20).Select(e => $"{e}:"), printed.Take(20).Select(line => line.Split(' ')[0]));
        var seventeen = printed.Skip(20).Take(10).Select(line => line.Split(' ')[0]).ToList();
        Assert.True(data.UserIds.TryGetIndex("17", out int user17));
        foreach (string item in seventeen)
        {
            Assert.True(data.ItemIds.TryGetIndex(item, out int index), item);
            Assert.False(data.Known.Contains(user17, index), $"17 knows {item}");
        }

        Assert.Equal(data.UserCount, printed.Length - 40);
        Assert.StartsWith("17: " + string.Join(' ', seventeen), printed.Skip(30).Single(line => line.StartsWith("17: ", StringComparison.Ordinal)));

        // The new user's ten: none of the three items given, best first.
        var newcomer = printed[^10..].Select(line => line.Split(' ')).ToArray();
        Assert.Empty(newcomer.Select(f => f[0]).Intersect(["3", "17", "42"]));
        Assert.Equal(newcomer.Select(f => double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture)).OrderDescending(),
            newcomer.Select(f => double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture)));

        // The synthetic data's tastes are learnable: far above the 10-in-100 of a random ranking, and the full
        // ranking (about 860 candidates per user) is harder than the sampled one (100).
        Assert.InRange(test.HitRate, 0.5, 1.0);
        Assert.InRange(full.HitRate, 0.0, test.HitRate);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Ncf.Native.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No Ncf.Native.sln above {AppContext.BaseDirectory}.");
    }

    // Every fenced block tagged as C# (csharp, cs or c#, in any case), so a new sample cannot slip past uncompiled.
    private static IEnumerable<string> CodeBlocks(string markdown) =>
        System.Text.RegularExpressions.Regex.Matches(markdown, @"^```[ \t]*(?:csharp|cs|c#)[ \t]*\n(.*?)^```",
                System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.Singleline
                | System.Text.RegularExpressions.RegexOptions.IgnoreCase)
            .Select(match => match.Groups[1].Value);

    private static IEnumerable<string> MarkedRegions(string source)
    {
        var parts = source.Split("// README sample begin\n");
        return parts.Skip(1).Select(part => part[..part.IndexOf("// README sample end", StringComparison.Ordinal)]);
    }

    // The code lines without indentation; blank lines and `using Namespace;` directives (at the top of this file) dropped.
    private static string Normalise(string code) => string.Join('\n', code.Split('\n')
        .Select(line => line.Trim())
        .Where(line => line.Length > 0 && !(line.StartsWith("using Ncf", StringComparison.Ordinal) && line.EndsWith(';') && !line.Contains('='))));

    /// <summary>Stands in for <see cref="System.Console"/> in the samples, so their lines are captured, not printed.</summary>
    private static class Console
    {
        public static void WriteLine(string line) => Output.Append(line);
    }

    // The test methods of one class run one at a time, so one shared buffer serves them.
    private static class Output
    {
        private static readonly StringBuilder Text = new();

        public static void Clear()
        {
            lock (Text)
            {
                Text.Clear();
            }
        }

        public static void Append(string line)
        {
            lock (Text)
            {
                Text.Append(line).Append('\n');
            }
        }

        public static string[] Lines()
        {
            lock (Text)
            {
                return Text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
        }
    }
}
