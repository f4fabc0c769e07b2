using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.IO;
using Ncf.Models;

namespace Ncf.Core.Tests.IO;

public sealed class ModelFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ncf-model-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static NcfRecommender MakeRecommender(CpuBackend backend, ModelKind kind = ModelKind.NeuMF)
    {
        var data = new NcfDataset("tiny", 3, 4, [0, 0, 1, 2], [1, 2, 3, 0], null,
            userIds: new IdMap(["alice", "bob", "carol"]), itemIds: new IdMap(["i-a", "i-b", "i-c", "i-d"]));
        var model = new NcfModel(backend, 3, 4, new ModelOptions { Kind = kind, Factors = 4, Layers = 2 });
        model.Initialize(11);
        return new NcfRecommender(model, data);
    }

    [Theory]
    [InlineData(ModelKind.Gmf)]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.NeuMF)]
    public void Save_then_load_scores_identically_and_keeps_ids_and_known_items(ModelKind kind)
    {
        using var backend = new CpuBackend();
        using var original = MakeRecommender(backend, kind);
        string path = Path.Combine(_folder, "m.ncf");
        original.Save(path);
        using var loaded = NcfRecommender.Load(path, backend);

        int[] users = [0, 1, 2, 2, 0];
        int[] items = [0, 1, 2, 3, 3];
        var a = new float[5];
        var b = new float[5];
        original.Model.Score(users, items, a);
        loaded.Model.Score(users, items, b);
        Assert.Equal(a, b);
        Assert.Equal(kind, loaded.Model.Kind);
        Assert.Equal(original.UserIds.Ids, loaded.UserIds.Ids);
        Assert.Equal(original.ItemIds.Ids, loaded.ItemIds.Ids);
        Assert.Equal(original.KnownItems.Items, loaded.KnownItems.Items);
        Assert.Equal(original.Recommend("alice", 4), loaded.Recommend("alice", 4));
        Assert.DoesNotContain(loaded.Recommend("alice", 4), r => r.ItemId is "i-b" or "i-c");
        Assert.Single(Directory.GetFiles(_folder)); // no temporary file left behind
    }

    [Fact]
    public void The_file_is_byte_for_byte_the_documented_version_3_layout()
    {
        // Built here from the format comment on NcfModelFile, with BinaryWriter, independently of the streaming writer:
        // models written by earlier builds must stay readable and new ones readable by them.
        using var backend = new CpuBackend();
        using var original = MakeRecommender(backend);
        var recommender = new NcfRecommender(original.Model, original.UserIds, original.ItemIds, original.KnownItems, "tiny \u00e9")
        {
            DataSeed = 0x0102_0304_0506_0708UL, TestTargetsFingerprint = 0xA1B2UL, Ties = Ncf.Evaluation.TieBreaking.Optimistic,
        };
        string path = Path.Combine(_folder, "m.ncf");
        recommender.Save(path);

        using var expected = new MemoryStream();
        using (var w = new BinaryWriter(expected, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            void Text(string value)
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(value);
                w.Write(bytes.Length);
                w.Write(bytes);
            }

            w.Write("NCFMODEL"u8);
            w.Write(3u);
            w.Write(3u); // NeuMF
            w.Write(4);  // factors
            w.Write(2);  // layers
            w.Write(3);  // users
            w.Write(4);  // items
            var parameters = original.Model.Parameters.ToArray();
            w.Write(parameters.Length);
            foreach (float value in parameters)
            {
                w.Write(value);
            }

            Text("tiny \u00e9");
            w.Write(3);
            foreach (string id in new[] { "alice", "bob", "carol" })
            {
                Text(id);
            }

            w.Write(4);
            foreach (string id in new[] { "i-a", "i-b", "i-c", "i-d" })
            {
                Text(id);
            }

            // Known items of the four training pairs (0,1) (0,2) (1,3) (2,0), per user, sorted.
            w.Write(4);
            foreach (int offset in new[] { 0, 2, 3, 4 })
            {
                w.Write(offset);
            }

            foreach (int item in new[] { 1, 2, 3, 0 })
            {
                w.Write(item);
            }

            w.Write((byte)(1 | 4 | 8)); // seed, targets fingerprint, optimistic ties
            w.Write(0x0102_0304_0506_0708UL);
            w.Write(0xA1B2UL);
        }

        var body = expected.ToArray();
        Assert.Equal([.. body, .. System.Security.Cryptography.SHA256.HashData(body)], File.ReadAllBytes(path));
    }

    [Fact]
    public void The_data_seed_is_kept_and_a_version_1_file_without_it_still_loads()
    {
        using var backend = new CpuBackend();
        using var original = MakeRecommender(backend);
        string path = Path.Combine(_folder, "m.ncf");
        new NcfRecommender(original.Model, original.UserIds, original.ItemIds, original.KnownItems, "tiny") { DataSeed = 0xFEED_0000_0000_0007UL }.Save(path);
        using (var loaded = NcfRecommender.Load(path, backend))
        {
            Assert.Equal(0xFEED_0000_0000_0007UL, loaded.DataSeed);
            Assert.False(loaded.TrainedOnEverything);
        }

        original.Save(path);
        using (var loaded = NcfRecommender.Load(path, backend))
        {
            Assert.Null(loaded.DataSeed);
        }

        // Versions 1 and 2, as earlier builds wrote them: no seed section (flag byte + 8 bytes), and no targets
        // fingerprint (8 bytes), before the SHA-256.
        var v3 = File.ReadAllBytes(path);
        foreach (var (version, cut) in new[] { (1u, 17), (2u, 8) })
        {
            var body = v3[..^(32 + cut)];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), version);
            File.WriteAllBytes(path, [.. body, .. System.Security.Cryptography.SHA256.HashData(body)]);
            using var old = NcfRecommender.Load(path, backend);
            Assert.Null(old.DataSeed);
            Assert.Null(old.TestTargetsFingerprint);
            Assert.Equal(original.KnownItems.Items, old.KnownItems.Items);
            Assert.Equal(original.Recommend("alice", 4), old.Recommend("alice", 4));
        }

        // A version-2 file keeps its seed; bit 2 (the fingerprint, new in version 3) is refused there.
        new NcfRecommender(original.Model, original.UserIds, original.ItemIds, original.KnownItems, "tiny") { DataSeed = 77 }.Save(path);
        var seeded = File.ReadAllBytes(path)[..^(32 + 8)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(seeded.AsSpan(8), 2);
        File.WriteAllBytes(path, [.. seeded, .. System.Security.Cryptography.SHA256.HashData(seeded)]);
        using (var v2 = NcfRecommender.Load(path, backend))
        {
            Assert.Equal(77UL, v2.DataSeed);
        }

        seeded[^9] |= 4;
        File.WriteAllBytes(path, [.. seeded, .. System.Security.Cryptography.SHA256.HashData(seeded)]);
        Assert.Contains("invalid flags byte 5 (version 2 knows bits 0 and 1)", Assert.Throws<NcfException>(() => NcfRecommender.Load(path, backend)).Message);

        // A flag this version does not know is refused by name (the checksum being right).
        var badFlag = (byte[])v3.Clone();
        badFlag[^(32 + 17)] = 31;
        File.WriteAllBytes(path, [.. badFlag[..^32], .. System.Security.Cryptography.SHA256.HashData(badFlag.AsSpan(0, badFlag.Length - 32))]);
        Assert.Contains("invalid flags byte 31", Assert.Throws<NcfException>(() => NcfRecommender.Load(path, backend)).Message);

        // The held-out targets' fingerprint and the tie rule round-trip.
        new NcfRecommender(original.Model, original.UserIds, original.ItemIds, original.KnownItems, "tiny")
        {
            TestTargetsFingerprint = 0xFEEDUL, Ties = Ncf.Evaluation.TieBreaking.Optimistic,
        }.Save(path);
        using (var withTargets = NcfRecommender.Load(path, backend))
        {
            Assert.Equal(0xFEEDUL, withTargets.TestTargetsFingerprint);
            Assert.Equal(Ncf.Evaluation.TieBreaking.Optimistic, withTargets.Ties);
        }

        // "Trained on every interaction" is kept beside the seed.
        new NcfRecommender(original.Model, original.UserIds, original.ItemIds, original.KnownItems, "tiny") { TrainedOnEverything = true }.Save(path);
        using (var everything = NcfRecommender.Load(path, backend))
        {
            Assert.True(everything.TrainedOnEverything);
            Assert.Null(everything.DataSeed);
        }
    }

    [Fact]
    public void Truncated_altered_and_foreign_files_are_refused_with_the_path_in_the_message()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);
        string path = Path.Combine(_folder, "m.ncf");
        recommender.Save(path);
        var good = File.ReadAllBytes(path);

        void Expect(byte[] content, string fragment)
        {
            string bad = Path.Combine(_folder, "bad.ncf");
            File.WriteAllBytes(bad, content);
            var error = Assert.Throws<NcfException>(() => NcfRecommender.Load(bad, backend));
            Assert.Contains(bad, error.Message);
            Assert.Contains(fragment, error.Message);
        }

        Expect(good[..(good.Length / 2)], "checksum");
        Expect(good[..10], "truncated");
        var altered = (byte[])good.Clone();
        altered[100] ^= 0x40;
        Expect(altered, "checksum");
        Expect("user,item\n1,2\n"u8.ToArray(), "not an Ncf.Native model file");
        var future = (byte[])good.Clone();
        future[8] = 9;
        Expect(future, "version 9");
        Assert.Throws<NcfException>(() => NcfRecommender.Load(Path.Combine(_folder, "missing.ncf"), backend));
    }

    /// <summary>The file with its SHA-256 recomputed, so that forged fields get past the checksum and are parsed.</summary>
    private static byte[] Resealed(byte[] file)
    {
        var body = file[..^32];
        return [.. body, .. System.Security.Cryptography.SHA256.HashData(body)];
    }

    [Fact]
    public void Forged_headers_and_tables_behind_a_valid_checksum_are_refused_before_anything_large_is_allocated()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend, ModelKind.NeuMF);
        string path = Path.Combine(_folder, "m.ncf"), bad = Path.Combine(_folder, "forged.ncf");
        recommender.Save(path);
        var good = File.ReadAllBytes(path);
        var le = new Func<byte[], int, int>((bytes, at) => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)));

        // Header: magic (8), version, kind, factors, layers, users (offset 24), items (28), parameter count (32).
        string Refused(Action<byte[]> forge)
        {
            var forged = (byte[])good.Clone();
            forge(forged);
            File.WriteAllBytes(bad, Resealed(forged));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.Throws<NcfException>(() => NcfRecommender.Load(bad, backend));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 1 << 20, $"{allocated:N0} bytes allocated to refuse a {good.Length}-byte file: {error.Message}");
            Assert.Contains(bad, error.Message);
            return error.Message;
        }

        void Put(byte[] bytes, int at, int value) => System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), value);
        var shape = new ModelOptions { Kind = ModelKind.NeuMF, Factors = 4, Layers = 2 };
        Assert.Equal(le(good, 32), NcfModel.ParameterCount(3, 4, shape)); // the writer's count is the shape's

        // Four million users with the real parameter count: the count no longer fits the shape.
        long huge = NcfModel.ParameterCount(4_000_000, 4, shape);
        Assert.Contains($"holds {le(good, 32)} parameters but a NeuMF with these shapes (4000000 users, 4 items) has {huge}",
            Refused(f => Put(f, 24, 4_000_000)));

        // A count made to fit: the file is far too short for it.
        Assert.Contains($"the file is truncated or inconsistent (4000000 users, 4 items and {huge} parameters need more than",
            Refused(f => { Put(f, 24, 4_000_000); Put(f, 32, (int)huge); }));
        Assert.Contains("the file is truncated or inconsistent (-5 users, 4 items", Refused(f => { Put(f, 24, -5); Put(f, 32, (int)NcfModel.ParameterCount(-5, 4, shape)); }));

        // The known-items offsets (after the parameters, the name and the two ID tables) pointing past the table.
        int at = 36 + le(good, 32) * 4;
        at += 4 + le(good, at);                   // the name
        for (int table = 0; table < 2; table++)   // user IDs, then item IDs
        {
            int ids = le(good, at);
            at += 4;
            for (int i = 0; i < ids; i++)
            {
                at += 4 + le(good, at);
            }
        }

        int pairs = le(good, at);
        Assert.Equal(recommender.KnownItems.Items.Length, pairs);
        Assert.Contains("the known-items table is inconsistent", Refused(f => Put(f, at + 4 + 4, 1000))); // offsets[1]
        Assert.Contains("the known-items table is inconsistent", Refused(f => Put(f, at + 4 + 4, -1)));

        // The items themselves: alice's run is (1, 2), the first of the table after the 4 offsets.
        int firstItem = at + 4 + 4 * 4;
        Assert.Equal(1, le(good, firstItem));
        Assert.Contains("user 0's items are not sorted and distinct", Refused(f => Put(f, firstItem, 2)));
        Assert.Contains("a known item id 9 is outside the model's 4 items", Refused(f => Put(f, firstItem, 9)));
    }

    [Fact]
    public void Finite_weights_whose_scores_overflow_are_an_error_not_a_ranking()
    {
        // Every parameter 3e38 is finite (so the file loads), but the products overflow to infinity, and inf - inf
        // sums are NaN: such scores would silently drop items or print -Infinity.
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend, ModelKind.Gmf);
        var huge = new float[recommender.Model.Parameters.Layout.Length];
        for (int i = 0; i < huge.Length; i++)
        {
            huge[i] = i % 2 == 0 ? 3e38f : -3e38f;
        }

        recommender.Model.Parameters.Load(huge);
        string path = Path.Combine(_folder, "huge.ncf");
        recommender.Save(path);
        using var loaded = NcfRecommender.Load(path, backend);

        Assert.Contains("its parameters are too large for float arithmetic", Assert.Throws<NcfException>(() => loaded.Recommend("alice", 2)).Message);
        Assert.Throws<NcfException>(() => loaded.Recommend("alice", 2, ["i-c", "i-d"]));
        Assert.Throws<NcfException>(() => loaded.RecommendAll(2).ToList());
    }

    [Fact]
    public async Task A_named_pipe_or_a_device_is_written_into_not_replaced_by_a_regular_file()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // devices and FIFOs are told apart on Linux only (statx)
        }

        string fifo = Path.Combine(_folder, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // The reader's end, opened read-write so that opening does not wait for a writer (Linux).
        using (var reader = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 1))
        {
            Ncf.IO.AtomicFile.Write(fifo, "user\trank\titem\n"u8);
            var received = new byte[15];
            reader.ReadExactly(received);
            Assert.Equal("user\trank\titem\n"u8.ToArray(), received);
        }

        Assert.Equal(Ncf.IO.FileKind.NamedPipe, Ncf.IO.SpecialFile.KindOf(fifo));
        Assert.Equal([fifo], Directory.GetFileSystemEntries(_folder)); // no temporary file beside it

        // /dev/null takes the bytes and stays a device.
        Ncf.IO.AtomicFile.Write("/dev/null", new byte[1000]);
        Assert.Equal(Ncf.IO.FileKind.CharacterDevice, Ncf.IO.SpecialFile.KindOf("/dev/null"));
        Assert.Equal(Ncf.IO.FileKind.Ordinary, Ncf.IO.SpecialFile.KindOf(fifo + ".missing"));
        Assert.Equal(Ncf.IO.FileKind.Ordinary, Ncf.IO.SpecialFile.KindOf(_folder));

        // A pipe that nothing reads would make the write wait for ever: refused at once, the pipe left as it was.
        var error = Assert.Throws<NcfException>(() => Ncf.IO.AtomicFile.Write(fifo, "x"u8));
        Assert.Contains("a named pipe that nothing reads", error.Message);
        Assert.Equal(Ncf.IO.FileKind.NamedPipe, Ncf.IO.SpecialFile.KindOf(fifo));

        // A model can be read from a pipe (no length to read to), as from <(zcat m.ncf.gz).
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);
        string model = Path.Combine(_folder, "m.ncf");
        recommender.Save(model);
        var feeder = Task.Run(() => File.WriteAllBytes(fifo, File.ReadAllBytes(model)));
        using (var fromPipe = NcfRecommender.Load(fifo, backend))
        {
            Assert.Equal(recommender.Recommend("alice", 3), fromPipe.Recommend("alice", 3));
        }

        await feeder.WaitAsync(TimeSpan.FromSeconds(30));

        // A reader that reads once and stops at the end, as `cat pipe > file` does, gets the whole model. Finding out
        // whether a reader is there opens the pipe for writing, which wakes such a reader; if that opening were closed at
        // once, the reader would read the end of the stream and quit, and the real write would then wait for ever for
        // another. So the check holds the pipe until the write is done: here a check is held for 300 ms, ample time for
        // `cat` to quit if it saw an end, before the model is written (a check that closed at once fails it: the write
        // then finds nothing reading).
        Assert.True(AtomicFile.IsDeviceOrPipe(fifo));
        string copied = Path.Combine(_folder, "from-pipe.ncf");
        using var cat = System.Diagnostics.Process.Start("sh", ["-c", "exec cat \"$0\" > \"$1\"", fifo, copied]);
        IDisposable? held = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(20); held is null && DateTime.UtcNow < deadline; Thread.Sleep(10))
        {
            held = SpecialFile.HoldPipeWriter(fifo);
        }

        Assert.NotNull(held);
        using (held)
        {
            Thread.Sleep(300);
            await Task.Run(() => recommender.Save(fifo)).WaitAsync(TimeSpan.FromSeconds(30));
        }

        await cat.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(copied));
        File.Delete(copied);

        Assert.True(AtomicFile.IsDeviceOrPipe("/dev/null"));
        Assert.False(AtomicFile.IsDeviceOrPipe(model));
        Assert.False(AtomicFile.IsDeviceOrPipe(_folder));
        Assert.False(AtomicFile.IsDeviceOrPipe(model + ".missing"));
    }

    [Fact]
    public void A_device_that_never_ends_is_not_a_model_file()
    {
        if (!File.Exists("/dev/zero"))
        {
            return; // no such device on this system (Windows)
        }

        using var backend = new CpuBackend();
        var error = Assert.Throws<NcfException>(() => NcfRecommender.Load("/dev/zero", backend));
        Assert.Contains("/dev/zero: not an Ncf.Native model file", error.Message);
    }

    [Theory]
    [InlineData(ModelKind.Gmf, 1, 1)]
    [InlineData(ModelKind.Mlp, 8, 1)]
    [InlineData(ModelKind.Mlp, 4, 3)]
    [InlineData(ModelKind.NeuMF, 64, 3)]
    [InlineData(ModelKind.NeuMF, 3, 4)]
    public void ParameterCount_is_the_size_of_the_model_it_describes(ModelKind kind, int factors, int layers)
    {
        using var backend = new CpuBackend();
        var options = new ModelOptions { Kind = kind, Factors = factors, Layers = layers };
        using var model = new NcfModel(backend, 17, 5, options);
        Assert.Equal(model.Parameters.Layout.Length, NcfModel.ParameterCount(17, 5, options));
    }

    [Fact]
    public void Saving_over_an_existing_file_replaces_it_whole()
    {
        using var backend = new CpuBackend();
        using var first = MakeRecommender(backend, ModelKind.Gmf);
        using var second = MakeRecommender(backend, ModelKind.NeuMF);
        string path = Path.Combine(_folder, "m.ncf");
        first.Save(path);
        second.Save(path);
        using var loaded = NcfRecommender.Load(path, backend);
        Assert.Equal(ModelKind.NeuMF, loaded.Model.Kind);
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void Recommend_from_several_threads_at_once_gives_the_sequential_answers()
    {
        using var backend = new CpuBackend(threads: 2);
        using var recommender = MakeRecommender(backend);
        string[] users = ["alice", "bob", "carol"];
        var expected = users.Select(u => recommender.Recommend(u, 3)).ToArray();
        var actual = new IReadOnlyList<ItemRecommendation>[users.Length * 50];
        Parallel.For(0, actual.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, n => actual[n] = recommender.Recommend(users[n % users.Length], 3));
        for (int n = 0; n < actual.Length; n++)
        {
            Assert.Equal(expected[n % users.Length], actual[n]);
        }
    }

    [Fact]
    public void Held_out_items_are_known_items_so_they_are_never_recommended_back()
    {
        // Alice trained on i-a; her validation item i-b and test item i-c were held out of training, yet she has seen
        // them: a recommender built from the split must leave them out, as it leaves out i-a, also after a save.
        using var backend = new CpuBackend();
        var test = new EvaluationSet([0], [2], [0, 0], []);
        var validation = new EvaluationSet([0], [1], [0, 0], []);
        var data = new NcfDataset("split", 2, 5, [0, 1], [0, 3], test, validation,
            userIds: new IdMap(["alice", "bob"]), itemIds: new IdMap(["i-a", "i-b", "i-c", "i-d", "i-e"]));
        var model = new NcfModel(backend, 2, 5, new ModelOptions { Kind = ModelKind.Gmf, Factors = 4 });
        model.Initialize(3);
        using var recommender = new NcfRecommender(model, data);
        string path = Path.Combine(_folder, "split.ncf");
        recommender.Save(path);
        using var loaded = NcfRecommender.Load(path, backend);
        foreach (var r in new[] { recommender, loaded })
        {
            Assert.Equal(["i-d", "i-e"], r.Recommend("alice", 5).Select(x => x.ItemId).Order());
            Assert.Equal(5, r.Recommend("alice", 5, includeKnown: true).Count);
            Assert.Equal(["i-a", "i-b", "i-c", "i-e"], r.Recommend("bob", 5).Select(x => x.ItemId).Order());
        }
    }

    [Fact]
    public void Recommend_all_gives_each_users_own_recommendations_in_user_order_and_stops_when_cancelled()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);
        var all = recommender.RecommendAll(3).ToArray();
        Assert.Equal(["alice", "bob", "carol"], all.Select(u => u.UserId));
        foreach (var u in all)
        {
            Assert.Equal(recommender.Recommend(u.UserId, 3), u.Items);
        }

        var some = recommender.RecommendAll(4, ["i-a", "i-d"], includeKnown: true).ToArray();
        Assert.All(some, u => Assert.Equal(["i-a", "i-d"], u.Items.Select(r => r.ItemId).Order()));
        Assert.Throws<NcfException>(() => recommender.RecommendAll(3, ["nope"])); // before any enumeration
        using var cancel = new CancellationTokenSource();
        var lazy = recommender.RecommendAll(3, cancellationToken: cancel.Token).GetEnumerator();
        Assert.True(lazy.MoveNext());
        cancel.Cancel();
        Assert.Throws<OperationCanceledException>(() => lazy.MoveNext());
    }

    [Fact]
    public void A_write_removes_hour_old_temporaries_that_killed_writers_left_and_keeps_live_recent_and_lookalike_ones()
    {
        // Temporaries are named .NAME.PID.GUID.tmp. PIDs 2147483000 and 2147483001 cannot run (Linux caps PIDs at 2^22); ours does.
        string path = Path.Combine(_folder, "run.state");
        string dead = Path.Combine(_folder, ".run.state.2147483000.0123456789abcdef0123456789abcdef.tmp");
        string live = Path.Combine(_folder, $".run.state.{Environment.ProcessId}.0123456789abcdef0123456789abcdef.tmp");
        string other = Path.Combine(_folder, ".other.state.2147483000.0123456789abcdef0123456789abcdef.tmp");
        // A dead PID's temporary written a minute ago may be a live writer in another container sharing the folder.
        string recent = Path.Combine(_folder, ".run.state.2147483001.0123456789abcdef0123456789abcdef.tmp");
        // Names that only look like temporaries: a user's files.
        string[] lookalikes =
        [
            Path.Combine(_folder, ".run.state.2147483000.mybackup.tmp"),
            Path.Combine(_folder, ".run.state.02147483000.0123456789abcdef0123456789abcdef.tmp"),
            Path.Combine(_folder, ".run.state.2147483000..tmp"),
        ];
        foreach (string file in new[] { dead, live, other, recent }.Concat(lookalikes))
        {
            File.WriteAllText(file, "left by a writer");
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddHours(-2));
        }

        File.SetLastWriteTimeUtc(recent, DateTime.UtcNow.AddMinutes(-1));
        Ncf.IO.AtomicFile.Write(path, "state\n"u8);
        Assert.Equal("state\n", File.ReadAllText(path));
        Assert.False(File.Exists(dead));
        Assert.All(new[] { live, other, recent }.Concat(lookalikes), file => Assert.True(File.Exists(file), file));
    }

    [Fact]
    public void A_streamed_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_file()
    {
        string path = Path.Combine(_folder, "table.tsv");
        Ncf.IO.AtomicFile.Write(path, "old\n"u8);
        Assert.Throws<InvalidOperationException>(() => Ncf.IO.AtomicFile.Write(path, stream =>
        {
            stream.Write("half a ta"u8);
            throw new InvalidOperationException("the writer failed midway");
        }));
        Assert.Equal("old\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_folder));
        Ncf.IO.AtomicFile.Write(path, stream => stream.Write("new\n"u8));
        Assert.Equal("new\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void A_full_disk_is_an_io_failure_while_a_forbidden_path_is_the_requests_fault()
    {
        string path = Path.Combine(_folder, "table.tsv");
        Ncf.IO.AtomicFile.Write(path, "old\n"u8);

        // What the file system says on a full disk (ENOSPC) arrives as a plain IOException.
        var full = Assert.Throws<NcfIOException>(() => Ncf.IO.AtomicFile.Write(path, _ => throw new IOException("No space left on device")));
        Assert.Equal($"{path}: cannot write the file (No space left on device)", full.Message);
        var forbidden = Assert.Throws<NcfException>(() => Ncf.IO.AtomicFile.Write(path, _ => throw new UnauthorizedAccessException("Access denied")));
        Assert.IsNotType<NcfIOException>(forbidden);

        Assert.Equal("old\n", File.ReadAllText(path)); // both left the old file and no temporary one
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void Replacing_a_file_keeps_its_permissions_and_writes_through_a_link()
    {
        string real = Path.Combine(_folder, "real.ncf"), link = Path.Combine(_folder, "link.ncf");
        Ncf.IO.AtomicFile.Write(real, "old\n"u8);
        File.CreateSymbolicLink(link, real);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(real, UnixFileMode.UserRead | UnixFileMode.UserWrite); // a private model
        }

        Ncf.IO.AtomicFile.Write(link, "new\n"u8);

        Assert.Equal(real, new FileInfo(link).LinkTarget); // still a link, to the same file
        Assert.Equal("new\n", File.ReadAllText(real));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(real));
        }

        Assert.Equal(2, Directory.GetFileSystemEntries(_folder).Length);
        Assert.Contains("is a folder", Assert.Throws<NcfException>(() => Ncf.IO.AtomicFile.Write(_folder, "x"u8)).Message);
        Assert.Contains("not a usable file path", Assert.Throws<NcfException>(() => Ncf.IO.AtomicFile.Write("", "x"u8)).Message);
    }

    [Fact]
    public void A_model_whose_parameters_are_not_finite_is_not_saved()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);
        var values = recommender.Model.Parameters.ToArray();
        values[values.Length / 2] = float.NaN;
        recommender.Model.Parameters.Load(values);
        string path = Path.Combine(_folder, "diverged.ncf");

        var error = Assert.Throws<NcfException>(() => recommender.Save(path));

        Assert.Contains("not all finite numbers (training diverged)", error.Message);
        Assert.False(File.Exists(path));
        Assert.True(Ncf.IO.NcfModelFile.AllFinite([1f, -0f, float.MaxValue]));
        Assert.False(Ncf.IO.NcfModelFile.AllFinite([1f, float.PositiveInfinity]));
    }

    [Fact]
    public void A_candidate_named_twice_is_one_candidate()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);

        var top = recommender.Recommend("bob", 5, ["i-a", "i-d", "i-a", "i-d"], includeKnown: true);

        Assert.Equal(["i-a", "i-d"], top.Select(r => r.ItemId).Order());
    }

    [Fact]
    public void Unknown_users_and_items_are_clear_errors()
    {
        using var backend = new CpuBackend();
        using var recommender = MakeRecommender(backend);
        Assert.Contains("Unknown user 'zed'", Assert.Throws<NcfException>(() => recommender.Recommend("zed")).Message);
        Assert.Contains("Unknown item 'nope'", Assert.Throws<NcfException>(() => recommender.Recommend("bob", 2, ["nope"])).Message);
        Assert.Equal(["i-d", "i-a"], recommender.Recommend("bob", 2, ["i-a", "i-d"], includeKnown: true).Select(r => r.ItemId).Order().Reverse());
    }
}
