using System.IO.Compression;
using System.Text;
using Ncf.Data;

namespace Ncf.Core.Tests.Data;

/// <summary>
/// Files as users have them besides plain text: gzip (read on the fly, whatever the name, and a cut-off download
/// refused rather than half read), and things that are not logs at all (a zip archive, a binary file).
/// </summary>
public sealed class CompressedAndBinaryInputTests : IDisposable
{
    private const string RatingsDat = "10::100::5::1\n10::200::4::2\n20::100::3::5\n20::300::3::4\n";

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void GzippedFile_ReadsAsThePlainOne_AndItsNameIsMatchedWithoutGz()
    {
        string plain = _temp.Write("plain/ratings.dat", RatingsDat);
        string zipped = _temp.WriteBytes("zipped/ratings.dat.gz", Gzip(RatingsDat));

        Assert.Equal((zipped, DatasetFormat.MovieLens1M), NcfDataLoader.Resolve(zipped));
        Assert.Equal((zipped, DatasetFormat.MovieLens1M), NcfDataLoader.Resolve(Path.GetDirectoryName(zipped)!));
        var expected = NcfDataLoader.LoadLog(plain);
        var actual = NcfDataLoader.LoadLog(zipped);

        Assert.Equal(expected.UserIds.Ids, actual.UserIds.Ids);
        Assert.Equal(expected.ItemIds.Ids, actual.ItemIds.Ids);
        Assert.Equal(expected.Users, actual.Users);
        Assert.Equal(expected.Items, actual.Items);
        Assert.Equal(expected.Timestamps, actual.Timestamps);
    }

    [Fact]
    public void NcfFiles_MayBeGzipped()
    {
        const string Train = "0\t0\t1\t1\n1\t1\t1\t1\n1\t2\t1\t1\n";
        const string Negatives = "(0,1)\t2\n(1,0)\t2\n";
        _temp.Write("plain/toy.train.rating", Train);
        _temp.Write("plain/toy.test.negative", Negatives);
        _temp.WriteBytes("zipped/toy.train.rating.gz", Gzip(Train));
        _temp.WriteBytes("zipped/toy.test.negative.gz", Gzip(Negatives));
        string folder = Path.Combine(_temp.Path, "zipped"), prefix = Path.Combine(folder, "toy");

        Assert.Equal((prefix, DatasetFormat.Ncf), NcfDataLoader.Resolve(folder));
        Assert.Equal((prefix, DatasetFormat.Ncf), NcfDataLoader.Resolve(prefix));
        Assert.Equal((prefix, DatasetFormat.Ncf), NcfDataLoader.Resolve(prefix + ".train.rating.gz"));
        var expected = NcfDataLoader.Load(Path.Combine(_temp.Path, "plain", "toy"));
        var actual = NcfDataLoader.Load(prefix);

        Assert.Equal(expected.TrainCount, actual.TrainCount);
        Assert.Equal(expected.Test!.TargetItems, actual.Test!.TargetItems);
        Assert.Equal(expected.Test.Negatives, actual.Test.Negatives);
    }

