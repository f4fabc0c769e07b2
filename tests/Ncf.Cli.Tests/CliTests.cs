using System.Text.Json;
using Ncf.Cli;

namespace Ncf.Cli.Tests;

/// <summary>The `ncf` command contract: JSON lines, exit codes, one-line errors, model files usable by `recommend`.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ncf-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Ncf.Cli.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The JSON objects of a <c>--json</c> run's output, one per line.</summary>
    private static JsonElement[] JsonLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    /// <summary>`ncf evaluate` on a saved model reproduces the test metrics a training line printed (to 6 decimals).</summary>
    private static void AssertEvaluatesTo(string model, double hitRate, double ndcg, params string[] dataOptions)
    {
        var (code, output, error) = Run(["evaluate", "--model", model, "--json", .. dataOptions]);
        Assert.True(code == 0, error);
        var metrics = JsonDocument.Parse(output).RootElement;
        Assert.Equal(hitRate, metrics.GetProperty("hr").GetDouble(), 6);
        Assert.Equal(ndcg, metrics.GetProperty("ndcg").GetDouble(), 6);
    }

    /// <summary>
    /// A refused command: exit code 2, nothing on stdout, and one line on stderr that starts with
    /// <paramref name="start"/> and holds no stack trace.
    /// </summary>
    private static void AssertOneErrorLine((int Code, string Out, string Err) run, string start = "ncf: error: ")
    {
        var (code, output, error) = run;
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(start, error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", error);
    }

    /// <summary>A GMF and an MLP trained for <paramref name="epochs"/> on the embedded data, saved for <c>--gmf/--mlp</c>.</summary>
    private (string Gmf, string Mlp) TrainParents(int epochs)
    {
        string gmf = Path.Combine(_folder, "gmf.ncf"), mlp = Path.Combine(_folder, "mlp.ncf");
        Assert.Equal(0, Run("train", "--epochs", $"{epochs}", "--model", "gmf", "--out", gmf).Code);
        Assert.Equal(0, Run("train", "--epochs", $"{epochs}", "--model", "mlp", "--out", mlp).Code);
        return (gmf, mlp);
    }

    [Fact]
    public void Train_json_prints_one_object_per_epoch_then_a_summary_and_saves_a_usable_model()
    {
        string model = Path.Combine(_folder, "neumf.ncf");
        var (code, output, error) = Run("train", "--epochs", "2", "--json", "--out", model, "--threads", "1");
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        Assert.Equal(3, lines.Length);
        for (int e = 0; e < 2; e++)
        {
            Assert.Equal(e + 1, lines[e].GetProperty("epoch").GetInt32());
            foreach (string key in new[] { "loss", "hr10", "ndcg10", "train_seconds", "samples_per_second" })
            {
                Assert.True(lines[e].GetProperty(key).GetDouble() >= 0, key);
            }
        }

        var summary = lines[2];
        Assert.True(summary.GetProperty("summary").GetBoolean());
        foreach (string key in new[] { "best_hr10", "best_ndcg10", "final_hr10", "final_ndcg10", "popularity_hr10" })
        {
            Assert.InRange(summary.GetProperty(key).GetDouble(), 0, 1);
        }

        Assert.InRange(summary.GetProperty("best_epoch").GetInt32(), 1, 2);
        Assert.Equal(lines[1].GetProperty("hr10").GetDouble(), summary.GetProperty("final_hr10").GetDouble());

        var (rcode, rout, rerr) = Run("recommend", "--model", model, "--user", "17", "--k", "5", "--json");
        Assert.True(rcode == 0, rerr);
        var items = JsonDocument.Parse(rout).RootElement.GetProperty("items");
        Assert.Equal(5, items.GetArrayLength());
        var scores = items.EnumerateArray().Select(i => i.GetProperty("score").GetDouble()).ToArray();
        Assert.Equal(scores.OrderByDescending(s => s), scores);

        var (tcode, tout, _) = Run("recommend", "--model", model, "--user", "17");
        Assert.Equal(0, tcode);
        Assert.Contains("top 10 for user 17", tout);
    }

    [Fact]
    public void Checkpoint_best_saves_the_best_epoch_which_evaluate_then_reproduces()
    {
        string model = Path.Combine(_folder, "best.ncf");
        // These settings peak at epoch 8 of 10 on the embedded data, so the best and the final epoch differ.
        var (code, output, error) = Run("train", "--epochs", "10", "--model", "gmf", "--lr", "0.01", "--json", "--checkpoint", "best", "--out", model);
        Assert.True(code == 0, error);
        var summary = JsonLines(output)[^1];
        Assert.Equal("best", summary.GetProperty("checkpoint").GetString());
        Assert.True(summary.GetProperty("best_epoch").GetInt32() < 10, "the check needs a best epoch before the last");
        Assert.NotEqual(summary.GetProperty("best_hr10").GetDouble(), summary.GetProperty("final_hr10").GetDouble());

        AssertEvaluatesTo(model, summary.GetProperty("best_hr10").GetDouble(), summary.GetProperty("best_ndcg10").GetDouble());
    }

    [Fact]
    public void Average_from_reports_and_saves_the_mean_of_the_epoch_ends()
    {
        string model = Path.Combine(_folder, "averaged.ncf");
        var (code, output, error) = Run("train", "--epochs", "3", "--model", "gmf", "--average-from", "1", "--json", "--out", model, "--threads", "1");
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        Assert.Equal([1, 2, 3], lines.Take(3).Select(l => l.GetProperty("averaged_epochs").GetInt32()));
        Assert.Equal(1, lines[3].GetProperty("average_from").GetInt32());

        // The file holds the model the last line measured: the mean of epochs 1 to 3, not epoch 3's last step.
        AssertEvaluatesTo(model, lines[2].GetProperty("hr10").GetDouble(), lines[2].GetProperty("ndcg10").GetDouble());

        var (plainCode, plainOut, _) = Run("train", "--epochs", "3", "--model", "gmf", "--json", "--threads", "1");
        Assert.Equal(0, plainCode);
        Assert.Equal(lines[0].GetProperty("hr10").GetDouble(), JsonLines(plainOut)[0].GetProperty("hr10").GetDouble());
        Assert.NotEqual(lines[2].GetProperty("ndcg10").GetDouble(), JsonLines(plainOut)[2].GetProperty("ndcg10").GetDouble());

        var (late, _, lateError) = Run("train", "--epochs", "2", "--average-from", "3", "--data", Path.Combine(_folder, "missing.csv"));
        Assert.Equal(2, late);
        Assert.Contains("--average-from 3", lateError);
        Assert.DoesNotContain("missing.csv", lateError);
    }

    [Fact]
    public void Average_from_applies_to_each_pretraining_phase_and_the_best_checkpoint_keeps_a_mean()
    {
        string model = Path.Combine(_folder, "pre-averaged.ncf");
        var (code, output, error) = Run("train", "--pretrain", "--epochs", "2", "--average-from", "1", "--checkpoint", "best", "--json", "--out", model);
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        foreach (string phase in new[] { "gmf", "mlp", "neumf" })
        {
            var epochs = lines.Where(l => l.TryGetProperty("phase", out var p) && p.GetString() == phase).ToArray();
            // NeuMF's epoch 0 is the assembled model before any step: nothing averaged yet.
            var trained = epochs.Where(l => l.GetProperty("epoch").GetInt32() > 0);
            Assert.Equal([1, 2], trained.Select(l => l.GetProperty("averaged_epochs").GetInt32()));
            Assert.All(epochs.Where(l => l.GetProperty("epoch").GetInt32() == 0), l => Assert.False(l.TryGetProperty("averaged_epochs", out _)));
        }

        var summary = lines[^1];
        AssertEvaluatesTo(model, summary.GetProperty("best_hr10").GetDouble(), summary.GetProperty("best_ndcg10").GetDouble());
        Assert.Equal("sgd", summary.GetProperty("optimizer").GetString()); // the summary is NeuMF's, fine-tuned with SGD by default

        var (none, _, noneError) = Run("train", "--epochs", "0", "--average-from", "1");
        Assert.Equal(2, none);
        Assert.Contains("no epochs", noneError);
    }

    [Fact]
    public void Finetune_optimizer_chooses_how_pretrained_NeuMF_is_trained()
    {
        var (gmf, mlp) = TrainParents(epochs: 1);
        double FirstLoss(string optimizer)
        {
            var (code, output, error) = Run("train", "--epochs", "1", "--json", "--gmf", gmf, "--mlp", mlp, "--finetune-optimizer", optimizer);
            Assert.True(code == 0, error);
            var lines = JsonLines(output);
            // The assembled model is evaluated before fine-tuning (epoch 0, no loss), as the authors' NeuMF.py does.
            Assert.Equal(0, lines[0].GetProperty("epoch").GetInt32());
            Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("loss").ValueKind);
            Assert.True(lines[0].GetProperty("hr10").GetDouble() > 0);
            Assert.Equal(1, lines[^1].GetProperty("epochs").GetInt32());
            var epoch = lines[1];
            Assert.Equal("neumf", epoch.GetProperty("phase").GetString());
            Assert.Equal(1, epoch.GetProperty("epoch").GetInt32());
            return epoch.GetProperty("loss").GetDouble();
        }

        // Same parents, seed and examples: only the update rule differs, and Adam's normalised steps move the loss
        // far more than SGD's at lr 0.001. The default is SGD, as in the paper.
        double sgd = FirstLoss("sgd"), adam = FirstLoss("adam");
        Assert.True(adam < sgd, $"adam {adam} vs sgd {sgd}");
        var (_, byDefault, _) = Run("train", "--epochs", "1", "--json", "--gmf", gmf, "--mlp", mlp);
        Assert.Equal(sgd, JsonLines(byDefault)[1].GetProperty("loss").GetDouble());
    }

    [Fact]
    public void Alpha_one_assembles_a_NeuMF_that_ranks_as_its_GMF_parent()
    {
        var (gmf, mlp) = TrainParents(epochs: 2);
        var (gcode, gout, gerr) = Run("evaluate", "--model", gmf, "--json");
        Assert.True(gcode == 0, gerr);
        var parent = JsonDocument.Parse(gout).RootElement;

        // α = 1 keeps the GMF half of the output layer and zeroes the MLP half: the same logits, so the same ranks.
        double Assembled(string alpha)
        {
            var (code, output, error) = Run("train", "--epochs", "0", "--json", "--gmf", gmf, "--mlp", mlp, "--alpha", alpha);
            Assert.True(code == 0, error);
            Assert.Equal("none", JsonLines(output)[^1].GetProperty("optimizer").GetString()); // assembled, not trained
            return JsonLines(output)[0].GetProperty("hr10").GetDouble();
        }

        Assert.Equal(parent.GetProperty("hr").GetDouble(), Assembled("1"), 6);
        Assert.NotEqual(Assembled("1"), Assembled("0.5"));

        var (bad, _, message) = Run("train", "--epochs", "0", "--gmf", gmf, "--mlp", mlp, "--alpha", "1.5");
        Assert.Equal(2, bad);
        Assert.Contains("--alpha", message);
    }

    [Theory]
    [InlineData("--alpha", "0.7")]
    [InlineData("--finetune-lr", "0.01")]
    [InlineData("--finetune-optimizer", "adam")]
    public void Pretraining_options_without_pretraining_are_refused(string option, string value)
    {
        string model = Path.Combine(_folder, "never.ncf");
        var (code, output, error) = Run("train", "--epochs", "1", "--model", "neumf", option, value, "--out", model);
        Assert.Equal(2, code);
        Assert.Contains(option, error);
        Assert.Contains("--pretrain", error);
        Assert.DoesNotContain("epoch", output);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void The_default_optimizer_takes_deferred_adam_on_large_tables_says_so_and_an_explicit_choice_is_kept()
    {
        // GMF-2048 over 2,000 users and 120 items: 2,120 rows × 2,048 = 4,341,760 embedding parameters, just over the
        // 4 million from which --optimizer auto takes deferred Adam; dense Adam's sweep would be 24 bytes each, 104 MB a
        // step (1 negative and batches of 1,024 keep the run to 40 steps).
        string[] common = ["train", "--data", "synthetic:2000x120x10", "--model", "gmf", "--epochs", "1", "--neg", "1", "--batch", "1024"];
        string[] large = [.. common, "--factors", "2048"];
        byte[] Model(string name, params string[] options)
        {
            string path = Path.Combine(_folder, name);
            var (code, output, error) = Run([.. large, .. options, "--out", path]);
            Assert.True(code == 0, error);
            if (options.Length == 0)
            {
                Assert.Contains("note: the model's embedding tables hold 4,341,760 parameters, so --optimizer auto trains it with deferred Adam", output);
                Assert.Contains("about 104 MB a batch", output);
            }
            else
            {
                Assert.DoesNotContain("--optimizer auto", output + error);
            }

            return File.ReadAllBytes(path);
        }

        // The default trains exactly as deferred Adam (same file, byte for byte); an explicit adam is taken as given.
        Assert.Equal(Model("deferred.ncf", "--optimizer", "deferred-adam"), Model("auto.ncf"));
        Model("adam.ncf", "--optimizer", "adam");

        // bench names the optimizer it resolved: deferred Adam on these tables, dense Adam on half as many.
        string[] bench = ["bench", "--data", "synthetic:2000x120x10", "--model", "gmf", "--epochs", "1", "--neg", "1", "--batch", "1024", "--score-users", "1"];
        var (benchCode, benchOutput, benchError) = Run([.. bench, "--factors", "2048"]);
        Assert.True(benchCode == 0, benchError);
        Assert.Contains("batch 1024, optimizer deferred-adam, backend cpu", benchOutput);
        (benchCode, benchOutput, benchError) = Run([.. bench, "--factors", "1024"]);
        Assert.True(benchCode == 0, benchError);
        Assert.Contains("batch 1024, optimizer adam, backend cpu", benchOutput);

        // In JSON mode the note goes to stderr; stdout stays JSON lines.
        var (jsonCode, jsonOutput, jsonError) = Run([.. large, "--json"]);
        Assert.True(jsonCode == 0, jsonError);
        Assert.Contains("4,341,760 parameters", jsonError);
        Assert.Equal("deferred-adam", JsonLines(jsonOutput).Last().GetProperty("optimizer").GetString()); // the summary names it

        // The rest through the note's own function. --pretrain trains the GMF and then the MLP with --optimizer, each on
        // its own tables, and fine-tunes NeuMF with --finetune-optimizer: NeuMF-128 over 8,120 rows has 1,039,360 (GMF)
        // and 4,157,440 (MLP) parameters in its phases' tables, 5,196,800 in its own. Not with --l2 (deferred Adam's L2
        // touches only the batch's rows), nor for parents read from files, nor on a GPU backend, nor on smaller tables,
        // nor when an optimizer was chosen.
        var neumf128 = new Ncf.Models.ModelOptions { Kind = Ncf.Models.ModelKind.NeuMF, Factors = 128, Layers = 3 };
        using var cpu = new Ncf.Backends.Cpu.CpuBackend(threads: 1);
        using var simulator = Ncf.Gpu.IlgpuBackend.Create(Ncf.Gpu.GpuDeviceKind.IlgpuCpu);
        string? Note(Ncf.Models.ModelOptions shape, bool pretrain, bool parents = false, Ncf.Backends.IBackend? backend = null, float l2 = 0,
            Ncf.Training.OptimizerKind optimizer = Ncf.Training.OptimizerKind.Auto) =>
            TrainCommand.AutoOptimizerNote(new Ncf.Training.TrainingOptions { L2 = l2, Optimizer = optimizer }, shape, 8_000, 120, backend ?? cpu,
                pretrain, parents);
        Assert.StartsWith("note: the model's embedding tables hold 5,196,800 parameters, so --optimizer auto trains it with", Note(neumf128, pretrain: false));
        Assert.StartsWith("note: the MLP phase's embedding tables hold 4,157,440 parameters, so --optimizer auto trains it with", Note(neumf128, pretrain: true));
        Assert.StartsWith("note: the GMF phase's embedding tables hold 4,157,440 parameters and the MLP phase's embedding tables hold 8,314,880 parameters, so --optimizer auto trains them",
            Note(neumf128 with { Factors = 512, Layers = 2 }, pretrain: true));
        Assert.Null(Note(neumf128 with { Layers = 2 }, pretrain: true));  // 1,039,360 and 2,078,720
        Assert.Null(Note(neumf128 with { Layers = 2 }, pretrain: false)); // 3,118,080
        Assert.Null(Note(neumf128, pretrain: false, l2: 1e-6f));
        Assert.Null(Note(neumf128, pretrain: false, parents: true));
        Assert.Null(Note(neumf128, pretrain: false, backend: simulator));
        Assert.Null(Note(neumf128, pretrain: false, optimizer: Ncf.Training.OptimizerKind.Adam));
    }

    [Fact]
    public void Deferred_adam_trains_like_exact_adam_and_lazy_adam_does_not()
    {
        double[] Losses(string optimizer)
        {
            var (code, output, error) = Run("train", "--data", "synthetic:300x200x25", "--epochs", "2", "--json", "--optimizer", optimizer);
            Assert.True(code == 0, error);
            return JsonLines(output).Where(l => l.TryGetProperty("loss", out var loss) && loss.ValueKind == JsonValueKind.Number)
                .Select(l => l.GetProperty("loss").GetDouble()).ToArray();
        }

        // Same seed and examples. Deferred Adam is exact Adam up to rounding (~1e-7 relative in the parameters, see
        // DeferredAdamTests), so the epoch losses agree to 1e-5; lazy Adam drops the untouched rows' momentum steps and
        // its second epoch's loss moves by more than that.
        double[] exact = Losses("adam"), deferred = Losses("deferred-adam"), lazy = Losses("lazy-adam");
        Assert.Equal(2, deferred.Length);
        for (int e = 0; e < 2; e++)
        {
            Assert.True(Math.Abs(exact[e] - deferred[e]) <= 1e-5 * exact[e], $"epoch {e + 1}: exact {exact[e]} vs deferred {deferred[e]}");
        }

        Assert.True(Math.Abs(exact[1] - lazy[1]) > 1e-4 * exact[1], $"exact {exact[1]} vs lazy {lazy[1]}");
    }

    [Fact]
    public void A_pretrained_NeuMF_worse_after_fine_tuning_keeps_its_starting_point_with_checkpoint_best()
    {
        var (gmf, mlp) = TrainParents(epochs: 3);
        string neumf = Path.Combine(_folder, "neumf.ncf");
        // SGD at lr 50 wrecks the assembled model in one epoch, so its epoch 0 is the best.
        var (code, output, error) = Run("train", "--epochs", "1", "--json", "--gmf", gmf, "--mlp", mlp, "--finetune-lr", "50",
            "--checkpoint", "best", "--out", neumf);
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        double before = lines[0].GetProperty("hr10").GetDouble(), after = lines[1].GetProperty("hr10").GetDouble();
        Assert.True(before > after + 0.05, $"before {before}, after {after}: the check needs fine-tuning to hurt");
        Assert.Equal(0, lines[^1].GetProperty("best_epoch").GetInt32());

        var (ecode, eout, eerr) = Run("evaluate", "--model", neumf, "--json");
        Assert.True(ecode == 0, eerr);
        Assert.Equal(before, JsonDocument.Parse(eout).RootElement.GetProperty("hr").GetDouble(), 6);
    }

    /// <summary>Standard output on a full disk: every write fails as /dev/full's does.</summary>
    private sealed class FullDiskWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value) => throw new IOException("No space left on device");

        public override void Write(string? value) => throw new IOException("No space left on device");
    }

    [Theory]
    [InlineData("train", "--epochs", "1", "--model", "gmf")]
    [InlineData("train", "--epochs", "1", "--model", "gmf", "--json")]
    [InlineData("bench", "--epochs", "1", "--model", "gmf", "--score-users", "10")]
    public void An_output_that_cannot_be_written_is_exit_74_with_one_line_not_an_internal_error(params string[] args)
    {
        var stderr = new StringWriter();
        int code = Ncf.Cli.Cli.Run(args, new FullDiskWriter(), stderr);

        Assert.Equal(74, code);
        Assert.Equal("ncf: error: input/output failed: No space left on device" + Environment.NewLine, stderr.ToString());
    }

    [Fact]
    public void Text_output_has_a_line_per_epoch_with_speed_and_the_popularity_baseline()
    {
        var (code, output, error) = Run("train", "--epochs", "1", "--model", "gmf");
        Assert.True(code == 0, error);
        Assert.Contains("epoch   1/1", output);
        Assert.Contains("samples/s", output);
        Assert.Contains("popularity baseline: HR@10", output);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("train", "--help")]
    [InlineData("bench", "-h")]
    public void Help_anywhere_prints_the_usage_and_runs_nothing(params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("ncf train [--data PATH]", output);
        Assert.Contains("--step fused|layered", output);
    }

    [Fact]
    public void The_readme_synopsis_gives_each_command_the_options_of_the_usage_text_and_no_other()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Ncf.Native.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("No Ncf.Native.sln above the test binaries.");
        }

        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        int start = readme.IndexOf("## The command line", StringComparison.Ordinal);
        start = readme.IndexOf("```sh\n", start, StringComparison.Ordinal);
        Assert.True(start >= 0, "README: no ```sh block under '## The command line'");
        string synopsis = readme[start..readme.IndexOf("```\n", start + 6, StringComparison.Ordinal)];

        var inReadme = OptionsByCommand(synopsis);
        var inUsage = OptionsByCommand(Ncf.Cli.Cli.Usage);
        Assert.Equal(["ncf bench", "ncf data", "ncf devices", "ncf evaluate", "ncf recommend", "ncf train"], inUsage.Keys);
        Assert.Equal(inUsage.Keys, inReadme.Keys);
        foreach (var (command, options) in inUsage)
        {
            Assert.True(options.SetEquals(inReadme[command]),
                $"{command}: only in the usage text: {string.Join(' ', options.Except(inReadme[command]))}; "
                + $"only in README: {string.Join(' ', inReadme[command].Except(options))}");
        }

        Assert.Contains("--finetune-lr", inReadme["ncf train"]); // the pattern finds options at all
        Assert.Contains("--l2", inReadme["ncf bench"]);
    }

    // Each "ncf COMMAND" line starts a command's text, which runs to the next such line; a command may have several.
    private static SortedDictionary<string, HashSet<string>> OptionsByCommand(string text)
    {
        var options = new SortedDictionary<string, HashSet<string>>(StringComparer.Ordinal);
        HashSet<string>? current = null;
        foreach (string line in text.ReplaceLineEndings("\n").Split('\n'))
        {
            if (System.Text.RegularExpressions.Regex.Match(line, "^ncf ([a-z]+)") is { Success: true } start)
            {
                string command = "ncf " + start.Groups[1].Value;
                current = options.TryGetValue(command, out var known) ? known : options[command] = [];
            }

            foreach (System.Text.RegularExpressions.Match option in System.Text.RegularExpressions.Regex.Matches(line, "--[a-z][a-z0-9-]*"))
            {
                current?.Add(option.Value);
            }
        }

        return options;
    }

    [Fact]
    public void Help_is_an_option_not_an_option_value_and_an_unknown_command_stays_unknown()
    {
        string model = Path.Combine(_folder, "m.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--out", model).Code);

        // "-h" after --user is a user ID to look up, not a request for help.
        AssertOneErrorLine(Run("recommend", "--model", model, "--user", "-h"), "ncf: error: Unknown user '-h'");
        AssertOneErrorLine(Run("bogus", "--help"), "ncf: error: Unknown command 'bogus'");
        Assert.Contains("ncf train [--data PATH]", Run("recommend", "--model", model, "--help").Out);
    }

    [Theory]
    [InlineData("--json=false")]
    [InlineData("--pretrain=no")]
    public void A_switch_given_a_value_is_refused_not_turned_on(string option) =>
        AssertOneErrorLine(Run("train", "--epochs", "1", option), $"ncf: error: --{option[2..option.IndexOf('=')]} is a switch and takes no value");

    [Fact]
    public void An_unusable_or_input_output_path_is_refused_before_any_training()
    {
        string data = Path.Combine(_folder, "log.csv");
        File.WriteAllLines(data, ["user,item,timestamp", .. Enumerable.Range(0, 40).Select(n => $"u{n % 8},i{n},{n}")]);
        string before = File.ReadAllText(data);
        string aFile = Path.Combine(_folder, "a.txt");
        File.WriteAllText(aFile, "x");
        string link = Path.Combine(_folder, "link.csv");
        File.CreateSymbolicLink(link, data);

        // Each refused at once: stdout empty (no epoch line), one error line.
        AssertOneErrorLine(Run("train", "--data", data, "--test-neg", "5", "--out", data), $"ncf: error: --out {data}: is {data}, which this run reads");
        AssertOneErrorLine(Run("train", "--data", data, "--test-neg", "5", "--out", link), $"ncf: error: --out {link}: is {data}, which this run reads");
        string folder = Path.Combine(_folder, "ml-toy");
        Directory.CreateDirectory(folder);
        File.Copy(data, Path.Combine(folder, "ratings.csv"));
        string inFolder = Path.Combine(folder, "ratings.csv");
        AssertOneErrorLine(Run("train", "--data", folder, "--out", inFolder), $"ncf: error: --out {inFolder}: is {inFolder}, which this run reads");
        AssertOneErrorLine(Run("train", "--out", _folder), $"ncf: error: --out {_folder}: is a folder");
        AssertOneErrorLine(Run("train", "--out", Path.Combine(aFile, "m.ncf")), $"ncf: error: --out {Path.Combine(aFile, "m.ncf")}: {aFile} is a file");
        AssertOneErrorLine(Run("train", "--out", ""), "ncf: error: --out '': not a usable file path");
        AssertOneErrorLine(Run("train", "--pretrain", "--finetune-lr", "-1"), "ncf: error: --finetune-lr: expected a positive number");
        Assert.Equal(before, File.ReadAllText(data));

        string model = Path.Combine(_folder, "m.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--out", model).Code);
        byte[] saved = File.ReadAllBytes(model);
        AssertOneErrorLine(Run("recommend", "--model", model, "--all-users", "--out", model), $"ncf: error: --out {model}: is {model}, which this run reads");
        Assert.Equal(saved, File.ReadAllBytes(model));
    }

    [Fact]
    public void A_model_from_another_split_of_the_same_interactions_is_refused_for_evaluation_and_pre_training()
    {
        // The same rows with the timestamps reversed: each user's test item is another, one the model trained on.
        var rows = Enumerable.Range(0, 30 * 8).Select(n => (User: n % 30, Item: (n * 7 + n / 30) % 150, Time: n)).ToArray();
        string forward = Path.Combine(_folder, "forward.csv"), reversed = Path.Combine(_folder, "reversed.csv");
        File.WriteAllLines(forward, ["user,item,timestamp", .. rows.Select(r => $"u{r.User},i{r.Item},{r.Time}")]);
        File.WriteAllLines(reversed, ["user,item,timestamp", .. rows.Select(r => $"u{r.User},i{r.Item},{1000 - r.Time}")]);
        string gmf = Path.Combine(_folder, "gmf.ncf"), mlp = Path.Combine(_folder, "mlp.ncf");
        Assert.Equal(0, Run("train", "--data", reversed, "--test-neg", "20", "--model", "gmf", "--epochs", "1", "--out", gmf).Code);
        Assert.Equal(0, Run("train", "--data", reversed, "--test-neg", "20", "--model", "mlp", "--epochs", "1", "--out", mlp).Code);

        Assert.Equal(0, Run("evaluate", "--model", gmf, "--data", reversed, "--test-neg", "20").Code);
        AssertOneErrorLine(Run("evaluate", "--model", gmf, "--data", forward, "--test-neg", "20"),
            $"ncf: error: {gmf}: the model was trained on another split of these interactions");
        var (code, _, error) = Run("train", "--data", forward, "--test-neg", "20", "--gmf", gmf, "--mlp", mlp, "--epochs", "1");
        Assert.Equal(2, code);
        Assert.StartsWith($"ncf: error: {gmf}: the model was trained on another split of these interactions", error);
    }

    [Fact]
    public void Options_that_would_be_ignored_are_refused_and_a_full_width_seed_stays_unsigned()
    {
        AssertOneErrorLine(Run("bench", "--ceilings", "--data", "x.csv"), "ncf: error: --ceilings measures the machine alone; --data shapes a training run");
        AssertOneErrorLine(Run("bench", "--epochs", "0"), "ncf: error: bench measures training speed: --epochs 1 or more");
        string model = Path.Combine(_folder, "m.ncf");
        var (code, output, _) = Run("train", "--epochs", "1", "--json", "--seed", "18446744073709551615", "--model", "gmf", "--out", model);
        Assert.Equal(0, code);
        var summary = JsonLines(output)[^1];
        Assert.Equal(18446744073709551615UL, summary.GetProperty("seed").GetUInt64());
        Assert.Equal(0, summary.GetProperty("layers").GetInt32()); // GMF has no tower
        AssertOneErrorLine(Run("evaluate", "--model", model, "--seed", "7"), "ncf: error: --seed draws the test negatives of a data file's split");
    }

    [Fact]
    public void Evaluate_scores_ties_by_the_training_runs_rule_unless_told_otherwise()
    {
        // A model collapsed by a huge L2 scores every item alike: HR@10 is 1 under optimistic ties, 0 under pessimistic.
        string model = Path.Combine(_folder, "flat.ncf");
        var (code, output, error) = Run("train", "--optimizer", "sgd", "--l2", "100", "--epochs", "1", "--ties", "optimistic", "--json", "--out", model);
        Assert.True(code == 0, error);
        double trained = JsonLines(output)[^1].GetProperty("final_hr10").GetDouble();

        AssertEvaluatesTo(model, trained, JsonLines(output)[^1].GetProperty("final_ndcg10").GetDouble());
        var pessimistic = JsonDocument.Parse(Run("evaluate", "--model", model, "--json", "--ties", "pessimistic").Out).RootElement;
        Assert.True(pessimistic.GetProperty("hr").GetDouble() < trained, "the rule given on the command line wins");
    }

    [Theory]
    [InlineData("evaluate")]
    [InlineData("evaluate", "--full-ranking")]
    [InlineData("recommend", "--user", "3")]
    [InlineData("recommend", "--all-users", "--json")]
    public void A_model_whose_finite_weights_overflow_its_scores_is_refused_not_scored(params string[] command)
    {
        string model = Path.Combine(_folder, "gmf.ncf"), huge = Path.Combine(_folder, "huge.ncf");
        Assert.Equal(0, Run("train", "--model", "gmf", "--factors", "4", "--epochs", "1", "--out", model).Code);
        using (var backend = new Ncf.Backends.Cpu.CpuBackend())
        using (var recommender = NcfRecommender.Load(model, backend))
        {
            // Every weight ±3e38 is finite, so the file loads; their products overflow to infinity and sum to NaN.
            var weights = new float[recommender.Model.Parameters.Layout.Length];
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = i % 2 == 0 ? 3e38f : -3e38f;
            }

            recommender.Model.Parameters.Load(weights);
            recommender.Save(huge);
        }

        var run = Run([command[0], "--model", huge, .. command[1..]]);
        AssertOneErrorLine(run);
        Assert.Contains("its parameters are too large for float arithmetic", run.Err);
    }

    [Fact]
    public void A_diverged_training_is_an_error_and_saves_nothing()
    {
        string model = Path.Combine(_folder, "nan.ncf");
        var (code, output, error) = Run("train", "--epochs", "1", "--lr", "1e30", "--out", model);

        Assert.Equal(2, code);
        Assert.Contains("loss NaN", output);
        Assert.StartsWith("ncf: error: training diverged in epoch 1 (loss NaN); nothing was saved. Train again with a lower learning rate (--lr)", error);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void A_diverged_parent_stops_pre_training_at_once_and_bench_reports_no_figures()
    {
        var (code, output, error) = Run("train", "--pretrain", "--epochs", "1", "--lr", "1e30", "--json");
        Assert.Equal(2, code);
        Assert.StartsWith("ncf: error: the gmf phase diverged in epoch 1 (loss NaN)", error);
        Assert.DoesNotContain("\"mlp\"", output); // the MLP parent was not trained for nothing

        AssertOneErrorLine(Run("bench", "--epochs", "1", "--lr", "1e30"), "ncf: error: training diverged in epoch 1");
    }

    [Fact]
    public void Scatter_sets_the_gpu_backends_method_and_needs_a_gpu_device()
    {
        // That the sorted method gives the scalar reference's bits is the GPU tests' job (ScatterAdd per method);
        // here: the option reaches the backend. (A two-run comparison on ILGPU's simulator takes minutes.)
        foreach (var (name, method) in new[] { ("sorted", Ncf.Gpu.ScatterAddMethod.Sorted), ("atomic", Ncf.Gpu.ScatterAddMethod.Atomic) })
        {
            var create = Common.Backend(new Arguments(["--device", "ilgpu-cpu", "--scatter", name], Common.Flags));
            using var backend = Assert.IsType<Ncf.Gpu.IlgpuBackend>(create());
            Assert.Equal(method, backend.ScatterAddMethod); // as set, not as Auto would resolve it
        }

        AssertOneErrorLine(Run("train", "--scatter", "sorted"), "ncf: error: --scatter chooses how a GPU device sums embedding gradients");
        AssertOneErrorLine(Run("train", "--device", "ilgpu-cpu", "--scatter", "fast"), "ncf: error: --scatter");
    }

    [Theory]
    [InlineData("ncf: error: --optimizer lazy-adam needs each batch's IDs on the host, which --device cuda does not keep", "train", "--device", "cuda", "--optimizer", "lazy-adam")]
    [InlineData("ncf: error: --optimizer deferred-adam needs each batch's IDs on the host, which --device opencl does not keep", "bench", "--device", "opencl:1", "--optimizer", "deferred-adam")]
    [InlineData("ncf: error: --finetune-optimizer lazy-adam needs each batch's IDs on the host", "train", "--device", "ilgpu-cpu", "--pretrain", "--finetune-optimizer", "lazy-adam")]
    [InlineData("ncf: error: --threads shapes the CPU backend; --device opencl runs on the GPU backend", "train", "--device", "opencl", "--threads", "2")]
    [InlineData("ncf: error: --step shapes the CPU backend; --device cuda runs on the GPU backend", "bench", "--device", "cuda:0", "--step", "layered")]
    [InlineData("ncf: error: --device opencl:x: expected a device number after the colon", "train", "--device", "opencl:x")]
    [InlineData("ncf: error: --device cpu takes no device number", "train", "--device", "cpu:1")]
    public void What_a_gpu_device_cannot_honour_is_refused_before_any_data_is_read(string expected, params string[] command)
    {
        // The data file does not exist: each refusal must come before it is read (and before any device is opened).
        AssertOneErrorLine(Run([.. command, "--data", Path.Combine(_folder, "absent.csv")]), expected);
    }

    [Fact]
    public void Parents_read_from_files_are_not_trained_so_their_optimizer_is_not_checked_against_the_device()
    {
        // --optimizer trains the parents; with --gmf/--mlp files there is none to train, and the run goes on to read
        // the files (which do not exist here) instead of refusing lazy Adam on the GPU device.
        string absent = Path.Combine(_folder, "absent.ncf");
        var run = Run("train", "--device", "cuda", "--optimizer", "lazy-adam", "--gmf", absent, "--mlp", absent, "--model", "neumf");
        AssertOneErrorLine(run);
        Assert.DoesNotContain("--optimizer lazy-adam", run.Err);
    }

    [Fact]
    public void Candidates_are_quoted_as_in_csv_and_each_counts_once()
    {
        string data = Path.Combine(_folder, "films.csv");
        var lines = new List<string> { "user,item,timestamp" };
        for (int u = 0; u < 6; u++)
        {
            lines.AddRange(Enumerable.Range(0, 5).Select(i => $"u{u},film{(u + i) % 9},{i}"));
        }

        lines.Add("u0,\"Crouching Tiger, Hidden Dragon\",9");
        lines.Add("u1,\" spaced \",9");
        File.WriteAllLines(data, lines);
        string model = Path.Combine(_folder, "films.ncf");
        Assert.Equal(0, Run("train", "--data", data, "--holdout", "none", "--epochs", "1", "--out", model).Code);

        var (code, output, error) = Run("recommend", "--model", model, "--user", "u5", "--json", "--k", "10",
            "--candidates", "\"Crouching Tiger, Hidden Dragon\",\" spaced \", film2 ,film2,,\"film2\"");
        Assert.True(code == 0, error);
        var items = JsonDocument.Parse(output).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("item").GetString()).Order();
        Assert.Equal([" spaced ", "Crouching Tiger, Hidden Dragon", "film2"], items); // film2 once; u5 has not seen it
        AssertOneErrorLine(Run("recommend", "--model", model, "--user", "u5", "--candidates", "\"film2"), "ncf: error: --candidates: entry 1 opens a quote");
    }

    [Theory]
    [InlineData("train", "--step", "sideways")]
    [InlineData("train", "--finetune-optimizer", "rmsprop")]
    [InlineData("train", "--epochs", "abc")]
    [InlineData("train", "--model", "transformer")]
    [InlineData("train", "--bogus", "1")]
    [InlineData("train", "--lr", "-1")]
    [InlineData("train", "--average-from", "-1")]
    [InlineData("bench", "--average-from", "1")]
    [InlineData("recommend", "--model", "/nonexistent/file.ncf", "--user", "1")]
    [InlineData("frobnicate")]
    public void Bad_input_gives_one_line_and_exit_code_2_without_a_stack_trace(params string[] args) =>
        AssertOneErrorLine(Run(args));

    [Theory]
    [InlineData("train")]
    [InlineData("evaluate", "--model", "m.ncf")]
    [InlineData("bench")]
    public void A_mistyped_option_is_named_before_any_data_is_read(params string[] command)
    {
        // The data file does not exist: were it read first, its error would hide the typo (--test-negatives for --test-neg).
        var (code, _, error) = Run([.. command, "--data", Path.Combine(_folder, "missing.csv"), "--test-negatives", "1"]);
        Assert.Equal(2, code);
        Assert.Contains("Unknown option for '" + command[0] + "': --test-negatives", error);
    }

    [Theory]
    [InlineData("--test-neg", "5")]
    [InlineData("--min-interactions", "3")]
    [InlineData("--format", "csv")]
    [InlineData("--holdout", "none")]
    [InlineData("--validation")]
    [InlineData("--data", "synthetic:300x200x20", "--test-neg", "5")]
    public void Data_file_options_without_a_data_file_are_refused(params string[] options)
    {
        var (code, output, error) = Run(["train", "--epochs", "1", .. options]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("only with a data file", error);
        Assert.Contains(options.First(o => o.StartsWith("--") && o != "--data"), error); // names the option given
    }

    [Theory]
    [InlineData("train", "--format", "parquet")]
    [InlineData("train", "--data", "synthetic:12x")]
    [InlineData("bench", "--score-users", "abc")]
    [InlineData("bench", "--holdout", "none")]
    [InlineData("evaluate", "--model", "m.ncf", "--holdout", "none")]
    public void Bad_data_options_are_refused_before_any_data_is_read(params string[] command)
    {
        // The data file does not exist, so an error about it would mean the option was checked too late.
        string[] args = command.Contains("--data") ? command : [.. command, "--data", Path.Combine(_folder, "missing.csv")];
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.DoesNotContain("missing.csv", error);
    }

    [Fact]
    public void Holdout_none_trains_on_every_interaction_and_recommend_leaves_them_all_out()
    {
        // Three users with string IDs; each user's latest item would be the test item under the default split.
        string log = Path.Combine(_folder, "log.csv");
        var lines = new List<string> { "user,item,timestamp" };
        for (int u = 0; u < 3; u++)
        {
            lines.AddRange(Enumerable.Range(0, 6).Select(i => $"u{u},film-{(u * 5 + i * 7) % 40},{i}"));
        }

        File.WriteAllLines(log, lines);
        string model = Path.Combine(_folder, "all.ncf");
        var (code, output, error) = Run("train", "--data", log, "--holdout", "none", "--model", "gmf", "--epochs", "2", "--json", "--out", model);
        Assert.True(code == 0, error);
        var summary = JsonLines(output)[^1];
        Assert.Equal(18, summary.GetProperty("train_positives").GetInt32()); // nothing held out (6 per user)
        Assert.Equal(2, summary.GetProperty("epochs").GetInt32());

        (code, output, error) = Run("recommend", "--model", model, "--user", "u0", "--k", "40", "--json");
        Assert.True(code == 0, error);
        // The log has 16 distinct films (u1 and u2 share two with the others); u0 gets the 10 it has not seen.
        var seen = Enumerable.Range(0, 6).Select(i => $"film-{i * 7 % 40}").ToHashSet();
        var items = JsonLines(output)[0].GetProperty("items").EnumerateArray().Select(r => r.GetProperty("item").GetString()!).ToArray();
        Assert.Equal(10, items.Length);
        Assert.DoesNotContain(items, seen.Contains);

        (code, output, _) = Run("train", "--data", log, "--holdout", "none", "--epochs", "1");
        Assert.Equal(0, code);
        Assert.Contains("nothing held out", output);
        Assert.DoesNotContain("HR@10", output);

        // It has trained on the test items: evaluate refuses it, and so does pre-training from it on a split.
        (code, _, error) = Run("evaluate", "--model", model, "--data", log, "--test-neg", "5");
        Assert.Equal(2, code);
        Assert.Contains("trained on every interaction (--holdout none)", error);
        string mlp = Path.Combine(_folder, "all-mlp.ncf");
        Assert.Equal(0, Run("train", "--data", log, "--holdout", "none", "--model", "mlp", "--epochs", "1", "--out", mlp).Code);
        (code, _, error) = Run("train", "--data", log, "--model", "neumf", "--gmf", model, "--mlp", mlp, "--epochs", "0", "--test-neg", "5");
        Assert.Equal(2, code);
        Assert.Contains("trained on every interaction (--holdout none)", error);
    }

    [Fact]
    public void A_log_without_timestamps_is_split_by_file_order_and_the_user_is_told()
    {
        string log = Path.Combine(_folder, "untimed.csv");
        File.WriteAllLines(log, ["u1,i1", "u1,i2", "u1,i3", "u2,i1", "u2,i3", "u2,i4", "u3,i2", "u3,i4", "u3,i5"]);
        const string Note = "note: " + "{0} has no timestamps: each user's last line is the test case, which is the paper's protocol only if the file is in time order.";

        var (code, output, error) = Run("train", "--data", log, "--epochs", "1", "--test-neg", "1", "--factors", "4");
        Assert.True(code == 0, error);
        Assert.Contains(string.Format(Note, log), output);

        // With --json, stdout stays JSON lines only and the note goes to stderr.
        (code, output, error) = Run("train", "--data", log, "--epochs", "1", "--test-neg", "1", "--factors", "4", "--json");
        Assert.Equal(0, code);
        Assert.Equal(2, JsonLines(output).Length);
        Assert.Contains(string.Format(Note, log), error);

        File.WriteAllLines(log, ["u1,i1,5,1", "u1,i2,5,2", "u1,i3,5,3", "u2,i1,5,1", "u2,i3,5,2", "u2,i4,5,3", "u3,i2,5,1", "u3,i4,5,2", "u3,i5,5,3"]);
        (code, output, error) = Run("train", "--data", log, "--epochs", "1", "--test-neg", "1", "--factors", "4");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("has no timestamps", output);
        // 1 test negative: 2 candidates, so HR@10 is 1 whatever the model; the run says so.
        Assert.Contains("note: a case ranks its item among as few as 2 sampled candidates, so the sampled HR@10 is 1 by construction there"
            + " and epochs cannot be told apart: give each case 10 negatives or more (--test-neg; an NCF .test.negative file fixes its own).", output);
    }

    [Theory]
    [InlineData("--checkpoint", "best")]
    [InlineData("--ties", "optimistic")]
    [InlineData("--full-ranking")]
    [InlineData("--validation")]
    [InlineData("--test-neg", "5")]
    public void Holdout_none_refuses_options_that_need_held_out_cases(params string[] option)
    {
        string log = Path.Combine(_folder, "log.csv");
        File.WriteAllLines(log, ["a,x", "a,y", "b,x", "b,z"]);
        var (code, output, error) = Run(["train", "--data", log, "--holdout", "none", .. option]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("--holdout none", error);
    }

    [Fact]
    public void Recommend_all_users_writes_every_users_top_k_as_recommend_user_gives_it()
    {
        string model = Path.Combine(_folder, "m.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--model", "gmf", "--out", model).Code);
        string table = Path.Combine(_folder, "recs.tsv");
        var (code, output, error) = Run("recommend", "--model", model, "--all-users", "--k", "5", "--out", table);
        Assert.True(code == 0, error);
        Assert.Equal("", output);
        Assert.Contains("recommendations for", error);

        var lines = File.ReadAllLines(table);
        Assert.Equal("user\trank\titem\tscore", lines[0]);
        var byUser = lines.Skip(1).Select(l => l.Split('\t')).GroupBy(f => f[0]).ToArray();
        Assert.True(byUser.Length > 100, $"{byUser.Length} users"); // the embedded data set's users, all of them
        foreach (var group in byUser.Where((_, n) => n % 37 == 0)) // a sample, each checked against `recommend --user`
        {
            var (single, singleOut, _) = Run("recommend", "--model", model, "--user", group.Key, "--k", "5", "--json");
            Assert.Equal(0, single);
            var expected = JsonLines(singleOut)[0].GetProperty("items").EnumerateArray().Select(r => r.GetProperty("item").GetString()).ToArray();
            Assert.Equal(expected, group.Select(f => f[2]));
            Assert.Equal(["1", "2", "3", "4", "5"], group.Select(f => f[1]));
        }

        Assert.Single(Directory.GetFiles(_folder, "*.tsv*")); // no temporary file left behind

        // An ID holding a tab cannot go into the tab-separated table: refused, nothing written; JSON lines carry it.
        string log = Path.Combine(_folder, "tab.csv");
        File.WriteAllText(log, "user,item\nu\tx,a\nu\tx,b\nv,a\nv,c\nw,b\nw,c\n");
        string tabModel = Path.Combine(_folder, "tab.ncf");
        Assert.Equal(0, Run("train", "--data", log, "--holdout", "none", "--epochs", "1", "--model", "gmf", "--out", tabModel).Code);
        string tabTable = Path.Combine(_folder, "tab.tsv");
        (code, _, error) = Run("recommend", "--model", tabModel, "--all-users", "--out", tabTable);
        Assert.Equal(2, code);
        Assert.Contains("use --json", error);
        Assert.False(File.Exists(tabTable));
        (code, output, _) = Run("recommend", "--model", tabModel, "--all-users", "--json");
        Assert.Equal(0, code);
        Assert.Equal("u\tx", JsonLines(output)[0].GetProperty("user").GetString());
        (code, output, _) = Run("recommend", "--model", model, "--all-users", "--k", "2", "--json");
        Assert.Equal(0, code);
        Assert.Equal(byUser.Length, JsonLines(output).Length);
    }

    [Fact]
    public void Recommend_history_fits_a_new_user_to_the_items_given_and_leaves_them_out()
    {
        // A user the model knows, given as a history of their own known items, gets a fold-in: the history's items are
        // never recommended, the result repeats with the seed, and --json names the history's size, not a user.
        string model = Path.Combine(_folder, "m.ncf");
        Assert.Equal(0, Run("train", "--epochs", "2", "--model", "gmf", "--out", model).Code);
        var (code, output, error) = Run("recommend", "--model", model, "--user", "1", "--k", "3000", "--include-known", "--json");
        Assert.True(code == 0, error);
        var everything = JsonLines(output)[0].GetProperty("items").EnumerateArray().Select(r => r.GetProperty("item").GetString()!).ToArray();
        string[] history = [.. everything.Take(4), "\"" + everything[5] + "\""];

        string[] ask = ["recommend", "--model", model, "--history", string.Join(",", history), "--k", "10", "--json"];
        (code, output, error) = Run(ask);
        Assert.True(code == 0, error);
        var line = JsonLines(output)[0];
        Assert.Equal(5, line.GetProperty("history_items").GetInt32());
        Assert.False(line.TryGetProperty("user", out _));
        var items = line.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("item").GetString()!).ToArray();
        Assert.Equal(10, items.Length);
        Assert.Empty(items.Intersect([.. everything.Take(4), everything[5]]));
        Assert.Equal(output, Run(ask).Out);
        Assert.NotEqual(output, Run([.. ask, "--seed", "7"]).Out);

        (code, output, error) = Run("recommend", "--model", model, "--history", everything[0], "--k", "2");
        Assert.True(code == 0, error);
        Assert.StartsWith("top 2 for a history of 1 item (", output);

        // evaluate --fold-in: every test user folded in from their training rows, beside the model's own figures.
        (code, output, error) = Run("evaluate", "--model", model, "--fold-in", "--json");
        Assert.True(code == 0, error);
        var figures = JsonLines(output)[0];
        double foldedIn = figures.GetProperty("fold_in_hr").GetDouble(), popular = figures.GetProperty("popularity_hr").GetDouble();
        Assert.True(foldedIn > popular, $"fold-in HR@10 {foldedIn}, popularity {popular}");
        Assert.InRange(figures.GetProperty("fold_in_ndcg").GetDouble(), 0, foldedIn);
    }

    [Theory]
    [InlineData("--user", "1", "--all-users")]
    [InlineData("--user", "1", "--history", "1")]
    [InlineData("--all-users", "--history", "1")]
    [InlineData("--history", "1", "--include-known")]
    [InlineData("--history", "1", "--out", "x.tsv")]
    [InlineData("--history", "no-such-item")]
    [InlineData("--history", ",")]
    [InlineData("--user", "1", "--seed", "3")]
    [InlineData("--user", "1", "--out", "x.tsv")]
    [InlineData("--all-users", "--candidates", "no-such-item", "--out", "x.tsv")]
    public void Recommend_refuses_conflicting_or_unknown_choices_and_writes_nothing(params string[] options)
    {
        string model = Path.Combine(_folder, "m.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--model", "gmf", "--out", model).Code);
        string[] args = ["recommend", "--model", model, .. options.Select(o => o == "x.tsv" ? Path.Combine(_folder, o) : o)];
        var (code, output, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("ncf: error: ", error);
        Assert.Empty(Directory.GetFiles(_folder, "*.tsv*"));
    }

    [Fact]
    public void Recommend_rejects_a_corrupted_model_file_and_an_unknown_user()
    {
        string model = Path.Combine(_folder, "gmf.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--model", "gmf", "--out", model).Code);
        var (code, _, error) = Run("recommend", "--model", model, "--user", "no-such-user");
        Assert.Equal(2, code);
        Assert.Contains("Unknown user 'no-such-user'", error);

        var bytes = File.ReadAllBytes(model);
        bytes[^40] ^= 1;
        File.WriteAllBytes(model, bytes);
        (code, _, error) = Run("recommend", "--model", model, "--user", "1");
        Assert.Equal(2, code);
        Assert.Contains("checksum", error);
    }

    [Fact]
    public void Gzip_logs_are_read_in_full_even_in_several_members_and_a_cut_off_one_is_refused()
    {
        // The executable (and this test host, see the csproj) runs with strict gzip validation.
        Assert.True(AppContext.TryGetSwitch("System.IO.Compression.UseStrictValidation", out bool strict) && strict);
        static byte[] Gzip(string text)
        {
            using var output = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            {
                gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
            }

            return output.ToArray();
        }

        // Two days of a log, gzipped apart and concatenated (cat day1.gz day2.gz): four users, six items.
        string day1 = "user,item,timestamp\nann,i1,1\nann,i2,2\nann,i3,3\nbob,i2,1\nbob,i3,2\nbob,i4,3\n";
        string day2 = "\"cat, the\",i3,4\n\"cat, the\",i4,5\n\"cat, the\",i5,6\ndan,i4,4\ndan,i5,5\ndan,i6,6\n";
        string log = Path.Combine(_folder, "log.csv.gz");
        File.WriteAllBytes(log, [.. Gzip(day1), .. Gzip(day2)]);
        var (code, output, error) = Run("train", "--data", log, "--epochs", "1", "--test-neg", "2", "--json");
        Assert.True(code == 0, error);
        var summary = JsonLines(output)[^1];
        Assert.Equal(4, summary.GetProperty("users").GetInt32());
        Assert.Equal(6, summary.GetProperty("items").GetInt32());
        Assert.Equal(8, summary.GetProperty("train_positives").GetInt32());

        var big = new System.Text.StringBuilder("user,item\n");
        for (int row = 0; row < 20_000; row++)
        {
            big.Append("u").Append(row % 300).Append(",i").Append(row % 700).Append('\n');
        }

        byte[] whole = Gzip(big.ToString());
        string cut = Path.Combine(_folder, "cut.csv.gz");
        File.WriteAllBytes(cut, whole[..(whole.Length / 2)]);
        (code, output, error) = Run("train", "--data", cut, "--epochs", "1");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("cut.csv.gz: the gzip data is corrupt or truncated", error);
    }

    /// <summary>A log of 90 users over 40 items in three taste groups, 14 timed rows each: enough to learn from in seconds.</summary>
    private string ClusteredLog()
    {
        string log = Path.Combine(_folder, "clustered.csv");
        var lines = new List<string> { "user,item,timestamp" };
        for (int u = 0; u < 90; u++)
        {
            int group = u % 3;
            for (int n = 0; n < 14; n++)
            {
                int item = n < 11 ? group * 12 + (u * 7 + n * 5) % 12 : 36 + (u + n) % 4;
                lines.Add($"user{u},item{item},{1000 + n * 10 + u % 7}");
            }
        }

        File.WriteAllLines(log, lines);
        return log;
    }

    [Fact]
    public void Validation_chooses_the_epoch_and_the_test_figures_are_reported_at_it()
    {
        string model = Path.Combine(_folder, "val.ncf");
        var (code, output, error) = Run("train", "--data", ClusteredLog(), "--validation", "--model", "gmf", "--factors", "8", "--lr", "0.02",
            "--epochs", "8", "--test-neg", "20", "--checkpoint", "best", "--json", "--out", model);
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        var epochs = lines[..^1];
        var summary = lines[^1];
        Assert.Equal(8, epochs.Length);
        Assert.Equal("validation", summary.GetProperty("best_selected_by").GetString());

        // The chosen epoch is the first with the highest validation HR@10, whatever the test set says.
        double bestValidation = epochs.Max(e => e.GetProperty("val_hr10").GetDouble());
        var chosen = epochs.First(e => e.GetProperty("val_hr10").GetDouble() == bestValidation);
        Assert.Equal(chosen.GetProperty("epoch").GetInt32(), summary.GetProperty("best_epoch").GetInt32());
        Assert.Equal(chosen.GetProperty("hr10").GetDouble(), summary.GetProperty("best_hr10").GetDouble());
        Assert.Equal(chosen.GetProperty("ndcg10").GetDouble(), summary.GetProperty("best_ndcg10").GetDouble());

        // The saved model is that epoch's: evaluating it reproduces the test figures reported for it.
        string log = Path.Combine(_folder, "clustered.csv");
        AssertEvaluatesTo(model, chosen.GetProperty("hr10").GetDouble(), chosen.GetProperty("ndcg10").GetDouble(), "--data", log, "--validation", "--test-neg", "20");

        // The validation hold-out leaves the test cases and their negatives as they are: without it, the same figures.
        AssertEvaluatesTo(model, chosen.GetProperty("hr10").GetDouble(), chosen.GetProperty("ndcg10").GetDouble(), "--data", log, "--test-neg", "20");

        // A file with the same IDs in the same order but one interaction changed (user89's oldest row now names
        // item0, which he never saw) is another data set: refused, not mis-scored.
        string edited = Path.Combine(_folder, "edited.csv");
        var rows = File.ReadAllLines(log);
        int oldest = Array.FindIndex(rows, r => r.StartsWith("user89,", StringComparison.Ordinal));
        rows[oldest] = "user89,item0," + rows[oldest].Split(',')[2];
        File.WriteAllLines(edited, rows);
        (code, _, error) = Run("evaluate", "--model", model, "--data", edited, "--validation", "--test-neg", "20");
        Assert.Equal(2, code);
        Assert.Contains("the model's interactions (1260 user-item pairs) are not those of edited (1260 pairs)", error);

        // Or on a file of the same size whose IDs are not the model's.
        string renamed = Path.Combine(_folder, "renamed.csv");
        File.WriteAllLines(renamed, File.ReadAllLines(log).Select((l, n) => n == 0 ? l : l.Replace("user", "person")));
        (code, _, error) = Run("evaluate", "--model", model, "--data", renamed, "--validation", "--test-neg", "20");
        Assert.Equal(2, code);
        Assert.Contains("IDs are not", error);

        // Validation rows are held out of training: one per user (each has 14 distinct items), and one test row.
        Assert.Equal(90 * 12, summary.GetProperty("train_positives").GetInt32());
        (code, output, error) = Run("train", "--data", ClusteredLog(), "--model", "gmf", "--factors", "8", "--epochs", "1", "--test-neg", "20", "--json");
        Assert.True(code == 0, error);
        Assert.Equal(90 * 13, JsonLines(output)[^1].GetProperty("train_positives").GetInt32());
        Assert.Equal("test", JsonLines(output)[^1].GetProperty("best_selected_by").GetString());
    }

    // On this log validation chooses epoch 3 or 4 of 8, so --average-from 2 carries over to the refit and 6 does not.
    [Theory]
    [InlineData(0, false)]
    [InlineData(2, true)]
    [InlineData(6, false)]
    public void Refit_trains_again_with_the_validation_rows_for_the_epoch_validation_chose(int averageFrom, bool refitAverages)
    {
        string log = ClusteredLog(), model = Path.Combine(_folder, "refit.ncf");
        string[] common = ["--data", log, "--model", "gmf", "--factors", "8", "--lr", "0.02", "--test-neg", "20", "--json"];
        var (code, output, error) = Run(["train", .. common, "--validation", "--refit", "--epochs", "8", "--average-from", $"{averageFrom}", "--out", model]);
        Assert.True(code == 0, error);
        var lines = JsonLines(output);
        var summary = lines[^1];
        JsonElement[] Phase(string name) => [.. lines[..^1].Where(l => l.GetProperty("phase").GetString() == name)];
        var selection = Phase("select");
        var refit = Phase("refit");
        Assert.Equal(8, selection.Length);
        Assert.Equal(lines.Length - 1, selection.Length + refit.Length);

        // The epoch is the validation run's first with the highest validation HR@10; the refit trains that many.
        double bestValidation = selection.Max(e => e.GetProperty("val_hr10").GetDouble());
        var chosen = selection.First(e => e.GetProperty("val_hr10").GetDouble() == bestValidation);
        int epoch = chosen.GetProperty("epoch").GetInt32();
        Assert.Equal(epoch, refit.Length);
        Assert.All(refit, r => Assert.False(r.TryGetProperty("val_hr10", out _)));
        Assert.Equal(epoch, summary.GetProperty("best_epoch").GetInt32());
        Assert.Equal("validation", summary.GetProperty("best_selected_by").GetString());
        Assert.True(summary.GetProperty("refit").GetBoolean());
        Assert.Equal(chosen.GetProperty("hr10").GetDouble(), summary.GetProperty("selection_hr10").GetDouble());
        Assert.Equal(chosen.GetProperty("val_hr10").GetDouble(), summary.GetProperty("selection_val_hr10").GetDouble());
        Assert.Equal(90 * 12, summary.GetProperty("selection_train_positives").GetInt32());
        Assert.Equal(90 * 13, summary.GetProperty("train_positives").GetInt32());

        // The reported and saved model is the refit's last epoch.
        double hitRate = refit[^1].GetProperty("hr10").GetDouble(), ndcg = refit[^1].GetProperty("ndcg10").GetDouble();
        Assert.Equal(hitRate, summary.GetProperty("best_hr10").GetDouble());
        Assert.Equal(hitRate, summary.GetProperty("final_hr10").GetDouble());
        Assert.Equal(ndcg, summary.GetProperty("final_ndcg10").GetDouble());
        AssertEvaluatesTo(model, hitRate, ndcg, "--data", log, "--test-neg", "20");

        // Independently: a plain run of that many epochs on the same file, no validation hold-out, is the same model.
        // Averaging carries over only where the chosen epoch had reached it.
        Assert.Equal(refitAverages, refit.Any(r => r.TryGetProperty("averaged_epochs", out _)));
        int refitAverageFrom = refitAverages ? averageFrom : 0;
        Assert.Equal(refitAverageFrom, summary.GetProperty("average_from").GetInt32());
        Assert.Equal(epoch, summary.GetProperty("refit_epochs").GetInt32());
        Assert.Equal(8, summary.GetProperty("epochs").GetInt32());
        string plainModel = Path.Combine(_folder, "plain.ncf");
        (code, output, error) = Run(["train", .. common, "--epochs", $"{epoch}", "--average-from", $"{refitAverageFrom}", "--out", plainModel]);
        Assert.True(code == 0, error);
        var plain = JsonLines(output)[^1];
        Assert.Equal(File.ReadAllBytes(plainModel), File.ReadAllBytes(model));
        Assert.Equal(hitRate, plain.GetProperty("final_hr10").GetDouble());
        Assert.Equal(summary.GetProperty("popularity_hr10").GetDouble(), plain.GetProperty("popularity_hr10").GetDouble());

        // Text output names both models.
        (code, output, error) = Run(["train", .. common[..^1], "--validation", "--refit", "--epochs", "8", "--average-from", $"{averageFrom}", "--out", model]);
        Assert.True(code == 0, error);
        Assert.Contains($"epoch {epoch} chosen on validation: HR@10 {chosen.GetProperty("hr10").GetDouble():F4}", output);
        Assert.Contains($"refit with the validation rows in training (1,170 interactions), {epoch} epochs: HR@10 {hitRate:F4}  NDCG@10 {ndcg:F4}", output);
        Assert.Contains($"(refitted, epoch {epoch})", output);
        Assert.Equal(!refitAverages && averageFrom > 0, output.Contains("the refit does not average"));
    }

    [Theory]
    [InlineData("add --validation", "--refit")]
    [InlineData("drop --checkpoint best", "--refit", "--validation", "--checkpoint", "best")]
    [InlineData("refit each parent", "--refit", "--validation", "--model", "neumf", "--pretrain")]
    [InlineData("--epochs 1 or more", "--refit", "--validation", "--epochs", "0")]
    [InlineData("--holdout latest", "--refit", "--validation", "--holdout", "none")]
    public void Refit_refuses_what_it_cannot_honour(string expected, params string[] options)
    {
        var run = Run(["train", "--data", ClusteredLog(), .. options]);
        AssertOneErrorLine(run);
        Assert.Contains(expected, run.Err);
    }

    [Fact]
    public void Refit_of_NCF_files_that_repeat_a_validation_row_is_the_same_split_not_a_changed_file()
    {
        // User 0's latest training row (item 2, time 30) is written twice: validation holds out both copies, and the
        // refit puts both back, one more row than validation cases.
        string prefix = Path.Combine(_folder, "dup");
        File.WriteAllText(prefix + ".train.rating",
            "0\t1\t5\t10\n0\t2\t4\t30\n0\t2\t4\t30\n0\t3\t4\t20\n1\t3\t3\t7\n1\t4\t3\t8\n1\t5\t3\t9\n2\t5\t1\t1\n2\t0\t1\t2\n2\t1\t1\t3\n");
        File.WriteAllText(prefix + ".test.negative", "(0,4)\t0\t5\n(1,0)\t1\t2\n(2,3)\t1\t2\n");

        var (code, output, error) = Run("train", "--data", prefix, "--model", "gmf", "--epochs", "2", "--validation", "--refit", "--test-neg", "1");

        Assert.True(code == 0, error);
        Assert.Contains("refit with the validation rows in training (10 interactions)", output);
    }

    [Theory]
    [InlineData("0\t1\t5\t10\n", "0\t1\t5\t10\n0\t1\t5\t10\n")] // a training row repeated
    [InlineData("1\t5\t3\t9\n", "1\t0\t3\t9\n")]                   // a row's item changed
    [InlineData("2\t0\t1\t2\n", "")]                                  // a row removed
    [InlineData("", "")]                                                  // unchanged: accepted
    public void The_refit_check_sees_a_training_file_changed_between_the_two_reads(string before, string after)
    {
        // User 0's validation pair (item 2, time 30) is written twice; both copies come back in the refit.
        string prefix = Path.Combine(_folder, "chg");
        const string Train = "0\t1\t5\t10\n0\t2\t4\t30\n0\t2\t4\t30\n0\t3\t4\t20\n1\t3\t3\t7\n1\t4\t3\t8\n1\t5\t3\t9\n2\t5\t1\t1\n2\t0\t1\t2\n2\t1\t1\t3\n";
        File.WriteAllText(prefix + ".train.rating", Train);
        File.WriteAllText(prefix + ".test.negative", "(0,4)\t0\t5\n(1,0)\t1\t2\n(2,3)\t1\t2\n");
        var selection = Ncf.Data.NcfDataLoader.Load(prefix, new Ncf.Data.DataLoadOptions { TestNegatives = 1, Validation = true });

        File.WriteAllText(prefix + ".train.rating", before.Length == 0 ? Train : Train.Replace(before, after, StringComparison.Ordinal));
        var refit = Ncf.Data.NcfDataLoader.Load(prefix, new Ncf.Data.DataLoadOptions { TestNegatives = 1 });

        if (before.Length == 0)
        {
            TrainCommand.RequireSameSplit(selection, refit);
        }
        else
        {
            Assert.Contains("did the file change?", Assert.Throws<NcfException>(() => TrainCommand.RequireSameSplit(selection, refit)).Message);
        }
    }

    [Fact]
    public void Refit_needs_a_data_file_with_validation_cases()
    {
        // Not the synthetic data; nor a log where no user can give a validation case (two items each: a test case and one row).
        AssertOneErrorLine(Run("train", "--refit", "--validation"), "ncf: error: --refit needs a data file");
        string pairs = Path.Combine(_folder, "pairs.csv");
        File.WriteAllLines(pairs, ["user,item,timestamp", "a,x,1", "a,y,2", "b,x,1", "b,z,2", "c,y,1", "c,z,2"]);
        AssertOneErrorLine(Run("train", "--data", pairs, "--test-neg", "1", "--refit", "--validation"),
            $"ncf: error: {pairs}: no user has three or more distinct items");
    }

    [Fact]
    public void A_hold_out_that_finds_no_case_is_one_error_line_not_a_run_scored_on_nothing()
    {
        // Two items per user: test cases, but no validation case. One item per user: no test case either.
        string pairs = Path.Combine(_folder, "pairs.csv");
        File.WriteAllLines(pairs, ["user,item,timestamp", "a,x,1", "a,y,2", "b,x,1", "b,z,2", "c,y,1", "c,z,2"]);
        string singles = Path.Combine(_folder, "singles.csv");
        File.WriteAllLines(singles, ["user,item", "a,x", "b,y"]);
        string model = Path.Combine(_folder, "nothing.ncf");

        AssertOneErrorLine(Run("train", "--data", pairs, "--test-neg", "1", "--validation", "--epochs", "1", "--out", model),
            $"ncf: error: {pairs}: no user has three or more distinct items");
        AssertOneErrorLine(Run("train", "--data", singles, "--test-neg", "1", "--epochs", "1", "--out", model),
            $"ncf: error: {singles}: no user has two or more distinct items");
        Assert.False(File.Exists(model));
        Assert.Equal(0, Run("train", "--data", singles, "--holdout", "none", "--epochs", "1", "--out", model).Code);
        Assert.True(File.Exists(model));
    }

    // /proc/self/mem opens for anyone, root included (tests here run as root, which no file mode stops), and its first
    // read fails with EIO because address 0 is unmapped: an unreadable file that fails in the middle of reading.
    [LinuxFact]
    public void A_file_that_cannot_be_read_is_one_error_line_and_nothing_is_written()
    {
        string model = Path.Combine(_folder, "unreadable.ncf");
        foreach (string[] format in new[] { Array.Empty<string>(), ["--format", "csv"], ["--format", "ml-1m"] })
        {
            AssertOneErrorLine(Run(["train", "--data", "/proc/self/mem", .. format, "--epochs", "1", "--out", model]),
                "ncf: error: /proc/self/mem: read failed");
            Assert.False(File.Exists(model));
        }
    }

    [Fact]
    public void Evaluate_draws_the_test_negatives_with_the_training_runs_seed_unless_told_otherwise()
    {
        string log = ClusteredLog(), model = Path.Combine(_folder, "seed7.ncf");
        var (code, output, error) = Run("train", "--data", log, "--model", "gmf", "--factors", "8", "--epochs", "2", "--test-neg", "20", "--seed", "7", "--json", "--out", model);
        Assert.True(code == 0, error);
        var summary = JsonLines(output)[^1];
        double hitRate = summary.GetProperty("final_hr10").GetDouble(), ndcg = summary.GetProperty("final_ndcg10").GetDouble();

        AssertEvaluatesTo(model, hitRate, ndcg, "--data", log, "--test-neg", "20");
        AssertEvaluatesTo(model, hitRate, ndcg, "--data", log, "--test-neg", "20", "--seed", "7");

        // Another seed draws other negatives for the same test items: other figures.
        (code, output, error) = Run("evaluate", "--model", model, "--data", log, "--test-neg", "20", "--seed", "42", "--json");
        Assert.True(code == 0, error);
        var other = JsonDocument.Parse(output).RootElement;
        Assert.NotEqual((hitRate, ndcg), (other.GetProperty("hr").GetDouble(), other.GetProperty("ndcg").GetDouble()));
    }

    [Fact]
    public void Header_option_forces_or_refuses_the_first_line_as_a_header()
    {
        // "person,thing" names no known column, so by default it is guessed to be data: one more user and item.
        string log = Path.Combine(_folder, "people.csv");
        File.WriteAllLines(log, ["person,thing", "a,x", "a,y", "b,x", "b,z", "c,y", "c,z"]);
        int Users(params string[] extra)
        {
            var (code, output, error) = Run(["train", "--data", log, "--holdout", "none", "--epochs", "1", "--factors", "2", "--json", .. extra]);
            Assert.True(code == 0, error);
            return JsonLines(output)[^1].GetProperty("users").GetInt32();
        }

        Assert.Equal(4, Users());
        Assert.Equal(4, Users("--header", "no"));
        Assert.Equal(3, Users("--header", "yes"));

        // Forcing a header on a MovieLens file, whose layout is fixed, is refused with the file named.
        string dat = Path.Combine(_folder, "ratings.dat");
        File.WriteAllLines(dat, ["1::10::5::100", "1::11::4::101", "2::10::3::102", "2::12::2::103"]);
        var (refused, stdout, stderr) = Run("train", "--data", dat, "--header", "yes", "--epochs", "1");
        Assert.Equal(2, refused);
        Assert.Equal("", stdout);
        Assert.Contains("ratings.dat", stderr);
        Assert.Contains("header", stderr);
        Assert.Equal(2, Run("train", "--data", log, "--header", "maybe").Code);
    }

    [Fact]
    public void A_malformed_data_file_names_file_and_line_exits_2_and_writes_no_model()
    {
        string log = Path.Combine(_folder, "broken.tsv");
        File.WriteAllText(log, "user\titem\ttimestamp\r\nu1\ti1\t1\r\nu1\ti2\tyesterday\r\nu2\ti1\t3\r\n");
        string model = Path.Combine(_folder, "never.ncf");

        var (code, output, error) = Run("train", "--data", log, "--epochs", "1", "--out", model);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("broken.tsv:3:", error);
        Assert.Contains("yesterday", error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(File.Exists(model));
        Assert.Equal([log], Directory.GetFiles(_folder));
    }

    [Fact]
    public async Task Data_download_verifies_unpacks_and_refuses_a_checksum_mismatch_leaving_nothing()
    {
        byte[] zip;
        using (var memory = new MemoryStream())
        {
            using (var archive = new System.IO.Compression.ZipArchive(memory, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
            using (var writer = new StreamWriter(archive.CreateEntry("ml-latest-small/ratings.csv").Open()))
            {
                writer.Write("userId,movieId,rating,timestamp\n1,10,4.0,5\n1,20,3.0,6\n1,30,3.0,7\n2,10,5.0,7\n2,30,1.0,8\n2,40,1.0,9\n");
            }

            zip = memory.ToArray();
        }

        string sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(zip));
        await using var server = new Ncf.Core.Tests.Data.TinyHttpServer(new() { ["ml-latest-small.zip"] = zip });
        string target = Path.Combine(_folder, "data");
        string baseUrl = server.BaseUri.ToString();

        var (code, output, error) = Run("data", "download", "ml-latest-small", "--to", target, "--base-url", baseUrl, "--sha256", new string('a', 64));
        Assert.Equal(2, code);
        Assert.Contains("SHA-256 mismatch", error);
        Assert.Contains(sha256, error);
        Assert.DoesNotContain("   at ", error);
        Assert.Empty(Directory.Exists(target) ? Directory.GetFileSystemEntries(target) : []);

        (code, output, error) = Run("data", "download", "ml-latest-small", "--to", target, "--base-url", baseUrl, "--sha256", sha256);
        Assert.True(code == 0, error);
        string folder = Path.Combine(target, "ml-latest-small");
        Assert.Contains($"ml-latest-small: verified and unpacked into {folder}", output);
        Assert.Equal([folder], Directory.GetFileSystemEntries(target));

        // The unpacked folder is usable as --data straight away.
        (code, output, error) = Run("train", "--data", folder, "--epochs", "1", "--test-neg", "1", "--factors", "2", "--json");
        Assert.True(code == 0, error);
        Assert.Equal(2, JsonLines(output)[^1].GetProperty("users").GetInt32());

        // Again without --overwrite: refused, the first copy untouched.
        (code, _, error) = Run("data", "download", "ml-latest-small", "--to", target, "--base-url", baseUrl, "--sha256", sha256);
        Assert.Equal(2, code);
        Assert.Contains("already exists", error);
        Assert.True(File.Exists(Path.Combine(folder, "ratings.csv")));
    }

    /// <summary>The epoch lines of a --json run (epoch, loss, HR, NDCG), and its summary's figures, without timings.</summary>
    private static (string Epochs, string Summary) Figures(string output)
    {
        var lines = JsonLines(output);
        string epochs = string.Join("; ", lines.Where(l => l.TryGetProperty("epoch", out _)).Select(l =>
            $"{l.GetProperty("epoch")} {l.GetProperty("loss")} {l.GetProperty("hr10")} {l.GetProperty("ndcg10")}"));
        var summary = lines[^1];
        return (epochs, string.Join(" ", new[] { "epochs", "best_epoch", "best_hr10", "best_ndcg10", "final_hr10", "final_ndcg10" }
            .Select(k => summary.TryGetProperty(k, out var v) ? $"{k}={v}" : $"{k}=-")));
    }

    // The second case's best epoch is its 5th (lr 0.03 makes HR@10 fall in the 6th): --checkpoint best must keep the
    // parameters of an epoch trained before the stop.
    [Theory]
    [InlineData(2, 4, "--optimizer", "adam", "--checkpoint", "final")]
    [InlineData(5, 6, "--optimizer", "adam", "--lr", "0.03", "--checkpoint", "best")]
    [InlineData(2, 4, "--optimizer", "deferred-adam", "--average-from", "2")]
    public void A_run_stopped_and_resumed_from_its_state_saves_the_model_and_prints_the_figures_of_the_run_that_never_stopped(int stop, int epochs,
        params string[] options)
    {
        string whole = Path.Combine(_folder, "whole.ncf"), resumed = Path.Combine(_folder, "resumed.ncf"), state = Path.Combine(_folder, "run.state");
        string[] common = ["train", "--json", "--factors", "8", "--seed", "3", .. options];
        var straight = Run([.. common, "--epochs", $"{epochs}", "--out", whole]);
        Assert.True(straight.Code == 0, straight.Err);

        var first = Run([.. common, "--epochs", $"{stop}", "--state", state]);
        Assert.True(first.Code == 0, first.Err);
        Assert.True(File.Exists(state));
        // A run is extended by resuming it with more epochs; the epochs it had are printed again as they were.
        var second = Run([.. common, "--epochs", $"{epochs}", "--state", state, "--resume", "--out", resumed, "--threads", "2"]);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains($"note: resumed from {state} after epoch {stop}", second.Err);

        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
        Assert.Equal(Figures(straight.Out), Figures(second.Out));
    }

    [Fact]
    public void The_default_optimizer_resumes_a_state_of_the_kind_it_resolves_to_and_refuses_another()
    {
        // Settings record --optimizer auto as what it resolves to, so a state written with that kind named (or by a
        // build whose default was adam) continues; a state of another kind is refused, naming it.
        string state = Path.Combine(_folder, "auto.state");
        string[] small = ["train", "--epochs", "1", "--factors", "8", "--state", state];
        var first = Run([.. small, "--optimizer", "adam"]);
        Assert.True(first.Code == 0, first.Err);
        var resumed = Run(["train", "--epochs", "2", "--factors", "8", "--state", state, "--resume"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains($"note: resumed from {state} after epoch 1", resumed.Out);

        File.Delete(state);
        Assert.Equal(0, Run([.. small, "--optimizer", "deferred-adam"]).Code);
        var refused = Run(["train", "--epochs", "2", "--factors", "8", "--state", state, "--resume"]);
        Assert.Equal(2, refused.Code);
        Assert.Contains("`optimizer=DeferredAdam ", refused.Err);
        Assert.Contains("`optimizer=Adam ", refused.Err);
    }

    [Fact]
    public void Fine_tuning_a_pre_trained_NeuMF_resumes_after_its_epoch_0_evaluation_without_repeating_it()
    {
        var (gmf, mlp) = TrainParents(2);
        string whole = Path.Combine(_folder, "whole.ncf"), resumed = Path.Combine(_folder, "resumed.ncf"), state = Path.Combine(_folder, "run.state");
        string[] common = ["train", "--json", "--model", "neumf", "--gmf", gmf, "--mlp", mlp];
        var straight = Run([.. common, "--epochs", "2", "--out", whole]);
        Assert.True(straight.Code == 0, straight.Err);
        Assert.Equal(0, Run([.. common, "--epochs", "0", "--state", state]).Code);
        // --optimizer plays no part in fine-tuning from files (--finetune-optimizer does), so it may change.
        var second = Run([.. common, "--epochs", "2", "--state", state, "--resume", "--out", resumed, "--optimizer", "sgd"]);
        Assert.True(second.Code == 0, second.Err);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
        Assert.Equal(Figures(straight.Out), Figures(second.Out));
        Assert.StartsWith("0 ", Figures(second.Out).Epochs);

        // Other parents are another run.
        string otherGmf = Path.Combine(_folder, "other.ncf");
        Assert.Equal(0, Run("train", "--epochs", "1", "--model", "gmf", "--out", otherGmf).Code);
        var refused = Run(["train", "--json", "--model", "neumf", "--gmf", otherGmf, "--mlp", mlp, "--epochs", "2", "--state", state, "--resume"]);
        AssertOneErrorLine(refused);
        Assert.Contains("gmf-sha256=", refused.Err);
    }

    /// <summary>Standard output that fails (a crash, as far as the run can tell) once what was written holds <paramref name="marker"/>.</summary>
    private sealed class CrashingWriter(string marker) : StringWriter
    {
        private void Check()
        {
            if (GetStringBuilder().ToString().Contains(marker, StringComparison.Ordinal))
            {
                throw new IOException($"simulated crash at {marker}");
            }
        }

        public override void Write(char value)
        {
            base.Write(value);
            Check();
        }

        public override void Write(string? value)
        {
            base.Write(value);
            Check();
        }

        public override void Write(char[] buffer, int index, int count)
        {
            base.Write(buffer, index, count);
            Check();
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            base.Write(buffer);
            Check();
        }
    }

    // Runs of several phases (a validation run and its refit; GMF and MLP parents, then NeuMF) crash in one phase,
    // when an epoch line is printed (before that epoch's state is written), and resume: the finished phases are not
    // trained again, the phase under way continues, and the model and figures are those of the run that never stopped.
    [Theory]
    [InlineData("\"phase\":\"select\",\"epoch\":3,", "refit")]
    [InlineData("\"phase\":\"refit\",\"epoch\":2,", "refit")]
    [InlineData("\"phase\":\"mlp\",\"epoch\":2,", "pretrain")]
    [InlineData("\"phase\":\"neumf\",\"epoch\":1,", "pretrain")]
    [InlineData("{\"epoch\":3,", "plain")]
    [InlineData("\"phase\":\"refit\",\"epoch\":2,", "refit-patience")]
    public void A_run_of_several_phases_crashed_in_one_resumes_to_the_model_of_the_run_that_never_stopped(string crashAt, string kind)
    {
        string whole = Path.Combine(_folder, "whole.ncf"), resumed = Path.Combine(_folder, "resumed.ncf"), state = Path.Combine(_folder, "run.state");
        string[] common = kind switch
        {
            "refit" => ["train", "--json", "--data", ClusteredLog(), "--model", "gmf", "--factors", "8", "--lr", "0.02", "--test-neg", "20",
                "--validation", "--refit", "--epochs", "6", "--average-from", "2"],
            "pretrain" => ["train", "--json", "--model", "neumf", "--pretrain", "--epochs", "3", "--checkpoint", "best"],
            "refit-patience" => ["train", "--json", "--data", ClusteredLog(), "--model", "gmf", "--factors", "8", "--lr", "0.02", "--test-neg", "20",
                "--validation", "--refit", "--epochs", "12", "--patience", "2"],
            _ => ["train", "--json", "--epochs", "5", "--optimizer", "deferred-adam"],
        };
        var straight = Run([.. common, "--out", whole]);
        Assert.True(straight.Code == 0, straight.Err);

        var crashing = new CrashingWriter(crashAt);
        var error = new StringWriter();
        Assert.Equal(74, Ncf.Cli.Cli.Run([.. common, "--state", state, "--out", resumed], crashing, error));
        Assert.Contains("simulated crash", error.ToString());
        Assert.False(File.Exists(resumed));

        var second = Run([.. common, "--state", state, "--resume", "--out", resumed]);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains($"note: resumed from {state}", second.Err);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
        Assert.Equal(Figures(straight.Out), Figures(second.Out));
        // The phases before the crash were not trained again: the resumed run's first epoch line is a repeat.
        Assert.Equal(crashing.ToString().Split('\n')[0], second.Out.Split('\n')[0]);
    }

    [Fact]
    public void Patience_stops_where_the_validation_figures_of_the_full_run_say_and_the_refit_trains_the_chosen_epochs()
    {
        string log = ClusteredLog();
        string[] common = ["train", "--json", "--data", log, "--model", "gmf", "--factors", "8", "--lr", "0.02", "--test-neg", "20",
            "--validation", "--epochs", "12"];
        var full = Run(common);
        Assert.True(full.Code == 0, full.Err);
        var epochs = JsonLines(full.Out)[..^1];

        // Where patience 2 must stop, from the full run's validation HR@10 (the first best, as the summary's best_epoch).
        int bestEpoch = 0, stop = 0;
        double best = double.NegativeInfinity;
        foreach (var line in epochs)
        {
            int epoch = line.GetProperty("epoch").GetInt32();
            if (line.GetProperty("val_hr10").GetDouble() > best)
            {
                (best, bestEpoch) = (line.GetProperty("val_hr10").GetDouble(), epoch);
            }

            if (epoch - bestEpoch >= 2)
            {
                stop = epoch;
                break;
            }
        }

        Assert.True(stop is > 0 and < 12, $"this log should stop early (best epoch {bestEpoch})");
        var stopped = Run([.. common, "--patience", "2"]);
        Assert.True(stopped.Code == 0, stopped.Err);
        var lines = JsonLines(stopped.Out);
        Assert.Equal(epochs.Take(stop).Select(l => $"{l.GetProperty("epoch")} {l.GetProperty("loss")} {l.GetProperty("val_hr10")}"),
            lines[..^1].Select(l => $"{l.GetProperty("epoch")} {l.GetProperty("loss")} {l.GetProperty("val_hr10")}"));
        Assert.True(lines[^1].GetProperty("stopped_early").GetBoolean());
        Assert.Equal(bestEpoch, lines[^1].GetProperty("best_epoch").GetInt32());
        Assert.Contains($"note: stopped early after epoch {stop}: no better validation HR@10 than epoch {bestEpoch}'s in 2 epochs (--patience).", stopped.Err);
        Assert.False(JsonLines(full.Out)[^1].GetProperty("stopped_early").GetBoolean());

        // With --refit the validation run stops there, and the refit trains exactly the chosen epochs (it has no
        // validation rows to stop on).
        var refit = Run([.. common, "--patience", "2", "--refit"]);
        Assert.True(refit.Code == 0, refit.Err);
        lines = JsonLines(refit.Out);
        Assert.Equal(stop, lines.Count(l => l.TryGetProperty("phase", out var p) && p.GetString() == "select"));
        Assert.Equal(bestEpoch, lines.Count(l => l.TryGetProperty("phase", out var p) && p.GetString() == "refit"));
        Assert.True(lines[^1].GetProperty("stopped_early").GetBoolean());
        Assert.Equal(bestEpoch, lines[^1].GetProperty("refit_epochs").GetInt32());

        AssertOneErrorLine(Run("train", "--holdout", "none", "--data", log, "--patience", "2"));
    }

    [Fact]
    public void State_options_that_cannot_work_are_refused_before_training_and_leave_the_state_as_it_was()
    {
        string state = Path.Combine(_folder, "run.state");
        Assert.Equal(0, Run("train", "--epochs", "2", "--factors", "4", "--state", state).Code);
        byte[] saved = File.ReadAllBytes(state);

        AssertOneErrorLine(Run("train", "--epochs", "3", "--factors", "4", "--state", state));
        Assert.Contains("add --resume", Run("train", "--epochs", "3", "--factors", "4", "--state", state).Err);
        Assert.Contains("add --state FILE", Run("train", "--resume").Err);
        AssertOneErrorLine(Run("train", "--resume", "--state", Path.Combine(_folder, "missing.state")));
        Assert.Contains("both name", Run("train", "--state", Path.Combine(_folder, "x"), "--out", Path.Combine(_folder, "x")).Err);

        // Settings that change the arithmetic are named; --epochs may grow, not shrink.
        var seed = Run("train", "--json", "--epochs", "3", "--factors", "4", "--seed", "9", "--state", state, "--resume");
        AssertOneErrorLine(seed);
        Assert.Contains("seed=42` there, `", seed.Err);
        Assert.Contains("seed=9` here", seed.Err);
        var fewer = Run("train", "--json", "--epochs", "1", "--factors", "4", "--state", state, "--resume");
        AssertOneErrorLine(fewer);
        Assert.Contains("already 2 epochs in; give --epochs 2 or more", fewer.Err);
        var model = Run("train", "--json", "--epochs", "3", "--factors", "8", "--state", state, "--resume");
        AssertOneErrorLine(model);
        Assert.Contains("`model=NeuMF factors=4 layers=3` there, `model=NeuMF factors=8 layers=3` here", model.Err);
        Assert.Equal(saved, File.ReadAllBytes(state));

        // Other negatives for the same test cases are another evaluation: refused, not mixed into --checkpoint best.
        string log = ClusteredLog(), logState = Path.Combine(_folder, "log.state");
        Assert.Equal(0, Run("train", "--data", log, "--epochs", "1", "--test-neg", "20", "--state", logState).Code);
        var negatives = Run("train", "--json", "--data", log, "--epochs", "2", "--test-neg", "10", "--state", logState, "--resume");
        AssertOneErrorLine(negatives);
        Assert.Contains("test cases: 90 hash=", negatives.Err);
        File.Delete(logState);

        // A folder the state cannot be written to is found before the first epoch, not after it.
        var proc = Run("train", "--epochs", "3", "--state", "/proc/ncf.state");
        if (OperatingSystem.IsLinux())
        {
            AssertOneErrorLine(proc);
            Assert.Contains("cannot write in /proc", proc.Err);
        }

        // No epoch end, nothing to keep; a file that is not a state is not replaced.
        Assert.Contains("--epochs 0 has none", Run("train", "--epochs", "0", "--state", Path.Combine(_folder, "zero.state")).Err);
        string notes = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(notes, "keep me");
        Assert.Contains("is not a training state", Run("train", "--state", notes).Err);
        Assert.Equal("keep me", File.ReadAllText(notes));
        File.Delete(notes);

        // A state whose own part was not written by ncf (the library lets any program store bytes there).
        string foreign = Path.Combine(_folder, "foreign.state");
        var data = Ncf.Data.SyntheticData.Generate(new() { Users = 40, Items = 130, MeanPerUser = 8, MinPerUser = 3 });
        using (var backend = new Ncf.Backends.Cpu.CpuBackend())
        using (var gmf = new Ncf.Models.NcfModel(backend, data.UserCount, data.ItemCount, new() { Kind = Ncf.Models.ModelKind.Gmf, Factors = 2 }))
        using (var trainer = new Ncf.Training.NcfTrainer(gmf, data))
        {
            trainer.SaveState(foreign, [2, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, (byte)'a']); // format 2, then a 2 GB settings string
        }

        var garbage = Run("train", "--json", "--epochs", "3", "--factors", "4", "--state", foreign, "--resume");
        AssertOneErrorLine(garbage);
        Assert.Contains("the run's own part of the state is not as `ncf train --state` writes it", garbage.Err);
        File.Delete(foreign);

        // A damaged state is named as such.
        saved[saved.Length / 3] ^= 1;
        File.WriteAllBytes(state, saved);
        var damaged = Run("train", "--json", "--epochs", "3", "--factors", "4", "--state", state, "--resume");
        AssertOneErrorLine(damaged);
        Assert.Contains($"{state}: checksum mismatch", damaged.Err);
        Assert.Equal([log, state], Directory.GetFiles(_folder).Order());
    }
}

/// <summary>The `ncf` process as a service manager sees it: signals, exit codes and what is left on disk.</summary>
public sealed class SignalTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ncf-signal-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>
    /// Starts `ncf train` for an endless run (plus <paramref name="options"/>), waits for its first epoch line, sends
    /// <paramref name="signals"/> back to back, and returns its exit code and stderr once it has stopped.
    /// </summary>
    private static (int Code, string Err) SignalMidTraining(string[] options, params int[] signals)
    {
        string ncf = typeof(Ncf.Cli.Cli).Assembly.Location;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [ncf, "train", "--epochs", "100000", "--threads", "1", .. options])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();

        // Training is under way once an epoch line is out; then the signals.
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("epoch", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        foreach (int signal in signals)
        {
            Assert.Equal(0, kill(process.Id, signal));
        }

        var rest = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            Assert.Fail($"ncf did not stop within 60 s of signal {signals[0]}");
        }

        rest.Wait();
        return (process.ExitCode, error.Result);
    }

    [LinuxFact]
    public void Out_dev_stdout_writes_the_model_alone_to_stdout_and_the_log_to_stderr()
    {
        // As `ncf train --out /dev/stdout | gzip > m.ncf.gz` would: stdout must hold the model's bytes and nothing else.
        string ncf = typeof(Ncf.Cli.Cli).Assembly.Location;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet",
            [ncf, "train", "--data", "synthetic:300x200x20", "--epochs", "1", "--threads", "1", "--json", "--out", "/dev/stdout"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        using var bytes = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(bytes);
        Assert.True(process.WaitForExit(120_000), "ncf did not finish within 120 s");
        Assert.True(process.ExitCode == 0, error.Result);

        string model = Path.Combine(_folder, "from-stdout.ncf");
        File.WriteAllBytes(model, bytes.ToArray());
        Assert.StartsWith("NCFMODEL", System.Text.Encoding.ASCII.GetString(bytes.ToArray(), 0, 8));
        using (var backend = new Ncf.Backends.Cpu.CpuBackend())
        using (var loaded = Ncf.NcfRecommender.Load(model, backend))
        {
            Assert.Equal(300, loaded.UserIds.Count);
        }

        // The JSON lines moved to stderr with the notes.
        Assert.Contains("\"epoch\":1", error.Result);
    }

    // SIGTERM (timeout, docker stop, systemd) used to kill the process outright (exit 143 too, but no message), so a
    // save or a download in progress left its temporary file behind; now it cancels through the token Ctrl-C uses,
    // whose cleanup the in-process tests cover. "ncf: cancelled" is what tells the two apart.
    [LinuxFact]
    public void Sigterm_cancels_like_ctrl_c_and_keeps_the_old_model()
    {
        string model = Path.Combine(_folder, "model.ncf");
        File.WriteAllText(model, "the previous model");

        var (code, error) = SignalMidTraining(["--out", model], 15);

        Assert.Equal(143, code);
        Assert.Equal("ncf: cancelled", error.Trim());
        Assert.Equal("the previous model", File.ReadAllText(model));
        Assert.Equal([model], Directory.GetFileSystemEntries(_folder));
    }

    // What --state is for: a run killed part-way continues from its last epoch end and ends as if never stopped.
    [LinuxFact]
    public void A_run_stopped_by_sigterm_resumes_from_its_state_to_the_model_of_a_run_that_never_stopped()
    {
        string state = Path.Combine(_folder, "run.state");
        var (code, error) = SignalMidTraining(["--state", state], 15);
        Assert.Equal(143, code);
        var note = System.Text.RegularExpressions.Regex.Match(error, $"note: {System.Text.RegularExpressions.Regex.Escape(state)} holds the training state after epoch (\\d+): the same command with --resume continues from there.");
        Assert.True(note.Success, error);
        Assert.EndsWith("ncf: cancelled", error.Trim());
        Assert.Equal([state], Directory.GetFileSystemEntries(_folder));

        int epochs = int.Parse(note.Groups[1].Value) + 1;
        string whole = Path.Combine(_folder, "whole.ncf"), resumed = Path.Combine(_folder, "resumed.ncf");
        Assert.Equal(0, Ncf.Cli.Cli.Run(["train", "--epochs", $"{epochs}", "--out", whole], TextWriter.Null, TextWriter.Null));
        var stderr = new StringWriter();
        Assert.Equal(0, Ncf.Cli.Cli.Run(["train", "--epochs", $"{epochs}", "--state", state, "--resume", "--out", resumed], TextWriter.Null, stderr));
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
    }

    // A closing terminal may deliver SIGHUP twice; unlike a second Ctrl-C or SIGTERM, that is not a demand to die now.
    [LinuxFact]
    public void A_repeated_sighup_still_ends_in_an_orderly_cancel()
    {
        var (code, error) = SignalMidTraining([], 1, 1);

        Assert.Equal(129, code);
        Assert.Equal("ncf: cancelled", error.Trim());
    }
}

/// <summary>A fact that runs on Linux only (it reads a Linux-only file or sends a POSIX signal), skipped elsewhere.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "skipped: needs Linux (/proc, POSIX signals)";
        }
    }
}
