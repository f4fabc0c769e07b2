using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class MovieLensReaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void UData_ReadsRowsInFileOrderWithOriginalIds()
    {
        string file = _temp.Write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n");
        var log = MovieLensReader.ReadUData(file);

        Assert.Equal(3, log.Count);
        Assert.Equal(["196", "186"], log.UserIds.Ids);
        Assert.Equal(["242", "302", "377"], log.ItemIds.Ids);
        Assert.Equal([0, 1, 0], log.Users);
        Assert.Equal([0, 1, 2], log.Items);
        Assert.Equal([3f, 3f, 1f], log.Ratings);
        Assert.Equal([881250949L, 891717742L, 878887116L], log.Timestamps);
        Assert.True(log.HasTimestamps);
    }

    [Fact]
    public void RatingsDat_HandlesCrlfBomNoFinalNewlineBlankLinesAndExtraColumns()
    {
        byte[] bom = [0xEF, 0xBB, 0xBF];
        byte[] body = "1::1193::5::978300760\r\n\r\n1::661::3::978302109::extra\r\n2::1193::4::978298413"u8.ToArray();
        string file = _temp.WriteBytes("ratings.dat", [.. bom, .. body]);
        var log = MovieLensReader.ReadRatingsDat(file);

        Assert.Equal(3, log.Count);
        Assert.Equal(["1", "2"], log.UserIds.Ids);
        Assert.Equal(["1193", "661"], log.ItemIds.Ids);
        Assert.Equal(978298413L, log.Timestamps[2]);
    }

    [Fact]
    public void RatingsCsv_SkipsHeaderAndParsesHalfStars()
    {
        string file = _temp.Write("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n2,1,0.5,964982224\n");
        var log = MovieLensReader.ReadRatingsCsv(file);

        Assert.Equal(3, log.Count);
        Assert.Equal([4f, 3.5f, 0.5f], log.Ratings);
        Assert.Equal(2, log.UserCount);
    }

    [Fact]
    public void MalformedLine_NamesFileLineAndExpectation()
    {
        string file = _temp.Write("u.data", "1\t2\t3\t4\n\n5\t6\n");
        var error = Assert.Throws<DataFormatException>(() => MovieLensReader.ReadUData(file));

        Assert.Equal(3, error.Line);
        Assert.Contains("u.data:3:", error.Message);
        Assert.Contains("expected 4 tab-separated fields user, item, rating, timestamp; found 2", error.Message);
    }

    [Fact]
    public void NonNumericId_AfterTheFirstLine_IsAnError()
    {
        string file = _temp.Write("ratings.dat", "1::2::3::4\nx::2::3::4\n");
        var error = Assert.Throws<DataFormatException>(() => MovieLensReader.ReadRatingsDat(file));

        Assert.Equal(2, error.Line);
        Assert.Contains("user ID 'x' is not an integer", error.Message);
    }

    [Fact]
    public void BadTimestamp_IsReportedWithItsValue()
    {
        string file = _temp.Write("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.0,soon\n");
        var error = Assert.Throws<DataFormatException>(() => MovieLensReader.ReadRatingsCsv(file));

        Assert.Equal(2, error.Line);
        Assert.Contains("timestamp 'soon' is not an integer", error.Message);

        // Nanosecond times fit; a number past long's range is named as such, not as "not an integer".
        string wide = _temp.Write("wide.csv", "userId,movieId,rating,timestamp\n1,2,3.0,1700000000000000001\n1,3,3.0,99999999999999999999\n");
        error = Assert.Throws<DataFormatException>(() => MovieLensReader.ReadRatingsCsv(wide));
        Assert.Equal(3, error.Line);
        Assert.Contains("timestamp '99999999999999999999' is an integer beyond the 64-bit range", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\r\n  \n")]
    [InlineData("userId,movieId,rating,timestamp\n")]
    public void EmptyFile_IsAClearError(string text)
    {
        string file = _temp.Write("ratings.csv", text);
        var error = Assert.Throws<DataFormatException>(() => MovieLensReader.ReadRatingsCsv(file));

        Assert.Contains("no interactions found", error.Message);
        Assert.Contains("ratings.csv", error.Message);
    }

    [Fact]
    public void MissingFile_IsAnNcfExceptionNamingThePath()
    {
        string file = Path.Combine(_temp.Path, "nope", "u.data");
        var error = Assert.Throws<NcfException>(() => MovieLensReader.ReadUData(file));

        Assert.Contains(file, error.Message);
    }

    [Fact]
    public void LongFile_CrossesBufferBoundariesWithoutLosingRows()
    {
        // More than one 1 MiB read buffer, so lines straddle refills.
        var text = new System.Text.StringBuilder();
        for (int n = 0; n < 60_000; n++)
        {
            text.Append(n % 997).Append("::").Append(n % 1231).Append("::5::").Append(1_000_000 + n).Append('\n');
        }

        var log = MovieLensReader.ReadRatingsDat(_temp.Write("ratings.dat", text.ToString()));

        Assert.Equal(60_000, log.Count);
        Assert.Equal(1_000_000 + 59_999, log.Timestamps[^1]);
        Assert.Equal("179", log.UserIds[log.Users[59_999]]);
        Assert.Equal(997, log.UserCount);
    }
}
