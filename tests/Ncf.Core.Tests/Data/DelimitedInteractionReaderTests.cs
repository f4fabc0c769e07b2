using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class DelimitedInteractionReaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(",")]
    [InlineData("\t")]
    [InlineData(";")]
    [InlineData("::")]
    public void DetectsDelimiter_AndKeepsStringIds(string sep)
    {
        string file = _temp.Write("log.txt", $"alice{sep}book-1{sep}5{sep}100\nbob{sep}book-2{sep}3{sep}200\nalice{sep}book-2{sep}4{sep}300\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(3, log.Count);
        Assert.Equal(["alice", "bob"], log.UserIds.Ids);
        Assert.Equal(["book-1", "book-2"], log.ItemIds.Ids);
        Assert.Equal([0, 1, 0], log.Users);
        Assert.Equal([0, 1, 1], log.Items);
        Assert.Equal([100L, 200L, 300L], log.Timestamps);
    }

    [Fact]
    public void TwoColumns_HaveNoRatingOrTimestamp()
    {
        string file = _temp.Write("pairs.csv", "u1,i1\nu2,i1\r\nu1,i2");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(3, log.Count);
        Assert.False(log.HasTimestamps);
        Assert.False(log.HasRatings);
        Assert.Equal([1f, 1f, 1f], log.Ratings);
    }

    [Fact]
    public void Header_MapsColumnsByNameInAnyOrder()
    {
        string file = _temp.Write("log.csv", "timestamp,Item_ID,extra,User Id\n10,\"i9\",x,\"u7\"\n20,i8,y,u7\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["u7"], log.UserIds.Ids);
        Assert.Equal(["i9", "i8"], log.ItemIds.Ids);
        Assert.Equal([10L, 20L], log.Timestamps);
        Assert.False(log.HasRatings);
    }

    [Fact]
    public void HeaderCanBeForced_AndIsoTimestampsAreParsed()
    {
        string file = _temp.Write("log.tsv", "who\twhat\thow\twhen\nu\ti\t1\t2020-01-02T03:04:05Z\n");
        var withHeader = DelimitedInteractionReader.Read(file, hasHeader: true);
        Assert.Equal(1, withHeader.Count);
        Assert.Equal(new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds(), withHeader.Timestamps[0]);

        // Forced off, the header line is data, and its rating "how" is not a number.
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file, hasHeader: false));
        Assert.Equal(1, error.Line);
        Assert.Contains("rating 'how'", error.Message);
    }

    [Fact]
    public void NumericLookingIdsAreKeptVerbatim()
    {
        string file = _temp.Write("log.csv", "01,7\n1,7\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["01", "1"], log.UserIds.Ids);
    }

    [Fact]
    public void ShortLine_NamesFileLineAndColumns()
    {
        string file = _temp.Write("events.csv", "user,item,rating\na,b,1\n\nc\n");
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("events.csv:4:", error.Message);
        Assert.Contains("expected 3 comma-separated fields user, item, rating; found 1", error.Message);
    }

    [Fact]
    public void QuotedFields_MayHoldTheDelimiterAndDoubledQuotes()
    {
        // As Excel and pandas write CSV: quotes only where needed, "" for a quote; here with a BOM, CRLF and no
        // final newline too. An unquoted "alice" and a quoted one are the same ID.
        string text = "\uFEFFuser,item,rating,timestamp\r\n\"alice\",\"the \"\"best\"\" item\",5,10\r\n"
            + "\"bob, jr\" , x ,4,11\r\nalice,x,3,12\r\n\"\"\"q\"\"\",\"\"\"\",1,13";
        string file = _temp.Write("quoted.csv", text);
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["alice", "bob, jr", "\"q\""], log.UserIds.Ids);
        Assert.Equal(["the \"best\" item", "x", "\""], log.ItemIds.Ids);
        Assert.Equal([0, 1, 0, 2], log.Users);
        Assert.Equal([0, 1, 1, 2], log.Items);
        Assert.Equal([5f, 4f, 3f, 1f], log.Ratings);
        Assert.Equal([10L, 11L, 12L, 13L], log.Timestamps);
    }

    [Theory]
    [InlineData("\"Smith; J.\",book-1\nDoe,book-2\n", "Smith; J.", "book-1")] // ';' is preferred to ',' but only quoted here
    [InlineData("\"a\tb\",book-1\nDoe,book-2\n", "a\tb", "book-1")] // a tab, preferred to both, only quoted
    [InlineData("5\" screen\t\"Smith, J.\"\nDoe\tbook-2\n", "5\" screen", "Smith, J.")] // a stray quote first
    public void QuotedDelimiter_DoesNotDecideTheFilesDelimiter(string text, string firstUser, string firstItem)
    {
        string file = _temp.Write("names.txt", text);
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal([firstUser, "Doe"], log.UserIds.Ids);
        Assert.Equal([firstItem, "book-2"], log.ItemIds.Ids);
    }

    [Fact]
    public void TabSeparated_BrokenQuotingIsReadLiterally()
    {
        // TSV exports (IMDb, MySQL, Postgres COPY) do not quote; a field that starts with a quote is still a name.
        string file = _temp.Write("artists.tsv", "u1\t\"Weird Al\" Yankovic\t5\nu2\t\"12 inch\t4\nu3\t\"Tab\tQuoted\"\t3\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["\"Weird Al\" Yankovic", "\"12 inch", "Tab\tQuoted"], log.ItemIds.Ids);
        Assert.Equal([5f, 4f, 3f], log.Ratings);
    }

    [Fact]
    public void DoubleColonFiles_AreNotReadAsQuoted()
    {
        string file = _temp.Write("log.dat", "\"a\"\"b\"::x,y::1::2\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["a\"\"b"], log.UserIds.Ids);
        Assert.Equal(["x,y"], log.ItemIds.Ids);
    }

    [Fact]
    public void QuoteInsideAnUnquotedField_IsPartOfTheId()
    {
        string file = _temp.Write("tv.csv", "5\" screen,tv-1\n27\" monitor,tv-2\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["5\" screen", "27\" monitor"], log.UserIds.Ids);
        Assert.Equal(["tv-1", "tv-2"], log.ItemIds.Ids);
    }

    [Theory]
    [InlineData("a,b\n\"c,d\n", 2, "field 1 opens a quote that is not closed on this line")]
    [InlineData("a,b\nc,\"d\"x\n", 2, "field 2: expected a delimiter after its closing quote, found 'x'")]
    public void BadQuoting_NamesLineAndField(string text, int line, string expected)
    {
        string file = _temp.Write("bad.csv", text);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(line, error.Line);
        Assert.Contains($"bad.csv:{line}:", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void NoDelimiter_IsAClearError()
    {
        string file = _temp.Write("one.txt", "justoneword\n");
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(1, error.Line);
        Assert.Contains("no delimiter", error.Message);
    }

    [Fact]
    public void Utf16File_IsRejectedWithAHint()
    {
        string file = _temp.WriteBytes("log.csv", [0xFF, 0xFE, (byte)'a', 0, (byte)',', 0, (byte)'b', 0]);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("UTF-16", error.Message);
    }

    [Fact]
    public void NonAsciiIds_RoundTrip()
    {
        string file = _temp.Write("log.csv", "zoë,café\nzoë,naïve\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["zoë"], log.UserIds.Ids);
        Assert.Equal(["café", "naïve"], log.ItemIds.Ids);
    }

    [Theory]
    [InlineData("")]
    [InlineData("user,item\n\n")]
    public void EmptyFile_IsAClearError(string text)
    {
        string file = _temp.Write("empty.csv", text);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Contains("empty.csv", error.Message);
        Assert.Contains("no interactions found", error.Message);
    }
}
