using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class NcfDataDownloaderTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false });

    public void Dispose()
    {
        _client.Dispose();
        _temp.Dispose();
    }

    // A GroupLens-shaped zip: one top folder holding the ratings file (and a README).
    private static byte[] MakeZip(string folder, string fileName, string content, int padding = 0)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var writer = new StreamWriter(zip.CreateEntry($"{folder}/{fileName}").Open()))
            {
                writer.Write(content);
            }

            using (var writer = new StreamWriter(zip.CreateEntry($"{folder}/README.txt", CompressionLevel.NoCompression).Open()))
            {
                // Incompressible padding makes the archive span many reads (for the cancellation test).
                var random = new byte[padding];
                var rng = new Ncf.Randomness.Rng(1);
                for (int n = 0; n < random.Length; n++)
                {
                    random[n] = (byte)rng.NextUInt64();
                }

                writer.Write(Convert.ToBase64String(random));
            }
        }

        return memory.ToArray();
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Md5File(string name, byte[] bytes) => $"MD5 ({name}.zip) = {Convert.ToHexStringLower(MD5.HashData(bytes))}\n";

    private string[] LeftInTarget() => Directory.Exists(Target) ? Directory.GetFileSystemEntries(Target) : [];

    private string Target => Path.Combine(_temp.Path, "target");

    [Fact]
    public async Task Download_VerifiesUnzipsAndLoads()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,5\n1,20,3.0,6\n2,10,5.0,7\n2,30,1.0,8\n");
        await using var server = new TinyHttpServer(new()
        {
            ["ml-latest-small.zip"] = zip,
            ["ml-latest-small.zip.md5"] = Encoding.ASCII.GetBytes(Md5File("ml-latest-small", zip)),
        });
        var reported = new List<long>();
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip).ToUpperInvariant(), HttpClient = _client };

        string folder = await NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options, new InlineProgress<long>(reported.Add));

        Assert.Equal(Path.Combine(Target, "ml-latest-small"), folder);
        Assert.Equal([folder], LeftInTarget());
        Assert.True(File.Exists(Path.Combine(folder, "README.txt")));
        Assert.Equal(zip.Length, reported[^1]);
        Assert.Equal(2, server.Requests); // the zip and its .md5

        var data = NcfDataLoader.Load(folder, new DataLoadOptions { TestNegatives = 1 });
        Assert.Equal(["1", "2"], data.UserIds.Ids);

        // A second download into the same place needs Overwrite.
        await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options));
        string again = await NcfDataDownloader.DownloadAsync("ml-latest-small", Target, new DownloadOptions
        {
            BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, Overwrite = true,
        });
        Assert.Equal([again], LeftInTarget());
    }

    [Fact]
    public async Task Overwrite_ReplacesTheOldCopyOnlyOnceTheNewOneIsVerified()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId\n1,2\n2,2\n");
        await using var server = new TinyHttpServer(new() { ["ml-latest-small.zip"] = zip });
        string old = Path.Combine(Target, "ml-latest-small", "ratings.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(old)!);
        File.WriteAllText(old, "the user's own copy\n");

        // A failed overwrite (bad checksum) leaves the old copy exactly as it was, and nothing else.
        var bad = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = new string('0', 64), HttpClient = _client, Overwrite = true };
        await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-latest-small", Target, bad));
        Assert.Equal("the user's own copy\n", File.ReadAllText(old));
        Assert.Equal([Path.Combine(Target, "ml-latest-small")], LeftInTarget());

        // A verified one replaces it, with no hidden copy left beside it.
        var good = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, Overwrite = true };
        await NcfDataDownloader.DownloadAsync("ml-latest-small", Target, good);
        Assert.Equal("userId,movieId\n1,2\n2,2\n", File.ReadAllText(old));
        Assert.Equal([Path.Combine(Target, "ml-latest-small")], LeftInTarget());

        // A plain file where the folder belongs is replaced too.
        Directory.Delete(Path.Combine(Target, "ml-latest-small"), recursive: true);
        File.WriteAllText(Path.Combine(Target, "ml-latest-small"), "not a folder");
        await NcfDataDownloader.DownloadAsync("ml-latest-small", Target, good);
        Assert.True(File.Exists(old));
        Assert.Equal([Path.Combine(Target, "ml-latest-small")], LeftInTarget());
    }

    [Fact]
    public async Task Overwrite_PutsTheOldCopyBackWhenTheNewOneCannotBeMovedIntoPlace()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId\n1,2\n2,2\n");
        await using var server = new TinyHttpServer(new() { ["ml-latest-small.zip"] = zip });
        string folder = Path.Combine(Target, "ml-latest-small");
        string old = Path.Combine(folder, "ratings.csv");
        Directory.CreateDirectory(folder);
        File.WriteAllText(old, "the user's own copy\n");

        // The unpacked folder vanishes before the move (as if another process took it): the move fails with the old
        // copy already aside, and it is put back.
        var options = new DownloadOptions
        {
            BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, Overwrite = true,
            BeforeMoveIntoPlace = (unpacked, _) => Directory.Delete(unpacked, recursive: true),
        };
        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options));
        Assert.Contains("failed", error.Message);
        Assert.DoesNotContain("intact at", error.Message);
        Assert.Equal("the user's own copy\n", File.ReadAllText(old));
        Assert.Equal([folder], LeftInTarget());
    }

    [Fact]
    public async Task Overwrite_NamesWhereTheOldCopyIsWhenItCannotBePutBack()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId\n1,2\n2,2\n");
        await using var server = new TinyHttpServer(new() { ["ml-latest-small.zip"] = zip });
        string folder = Path.Combine(Target, "ml-latest-small");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "ratings.csv"), "the user's own copy\n");

        // Something takes the destination's name between the two moves: neither the new copy nor the old fits there.
        var options = new DownloadOptions
        {
            BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, Overwrite = true,
            BeforeMoveIntoPlace = (_, destination) => File.WriteAllText(destination, "squatter"),
        };
        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options));

        string aside = Assert.Single(LeftInTarget(), e => e != folder);
        Assert.Matches(@"^\.ml-latest-small\.[0-9a-f]{12}\.old$", Path.GetFileName(aside));
        Assert.Contains($"it is intact at {aside}; rename it to ml-latest-small", error.Message);
        Assert.Equal("the user's own copy\n", File.ReadAllText(Path.Combine(aside, "ratings.csv")));
        Assert.Equal("squatter", File.ReadAllText(folder));
        Assert.Equal(2, LeftInTarget().Length); // the unpacked copy and the download are gone
    }

    [Fact]
    public async Task Sha256Mismatch_LeavesNothingBehind()
    {
        byte[] zip = MakeZip("ml-1m", "ratings.dat", "1::2::3::4\n");
        await using var server = new TinyHttpServer(new() { ["ml-1m.zip"] = zip });
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = new string('0', 64), HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", Target, options));

        Assert.Contains("SHA-256 mismatch", error.Message);
        Assert.Contains(Sha256(zip), error.Message);
        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public async Task PinnedMd5Mismatch_LeavesNothingBehind()
    {
        // The SHA-256 given matches this (fake) file, but the pinned MD5 of the real ml-100k.zip does not.
        byte[] zip = MakeZip("ml-100k", "u.data", "1\t2\t3\t4\n");
        await using var server = new TinyHttpServer(new() { ["ml-100k.zip"] = zip });
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-100k", Target, options));

        Assert.Contains("MD5 mismatch", error.Message);
        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public async Task PublishedMd5Mismatch_IsAnError()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n");
        await using var server = new TinyHttpServer(new()
        {
            ["ml-latest-small.zip"] = zip,
            ["ml-latest-small.zip.md5"] = Encoding.ASCII.GetBytes($"MD5 (ml-latest-small.zip) = {new string('a', 32)}\n"),
        });
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options));

        Assert.Contains(".md5 says aaaa", error.Message);
        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public async Task PinnedSha256_IsCheckedWhenNoneIsGiven()
    {
        // No --sha256: the project's stored SHA-256 of the real ml-1m.zip applies, and this fake archive fails it.
        byte[] zip = MakeZip("ml-1m", "ratings.dat", "1::2::3::4\n");
        await using var server = new TinyHttpServer(new() { ["ml-1m.zip"] = zip });
        var options = new DownloadOptions { BaseUri = server.BaseUri, HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", Target, options));

        Assert.Contains("SHA-256 mismatch", error.Message);
        Assert.Contains(NcfDataDownloader.Find("ml-1m").Sha256!, error.Message);
        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public void Every_known_archive_has_a_pinned_sha256()
    {
        Assert.All(NcfDataDownloader.Archives, a => Assert.Matches("^[0-9a-f]{64}$", a.Sha256!));
    }

    [Fact]
    public async Task Cancellation_LeavesNothingBehind()
    {
        byte[] zip = MakeZip("ml-20m", "ratings.csv", "userId,movieId,rating,timestamp\n", padding: 2_000_000);
        await using var server = new TinyHttpServer(new() { ["ml-20m.zip"] = zip });
        using var cancel = new CancellationTokenSource();
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            NcfDataDownloader.DownloadAsync("ml-20m", Target, options, new InlineProgress<long>(_ => cancel.Cancel()), cancel.Token));

        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public async Task AServerThatStallsMidFile_FailsAfterTheStallTimeout_AndLeavesNoFolderBehind()
    {
        // HttpClient.Timeout covers only the wait for headers: without the stall timer this download would hang.
        byte[] zip = MakeZip("ml-1m", "ratings.dat", "1::2::3::4\n", padding: 100_000);
        await using var server = new TinyHttpServer(new() { ["ml-1m.zip"] = zip }) { StallHalfWay = ["ml-1m.zip"] };
        var options = new DownloadOptions
        {
            BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, StallTimeout = TimeSpan.FromSeconds(1),
        };

        string nested = Path.Combine(Target, "a", "b");
        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", nested, options));

        Assert.Contains("ml-1m.zip failed: the server sent nothing for 1 s", error.Message);
        Assert.False(Directory.Exists(Target)); // the download created target/a/b, and a failed one leaves none of them
    }

    [Fact]
    public async Task AServerThatStallsOnTheOptionalMd5_StillGivesTheVerifiedDownload()
    {
        byte[] zip = MakeZip("ml-latest-small", "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n");
        byte[] md5 = Encoding.ASCII.GetBytes(Md5File("ml-latest-small", zip));
        await using var server = new TinyHttpServer(new() { ["ml-latest-small.zip"] = zip, ["ml-latest-small.zip.md5"] = md5 })
        {
            StallHalfWay = ["ml-latest-small.zip.md5"],
        };
        // The zip must arrive within the stall timeout while the MD5 stalls past it: 1 s was too short for the zip on a
        // loaded 2-core CI machine (the loopback server's thread was not scheduled for a second), so 5 s.
        var options = new DownloadOptions
        {
            BaseUri = server.BaseUri, ExpectedSha256 = Sha256(zip), HttpClient = _client, StallTimeout = TimeSpan.FromSeconds(5),
        };

        string folder = await NcfDataDownloader.DownloadAsync("ml-latest-small", Target, options);

        Assert.True(File.Exists(Path.Combine(folder, "ratings.csv")));
    }

    [Fact]
    public async Task ATargetThatIsAFile_IsRefusedBeforeAnyRequest()
    {
        string file = Path.Combine(_temp.Path, "keep.txt");
        File.WriteAllText(file, "mine");
        await using var server = new TinyHttpServer([]);
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = new string('1', 64), HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", file, options));

        Assert.Contains("keep.txt: is a file", error.Message);
        Assert.Equal(0, server.Requests);
        Assert.Equal("mine", File.ReadAllText(file));
    }

    [Fact]
    public async Task Http404_NamesTheUrl()
    {
        await using var server = new TinyHttpServer([]);
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = new string('1', 64), HttpClient = _client };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", Target, options));

        Assert.Contains("404", error.Message);
        Assert.Contains("ml-1m.zip", error.Message);
        Assert.False(Directory.Exists(Target));
    }

    [Fact]
    public async Task NotAZip_IsAnError()
    {
        byte[] junk = Encoding.ASCII.GetBytes("<html>maintenance</html>");
        await using var server = new TinyHttpServer(new() { ["ml-1m.zip"] = junk });
        var options = new DownloadOptions { BaseUri = server.BaseUri, ExpectedSha256 = Sha256(junk), HttpClient = _client, VerifyMd5 = false };

        var error = await Assert.ThrowsAsync<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", Target, options));

        Assert.Contains("not a valid zip", error.Message);
        Assert.Empty(LeftInTarget());
    }

    [Fact]
    public void Names_AreKnownAndAliased()
    {
        Assert.Equal(["ml-100k", "ml-1m", "ml-latest-small", "ml-20m"], NcfDataDownloader.KnownNames);
        Assert.Equal("ml-1m", NcfDataDownloader.Find("1M").Name);
        Assert.Equal("ml-100k", NcfDataDownloader.Find("ml-100k.zip").Name);
        var error = Assert.Throws<NcfException>(() => NcfDataDownloader.Find("netflix"));
        Assert.Contains("ml-latest-small", error.Message);
        Assert.Throws<NcfException>(() => NcfDataDownloader.DownloadAsync("ml-1m", Target, new DownloadOptions { ExpectedSha256 = "xyz" }).GetAwaiter().GetResult());
    }
}
