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
        Assert.Equal((new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero) - DateTimeOffset.UnixEpoch).Ticks, withHeader.Timestamps[0]);

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

    [Theory]
    [InlineData("2020-01-02", "2020-01-02T00:00:00Z")]
    [InlineData("2020-01-02 03:04", "2020-01-02T03:04:00Z")] // SQL's space; no zone is UTC
    [InlineData("2020-01-02t03:04:05.25", "2020-01-02T03:04:05.25Z")]
    [InlineData("2020-01-02T03:04:05,1234567891Z", "2020-01-02T03:04:05.1234567Z")] // past 100 ns dropped
    [InlineData("2020-01-02T04:04:05+01:00", "2020-01-02T03:04:05Z")]
    [InlineData("2020-01-02T01:34:05-0130", "2020-01-02T03:04:05Z")]
    [InlineData("2020-01-02T05:04:05+02", "2020-01-02T03:04:05Z")]
    [InlineData("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z")] // a leap second
    [InlineData("0001-01-01", "0001-01-01T00:00:00Z")]
    public void IsoTimestamps_AreStrictIso8601_InTicksSinceTheUnixEpoch(string written, string expected)
    {
        string file = _temp.Write("t.tsv", $"u\ti\t1\t{written}\n"); // tabs: ISO allows a decimal comma
        var log = DelimitedInteractionReader.Read(file);

        // The BCL's round-trip parser on a canonical rendering is the independent oracle.
        var when = DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal((when - DateTimeOffset.UnixEpoch).Ticks, log.Timestamps[0]);
    }

    [Theory]
    [InlineData("1/2/2020")] // month or day first? the lenient parser guesses
    [InlineData("10:30")] // today, whenever that is
    [InlineData("Jan 5 2020")]
    [InlineData("2020-1-5")]
    [InlineData("2020-02-30")]
    [InlineData("2020-01-05T24:00")]
    [InlineData("2020-01-05T10")]
    [InlineData("2020-01-05T10:00:00.")]
    [InlineData("2020-01-05T10:00:00 UTC")]
    [InlineData("2020-01-05Z")]
    [InlineData("2020-01-05T10:00+5")]
    public void TimestampsThatAreNotIso8601_AreErrors(string written)
    {
        string file = _temp.Write("t.csv", $"u,i,1,5\nu,j,1,{written}\n");
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(2, error.Line);
        Assert.Contains($"timestamp '{written}' is neither an integer", error.Message);
    }

    [Theory]
    [InlineData("1700000000000000001", 1700000000000000001L)] // nanosecond Unix time: 19 digits
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("+0000000000000000042", 42L)]
    [InlineData("000000000000000000000000042", 42L)] // leading zeros do not count towards the 19 digits
    [InlineData("-00000000000000000000", 0L)]
    public void IntegerTimestamps_TakeLongsWholeRange(string written, long expected)
    {
        string file = _temp.Write("t.csv", $"u,i,1,{written}\n");
        Assert.Equal([expected], DelimitedInteractionReader.Read(file).Timestamps);
    }

    [Theory]
    [InlineData("9223372036854775808")] // long.MaxValue + 1
    [InlineData("-9223372036854775809")]
    [InlineData("18446744073709551616")] // 2^64: 20 digits
    [InlineData("99999999999999999999")]
    public void IntegerTimestampsBeyondLong_AreErrors_NotWrappedValues(string written)
    {
        string file = _temp.Write("t.csv", $"u,i,1,5\nu,j,1,{written}\n");
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(2, error.Line);
        Assert.Contains($"timestamp '{written}' is an integer beyond the 64-bit range", error.Message);
    }

    [Fact]
    public void SubSecondOrder_IsKept_AndAColumnHoldsOneKindOfTimestamp()
    {
        // .900 then .100: the first line is the later event, whatever the file order.
        string file = _temp.Write("t.csv", "u,a,1,2020-01-05T10:00:00.900Z\nu,b,1,2020-01-05T10:00:00.100Z\n");
        var log = DelimitedInteractionReader.Read(file);
        Assert.True(log.Timestamps[0] > log.Timestamps[1]);
        Assert.Equal(8_000_000, log.Timestamps[0] - log.Timestamps[1]); // 0.8 s in 100-ns ticks

        string mixed = _temp.Write("mixed.csv", "u,a,1,2020-01-05\nu,b,1,1578182400\n");
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(mixed));
        Assert.Equal(2, error.Line);
        Assert.Contains("is an integer, but line 1's is an ISO 8601 date-time", error.Message);
    }

    [Fact]
    public void IdsThatAreNotUtf8_AreAnError_NotMergedIds()
    {
        // "café" and "cafè" in Latin-1: decoding would turn both into "caf\uFFFD", one user.
        byte[] latin1 = [.. "user,item\n"u8, .. "caf"u8, 0xE9, .. ",x\n"u8, .. "caf"u8, 0xE8, .. ",y\n"u8];
        string file = _temp.WriteBytes("latin1.csv", latin1);

        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));
        Assert.Equal(2, error.Line);
        Assert.Contains("the user ID is not valid UTF-8 (byte 0xE9)", error.Message);
    }

    [Theory]
    [InlineData("alice,Time,5,100\nalice,Money,4,101\nbob,Time,3,100\n", 3)] // an item named like a column: data
    [InlineData("a,b,c,d\nu1,i1,5,100\n", 1)] // unknown names, no number where the rating and time go: a header
    [InlineData("visitor,product\nu1,i1\nu2,i1\n", 2)] // named columns in a two-column file
    public void FirstLine_IsAHeaderOnlyWhenItLooksLikeOne(string text, int rows)
    {
        string file = _temp.Write("h.csv", text);
        Assert.Equal(rows, DelimitedInteractionReader.Read(file).Count);
    }

    [Theory]
    [InlineData("user_id,parent_asin,rating,timestamp\nu1,B01,5,100\nu1,B02,4,200\n", new long[] { 100, 200 })] // Amazon 2023
    [InlineData("user_id,thing,timestamp,rating\nu1,B01,100,5\nu1,B02,200,4\n", new long[] { 100, 200 })] // named time, not positional
    [InlineData("who,product\nu1,B01\nu1,B02\n", new long[] { 0, 0 })]
    [InlineData("who,product,stars,when\nu1,B01,5,100\nu1,B02,4,200\n", new long[] { 100, 200 })] // an unnamed time where the positions put it
    public void AHeaderNamingOnlyOneOfUserAndItem_IsPositionalWhereThePositionsAgree(string text, long[] times)
    {
        string file = _temp.Write("one.csv", text);
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["u1"], log.UserIds.Ids);
        Assert.Equal(["B01", "B02"], log.ItemIds.Ids);
        Assert.Equal(times, log.Timestamps);
    }

    [Fact]
    public void GoodbooksHeader_NamesItsColumns()
    {
        string file = _temp.Write("gb.csv", "book_id,user_id,rating\n10,1,5\n20,1,4\n10,2,5\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["1", "2"], log.UserIds.Ids);
        Assert.Equal(["10", "20"], log.ItemIds.Ids);
    }

    [Theory]
    [InlineData("u1,i1,,5\nu1,i2,4,6\n", 1, "rating '' is not a number")] // a missing rating, not a header
    [InlineData("u1;a;4,5;1\nu1;b;4;2\n", 1, "rating '4,5' is not a number (write decimals with a point: 4.5)")]
    [InlineData("u1,a,\nu1,b,\n", 1, "rating '' is not a number")] // a trailing comma
    [InlineData("title_id,user_id,rating\n10,1,5\n", 1, "names a user column ('user_id', column 2) but no item column, and by position column 2 would be the item")]
    [InlineData("item,rating\nx,5\n", 1, "names an item column ('item', column 1) but no user column, and by position column 1 would be the user")]
    [InlineData("user_id,rating,title\nu1,5,Matrix\n", 1, "column 2 ('rating') is the rating, and by position the item")]
    [InlineData("score,who,what,when\n5,u1,i1,9\n", 1, "column 1 ('score') is the rating, and by position the user")]
    [InlineData("user,item,rating,timestamp\nu1,a,4,5,2000\n", 2, "expected 4 comma-separated fields, as line 1 has; found 5 (a delimiter inside a field must be quoted")]
    [InlineData("u1\ti1\t4\nu1\ti2\t4\t9\n", 2, "expected 3 tab-separated fields, as line 1 has; found 4")]
    [InlineData("user,item\nu1,a\nuser,item\nu2,b\n", 3, "repeats the header of line 1: were two files joined")]
    [InlineData("\uFEFFuser,item\nu1,a\n\uFEFFuser,item\nu2,b\n", 3, "starts with a UTF-8 byte-order mark")] // two files joined, BOMs and all
    [InlineData("u1,a,4\nu1,b,\u0001\n", 2, "rating '\\x01' is not a number")] // control characters are shown escaped
    public void MalformedFirstAndLaterLines_NameTheLineAndWhatWasExpected(string text, int line, string expected)
    {
        string file = _temp.Write("bad.csv", text);
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(line, error.Line);
        Assert.Contains(expected, error.Message);
        Assert.Contains("bad.csv", error.Message);
    }

    [Theory]
    [InlineData("user,item\r\r\nu1,a\r\r\nu1,b\r\r\nu2,a\r\r\n")] // CSV written through two Windows text layers
    [InlineData("user,item\ru1,a\ru1,b\ru2,a\r")] // classic Mac
    [InlineData("user,item\nu1,a\t\nu1 , b\t\nu2,a\n")] // trailing tabs and spaces are padding
    [InlineData("user,item\ru1,a\r\nu1,b\nu2,a")] // every ending at once, no final newline
    public void LineEndingsAndPadding_NeverReachTheIds(string text)
    {
        string file = _temp.Write("ends.csv", text);
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["u1", "u2"], log.UserIds.Ids);
        Assert.Equal(["a", "b"], log.ItemIds.Ids);
        Assert.Equal([0, 0, 1], log.Users);
    }

    [Fact]
    public void AStrayCarriageReturnInsideAQuotedField_OfACrlfFile_StaysInTheId()
    {
        string file = _temp.Write("scraped.csv", "user,item\r\n\"a\rb\",x\r\nc,y\r\n");
        var log = DelimitedInteractionReader.Read(file);

        Assert.Equal(["a\rb", "c"], log.UserIds.Ids);
    }

    [Fact]
    public void AFileThatSwitchesFromLineFeedsToLoneCarriageReturns_IsAnError_NotOneHugeLine()
    {
        var text = new System.Text.StringBuilder("user,item\n");
        for (int n = 0; text.Length <= (1 << 20) + 100; n++)
        {
            text.Append($"u{n % 50},i{n % 70}\r");
        }

        string file = _temp.Write("mixed.csv", text.ToString());
        var error = Assert.Throws<DataFormatException>(() => DelimitedInteractionReader.Read(file));

        Assert.Equal(2, error.Line);
        Assert.Contains("the file mixes line ends", error.Message);
    }
}
