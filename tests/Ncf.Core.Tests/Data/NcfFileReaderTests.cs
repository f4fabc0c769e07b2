using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class NcfFileReaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    // 3 users, items 0..5. User 0's latest training row is item 2 (timestamp 30), user 1's is item 4 (tie: later line).
    private const string Train = "0\t1\t5\t10\n0\t2\t4\t30\n0\t3\t4\t20\n1\t3\t3\t7\n1\t4\t3\t7\n2\t5\t1\t1\n2\t0\t1\t2\n";
    private const string Negative = "(0,4)\t0\t5\n(1,0)\t1\t2\n(2,3)\t1\t2\n";
    private const string TestRating = "0\t4\t5\t40\n1\t0\t3\t8\n2\t3\t4\t3\n";

    private string Prefix(string train = Train, string? negative = Negative, string? testRating = TestRating)
    {
        _temp.Write("toy.train.rating", train);
        if (negative is not null)
        {
            _temp.Write("toy.test.negative", negative);
        }

        if (testRating is not null)
        {
            _temp.Write("toy.test.rating", testRating);
        }

        return Path.Combine(_temp.Path, "toy");
    }

    /// <summary>Reading <paramref name="prefix"/> fails with a message naming <paramref name="where"/> and saying <paramref name="expected"/>.</summary>
    private static void AssertRejected(string prefix, string where, string expected)
    {
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(prefix));

        Assert.Contains(where, error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ReadsTrainingRowsAndFixedNegatives()
    {
        var data = NcfFileReader.Read(Prefix());

        Assert.Equal(3, data.UserCount);
        Assert.Equal(6, data.ItemCount);
        Assert.Equal(7, data.TrainCount);
        Assert.Equal([0, 0, 0, 1, 1, 2, 2], data.TrainUsers);
        Assert.Equal([1, 2, 3, 3, 4, 5, 0], data.TrainItems);
        Assert.NotNull(data.Test);
        Assert.Equal([0, 1, 2], data.Test.Users);
        Assert.Equal([4, 0, 3], data.Test.TargetItems);
        Assert.Equal([0, 5], data.Test.NegativesOf(0).ToArray());
        Assert.Equal("5", data.ItemIds[5]);
        Assert.Equal("toy", data.Name);
    }

    [Fact]
    public void ATestUserWithoutTrainingRows_IsRead_WithANoteNamingIt()
    {
        // User 1 has a test case but no training row (users 0 and 2 bound the ID range).
        string train = "0\t1\t5\t10\n0\t2\t4\t30\n2\t5\t1\t1\n2\t0\t1\t2\n";
        var data = NcfFileReader.Read(Prefix(train, testRating: null));

        Assert.Equal(3, data.Test!.Count);
        Assert.Equal("1 of 3 test cases belong to users with no training row (the first: user 1): "
            + "their user embeddings stay as initialised (no training row updates them; only --l2 shrinks them), "
            + "so their rankings show what the model learnt of the items alone.", Assert.Single(data.Notes));
        Assert.Empty(NcfFileReader.Read(Prefix()).Notes);
    }

    [Fact]
    public void TooFewUnseenItemsForDrawnNegatives_IsAnErrorSayingHowManyFit()
    {
        // Without a negative file the negatives are drawn: user 0 knows items 1, 2, 3 and its test item 4 of 0..5.
        var error = Assert.Throws<NcfException>(() => NcfFileReader.Read(Prefix(negative: null), new DataLoadOptions { TestNegatives = 3 }));

        Assert.Equal("toy: user '0' has interacted with 4 of the 6 items; 3 distinct negatives per evaluation case cannot be drawn. "
            + "Lower the number of test negatives to 2 or fewer (ncf: --test-neg).", error.Message);
    }

    [Fact]
    public void OneStrayHugeId_IsAnErrorNamingItsLine_NotMillionsOfEmptyRows()
    {
        // A fuzzer's single line "10000000 3 4 978300000" made a 10-million-user model (7.6 GB).
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(Train + "10000000\t3\t4\t978300000\n")));

        Assert.Equal(8, error.Line);
        Assert.Contains("user ID 10000000 makes the users 0..10000000, 10,000,001 embedding rows for 4 distinct users", error.Message);
        Assert.Contains("--format csv", error.Message);

        // Gaps are fine while the range stays near the IDs in use: items 0..99,999 with most of them unused.
        var sparse = NcfFileReader.Read(Prefix(Train + "2\t99999\t1\t3\n"), new DataLoadOptions { TestNegatives = 2 });
        Assert.Equal(100_000, sparse.ItemCount);
    }

    [Fact]
    public void HoldOutNone_AddsTheTestItemsToTraining()
    {
        var data = NcfFileReader.Read(Prefix(), new DataLoadOptions { HoldOut = HoldOut.None });

        Assert.Null(data.Test);
        Assert.Equal(10, data.TrainCount);
        Assert.Equal([0, 0, 0, 1, 1, 2, 2, 0, 1, 2], data.TrainUsers);
        Assert.Equal([1, 2, 3, 3, 4, 5, 0, 4, 0, 3], data.TrainItems);
    }

    [Fact]
    public void HoldOutNone_WithOnlyTheNegativeFile_AddsEachNewPairOnce()
    {
        // User 2's test item 5 is already a training item: it is not added again.
        var data = NcfFileReader.Read(Prefix(negative: "(0,4)\t0\t5\n(1,0)\t1\t2\n(2,5)\t1\t2\n", testRating: null),
            new DataLoadOptions { HoldOut = HoldOut.None });

        Assert.Null(data.Test);
        Assert.Equal([0, 0, 0, 1, 1, 2, 2, 0, 1], data.TrainUsers);
        Assert.Equal([1, 2, 3, 3, 4, 5, 0, 4, 0], data.TrainItems);
    }

    [Fact]
    public void Validation_HoldsOutLatestTrainingRow_TieGoesToLaterLine()
    {
        var data = NcfFileReader.Read(Prefix(), new DataLoadOptions { Validation = true, TestNegatives = 2 });

        Assert.NotNull(data.Validation);
        Assert.Equal([0, 1, 2], data.Validation.Users);
        Assert.Equal([2, 4, 0], data.Validation.TargetItems);
        Assert.Equal(4, data.TrainCount);
        Assert.DoesNotContain(2, data.Train.ItemsOf(0).ToArray());
        for (int c = 0; c < data.Validation.Count; c++)
        {
            int user = data.Validation.Users[c];
            foreach (int negative in data.Validation.NegativesOf(c))
            {
                Assert.DoesNotContain(negative, data.Train.ItemsOf(user).ToArray());
                Assert.NotEqual(data.Validation.TargetItems[c], negative);
                Assert.NotEqual(data.Test!.TargetItems[c], negative);
            }
        }
    }

    [Fact]
    public void ATestFileThatIsAFolder_IsAnError_NotAbsent()
    {
        // Were the folder taken for a missing file, the negatives would be drawn instead of the paper's, silently.
        string prefix = Prefix();
        File.Delete(prefix + ".test.negative");
        Directory.CreateDirectory(prefix + ".test.negative");

        var error = Assert.Throws<NcfException>(() => NcfFileReader.Read(prefix));
        Assert.Contains("toy.test.negative: is a folder", error.Message);
    }

    [Fact]
    public void Validation_WhenNoUserHasTwoTrainingItems_IsAnError_NotAnEmptySet()
    {
        // One training row per user (user 0's repeated): holding it out would leave the user untrained.
        string prefix = Prefix("0\t1\t5\t10\n0\t1\t5\t11\n1\t3\t3\t7\n2\t5\t1\t1\n");
        Assert.Equal(3, NcfFileReader.Read(prefix).Test!.Count);

        var error = Assert.Throws<NcfException>(() => NcfFileReader.Read(prefix, new DataLoadOptions { Validation = true, TestNegatives = 2 }));
        Assert.Contains("toy: no user has two or more distinct training items", error.Message);
    }

    [Fact]
    public void Validation_UserWithoutTimestamps_GetsASeededDrawNotTheLastLine()
    {
        // 300 users whose 10 rows carry timestamp 0 and are sorted by item ID, as the NCF files write users of unknown
        // time, and one user (300) with real timestamps whose latest row is not its last line.
        var train = new System.Text.StringBuilder();
        var test = new System.Text.StringBuilder();
        for (int u = 0; u < 300; u++)
        {
            for (int j = 0; j < 10; j++)
            {
                train.Append($"{u}\t{u % 30 + j}\t4\t0\n");
            }

            test.Append($"{u}\t{u % 30 + 10}\t4\t0\n");
        }

        train.Append("300\t1\t4\t50\n300\t2\t4\t90\n300\t3\t4\t70\n300\t39\t4\t10\n");
        test.Append("300\t0\t4\t99\n");
        string prefix = Prefix(train.ToString(), negative: null, testRating: test.ToString());

        var data = NcfFileReader.Read(prefix, new DataLoadOptions { Validation = true, TestNegatives = 2, Seed = 7 });
        var again = NcfFileReader.Read(prefix, new DataLoadOptions { Validation = true, TestNegatives = 2, Seed = 7 });
        var otherSeed = NcfFileReader.Read(prefix, new DataLoadOptions { Validation = true, TestNegatives = 2, Seed = 8 });

        var validation = data.Validation!;
        Assert.Equal(301, validation.Count);
        int lastLine = 0;
        for (int c = 0; c < 300; c++)
        {
            int user = validation.Users[c], item = validation.TargetItems[c];
            Assert.InRange(item, user % 30, user % 30 + 9);
            Assert.False(data.Train.Contains(user, item));
            Assert.Equal(9, data.Train.ItemsOf(user).Length);
            lastLine += item == user % 30 + 9 ? 1 : 0;
        }

        // A uniform draw takes the last line for about 30 of 300 users (binomial sd 5.2); the file's end would give 300.
        Assert.InRange(lastLine, 10, 60);
        Assert.Equal(2, validation.TargetItems[300]);
        Assert.Equal(validation.TargetItems, again.Validation!.TargetItems);
        Assert.NotEqual(validation.TargetItems, otherSeed.Validation!.TargetItems);
        Assert.StartsWith("300 of 301 validation cases belong to users whose training rows all have timestamp 0", Assert.Single(data.Notes));
        Assert.Empty(NcfFileReader.Read(Prefix(), new DataLoadOptions { Validation = true, TestNegatives = 2 }).Notes);
    }

    [Fact]
    public void WithoutNegativeFile_DrawsNegativesFromTestRating()
    {
        var data = NcfFileReader.Read(Prefix(negative: null), new DataLoadOptions { TestNegatives = 2, Seed = 5 });
        var again = NcfFileReader.Read(Prefix(negative: null), new DataLoadOptions { TestNegatives = 2, Seed = 5 });

        Assert.Equal(3, data.Test!.Count);
        Assert.Equal(again.Test!.Negatives, data.Test.Negatives);
        for (int c = 0; c < 3; c++)
        {
            var negatives = data.Test.NegativesOf(c).ToArray();
            Assert.Equal(2, negatives.Distinct().Count());
            Assert.DoesNotContain(data.Test.TargetItems[c], negatives);
            Assert.All(negatives, n => Assert.False(data.Train.Contains(data.Test.Users[c], n)));
        }
    }

    [Theory]
    [InlineData("(0,4)\t0\t6\n", "negative item ID 6 is outside the range 0..5")]
    [InlineData("(3,4)\t0\t1\n", "user ID 3 is outside the range 0..2")]
    [InlineData("(0,9)\t0\t1\n", "item ID 9 is outside the range 0..5")]
    [InlineData("0,4\t0\t1\n", "expected '(user,item)'")]
    public void BadNegativeFile_IsAClearError(string negative, string expected) =>
        AssertRejected(Prefix(negative: negative, testRating: null), "toy.test.negative:1:", expected);

    [Theory]
    [InlineData("(0,4)\t0\t5\n(1,0)\t1\n(2,3)\t1\t2\n", "toy.test.negative:2:", "expected 2 negative items, as on line 1; found 1")]
    [InlineData("(0,4)\t0\t5\n(1,0)\t1\t2\n(2,3)\t1\t2\t3\n", "toy.test.negative:3:", "expected 2 negative items, as on line 1; found 3")]
    [InlineData("(0,4)\t0\t5\n(1,0)\n", "toy.test.negative:2:", "found none")]
    [InlineData("(0,4)\t\t\n", "toy.test.negative:1:", "found none")]
    public void NegativeLinesOfUnequalLength_AreAnError(string negative, string where, string expected) =>
        // A cut-short line would rank its test item among fewer candidates (one with none would be a sure hit).
        AssertRejected(Prefix(negative: negative, testRating: null), where, expected);

    [Fact]
    public void EmptyTestRatingFile_WithoutNegatives_IsAClearError() =>
        AssertRejected(Prefix(negative: null, testRating: "\r\n"), "toy.test.rating", "no test cases found");

    [Theory]
    [InlineData("0\t4\t5\t40\n1\t6\t3\t8\n", "toy.test.rating:2:", "item ID 6 is outside the range 0..5")]
    [InlineData("0\t4\t5\t40\n3\t0\t3\t8\n", "toy.test.rating:2:", "user ID 3 is outside the range 0..2")]
    [InlineData("0\t4\tfive\t40\n", "toy.test.rating:1:", "rating 'five' is not a number")]
    public void BadTestRatingFile_NamesFileAndLine(string testRating, string where, string expected) =>
        AssertRejected(Prefix(negative: null, testRating: testRating), where, expected);

    [Fact]
    public void BadRatingInTrainingFile_NamesTheLine()
    {
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(train: "0\t1\t5\t10\n0\t2\tabc\t30\n")));

        Assert.Contains("toy.train.rating:2:", error.Message);
        Assert.Contains("rating 'abc' is not a number", error.Message);

        // An empty rating field, or a trailing tab, is no rating: accepted, as the rating is optional.
        var data = NcfFileReader.Read(Prefix(train: "0\t1\t\t10\n0\t2\t\n1\t3\t3\t7\n1\t4\n2\t5\t1\t1\n2\t0\t1\t2\n"));
        Assert.Equal([1, 2, 3, 4, 5, 0], data.TrainItems);
    }

    [Fact]
    public void CrlfBomAndMissingFinalNewline_ReadAsThePlainFiles()
    {
        var plain = NcfFileReader.Read(Prefix(), new DataLoadOptions { Validation = true, TestNegatives = 2 });

        // The same three files as Windows tools write them: a UTF-8 BOM, CRLF endings, no newline at the end.
        static string Windows(string text) => "\uFEFF" + text.TrimEnd('\n').Replace("\n", "\r\n");
        var windows = NcfFileReader.Read(Prefix(Windows(Train), Windows(Negative), Windows(TestRating)), new DataLoadOptions { Validation = true, TestNegatives = 2 });

        Assert.Equal(plain.TrainUsers, windows.TrainUsers);
        Assert.Equal(plain.TrainItems, windows.TrainItems);
        Assert.Equal(plain.Test!.Users, windows.Test!.Users);
        Assert.Equal(plain.Test.TargetItems, windows.Test.TargetItems);
        for (int c = 0; c < plain.Test.Count; c++)
        {
            Assert.Equal(plain.Test.NegativesOf(c).ToArray(), windows.Test.NegativesOf(c).ToArray());
        }

        Assert.Equal(plain.Validation!.TargetItems, windows.Validation!.TargetItems);
    }

    [Fact]
    public void DisagreeingTestFiles_AreAnError()
    {
        // A blank line first, so the case number (2) and the file line (3) differ.
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(testRating: "\n0\t4\t5\t40\n1\t1\t3\t8\n2\t3\t4\t3\n")));

        Assert.Equal(3, error.Line);
        Assert.Contains("toy.test.rating:3: test case 2 is (1,1) but toy.test.negative has (1,0) on its line 2", error.Message);
    }

    [Fact]
    public void MalformedTrainingLine_NamesTheLine()
    {
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(train: "0\t1\t5\t10\n0\n")));

        Assert.Contains("toy.train.rating:2:", error.Message);
        Assert.Contains("found 1", error.Message);
    }

    [Fact]
    public void MissingTestFiles_AreAnNcfError()
    {
        var error = Assert.Throws<NcfException>(() => NcfFileReader.Read(Prefix(negative: null, testRating: null)));

        Assert.Contains("toy.test.negative", error.Message);
    }

    [Fact]
    public void EmptyTrainingFile_IsAClearError()
    {
        var error = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(train: "\n")));

        Assert.Contains("toy.train.rating", error.Message);
        Assert.Contains("no interactions found", error.Message);
    }

    [Fact]
    public void HugeOrNegativeIds_AreRejected()
    {
        var huge = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(train: "0\t1\n2000000000\t1\n")));
        Assert.Contains("toy.train.rating:2:", huge.Message);
        Assert.Contains("largest accepted ID", huge.Message);

        var negative = Assert.Throws<DataFormatException>(() => NcfFileReader.Read(Prefix(train: "-1\t1\n")));
        Assert.Contains("user ID '-1' is not a non-negative integer", negative.Message);
    }
}