    [Fact]
    public void GzipIsRecognisedByItsBytes_NotItsName()
    {
        string file = _temp.WriteBytes("events.csv", Gzip("user,item\n\"Smith, J.\",b1\nDoe,b2\n"));
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["Smith, J.", "Doe"], log.UserIds.Ids);
    }

    [Fact]
    public void LargeGzippedLog_ReadsEveryRow()
    {
        // Several decompression buffers' worth, so rows cross the reader's buffer refills.
        var text = new StringBuilder();
        for (int row = 0; row < 60_000; row++)
        {
            text.Append("user-").Append(row % 997).Append(",item-").Append(row % 1009).Append(",1,").Append(row).Append('\n');
        }

        string file = _temp.WriteBytes("big.csv.gz", Gzip(text.ToString()));
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(60_000, log.Count);
        Assert.Equal(997, log.UserIds.Count);
        Assert.Equal(59_999L, log.Timestamps[^1]);
    }

    [Fact]
    public void TruncatedGzip_IsRefused_NotHalfRead()
    {
        // A download cut short: .NET's decompressor ends quietly, so the reader checks the gzip trailer's length.
        var text = new StringBuilder();
        for (int row = 0; row < 20_000; row++)
        {
            text.Append(row % 300).Append("::").Append(row % 700).Append("::4::").Append(row).Append('\n');
        }

        byte[] whole = Gzip(text.ToString());
        string file = _temp.WriteBytes("ratings.dat.gz", whole[..(whole.Length * 2 / 3)]);
        var error = Assert.Throws<DataFormatException>(() => NcfDataLoader.LoadLog(file));

        Assert.Equal(0, error.Line);
        Assert.Contains("ratings.dat.gz: the gzip data ends early", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void ConcatenatedGzipMembers_AreRefusedWithAdvice_WithoutStrictValidation()
    {
        // This test host leaves System.IO.Compression.UseStrictValidation off (the CLI's tests turn it on and read
        // such a file in full), so only the last member's trailer can be checked.
        Assert.False(AppContext.TryGetSwitch("System.IO.Compression.UseStrictValidation", out bool strict) && strict);
        string file = _temp.WriteBytes("log.csv.gz", [.. Gzip("a,x\nb,y\n"), .. Gzip("c,z\n")]);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("several concatenated gzip members", error.Message);
        Assert.Contains("gunzip", error.Message);
    }

    [Fact]
    public void CorruptGzip_IsAClearError()
    {
        string file = _temp.WriteBytes("log.csv", [0x1F, 0x8B, .. "not deflate data at all"u8]);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("log.csv: the gzip data is corrupt", error.Message);
    }

    [Fact]
    public void ZipArchive_IsRefusedWithWhatToDo()
    {
        using var archive = new MemoryStream();
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = new StreamWriter(zip.CreateEntry("ml-toy/ratings.dat").Open());
            entry.Write(RatingsDat);
        }

        string file = _temp.WriteBytes("ml-toy.zip", archive.ToArray());
        var error = Assert.Throws<DataFormatException>(() => NcfDataLoader.LoadLog(file));

        Assert.Contains("ml-toy.zip: is a zip archive; unpack it", error.Message);
    }

    [Fact]
    public void BinaryFile_IsRefused_NotReadAsAnEmptyLog()
    {
        string file = _temp.WriteBytes("model.bin", [(byte)'N', (byte)'C', (byte)'F', 0, 1, 2, (byte)',', 3, (byte)'\n']);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("model.bin: is not a text file (byte 3 is NUL)", error.Message);
    }

    [Fact]
    public void Utf16WithoutByteOrderMark_GetsTheEncodingHint()
    {
        string file = _temp.WriteBytes("log.csv", Encoding.Unicode.GetBytes("user,item\nu1,i1\n"));
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("UTF-16 without a byte-order mark", error.Message);
    }

    [Fact]
    public void Utf32_IsNamedAsSuch()
    {
        string file = _temp.WriteBytes("log.csv", [.. Encoding.UTF32.GetPreamble(), .. Encoding.UTF32.GetBytes("user,item\nu1,i1\n")]);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("the file is UTF-32", error.Message);
    }

    [Theory]
    // CRLF first: '\n' ends lines, every '\r' before it is dropped, and a lone '\r' inside a line stays.
    [InlineData("first line\r\nsecond\rstill second\n\r\nfourth is longer than the buffer\r\r\nlast",
        new[] { "first line", "second\rstill second", "", "fourth is longer than the buffer", "last" })]
    // CR CR LF first: the same.
    [InlineData("first line\r\r\nsecond\r\r\n", new[] { "first line", "second" })]
    // A lone CR first (old Mac): "\r", "\r\n" and "\n" all end lines.
    [InlineData("first line\rsecond\r\nthird\nfourth is longer than the buffer\r\rlast\r",
        new[] { "first line", "second", "third", "fourth is longer than the buffer", "", "last" })]
    public void LineEnds_AreDecidedByTheFirst_WhereverTheBufferBreaks(string text, string[] expected)
    {
        string file = _temp.Write("ends.txt", text);
        for (int size = 16; size <= text.Length + 1; size++)
        {
            using var reader = new Utf8LineReader(file, size);
            var lines = new List<string>();
            while (reader.TryReadLine(out var line))
            {
                lines.Add(Encoding.UTF8.GetString(line));
            }

            Assert.Equal(expected, lines);
            Assert.Equal(expected.Length, reader.LineNumber);
        }
    }

    [Fact]
    public void AGzippedGiantLine_IsRefusedAt64MB_NotReadIntoGigabytes()
    {
        // A fuzzer's 1 MB gzip of a 1 GB ID took 6 GB of memory before its error; lines stop at 64 MB now.
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write("user,item\nu1,"u8);
            var chunk = new byte[1 << 20];
            chunk.AsSpan().Fill((byte)'a');
            for (int n = 0; n < 65; n++)
            {
                gzip.Write(chunk);
            }
        }

        string file = _temp.WriteBytes("bomb.csv.gz", output.ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<DataFormatException>(() => NcfDataLoader.LoadLog(file));

        Assert.Equal(2, error.Line);
        Assert.Contains("a line longer than 64 MB", error.Message);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 256L << 20);
    }

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }
}
