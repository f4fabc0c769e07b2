using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class NcfDataLoaderTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private const string RatingsDat = "10::100::5::1\n10::200::4::2\n20::100::3::5\n20::300::3::4\n";

    [Fact]
    public void Folder_FindsRatingsDat_AndKeepsOriginalIds()
    {
        _temp.Write("ml-toy/ratings.dat", RatingsDat);
        _temp.Write("ml-toy/movies.dat", "not read");
        var data = NcfDataLoader.Load(Path.Combine(_temp.Path, "ml-toy"), new DataLoadOptions { TestNegatives = 1 });

        Assert.Equal("ml-toy", data.Name);
        Assert.Equal(["10", "20"], data.UserIds.Ids);
        Assert.Equal(["100", "200", "300"], data.ItemIds.Ids);
        Assert.Equal("200", data.ItemIds[data.Test!.TargetItems[0]]);
        Assert.Equal("100", data.ItemIds[data.Test.TargetItems[1]]);
        Assert.Equal(2, data.TrainCount);
    }

    [Theory]
    [InlineData("ml/ratings.dat", RatingsDat)]
    [InlineData("ml/u.data", "10\t100\t5\t1\n10\t200\t4\t2\n20\t100\t3\t5\n20\t300\t3\t4\n")]
    [InlineData("ml/ratings.csv", "userId,movieId,rating,timestamp\n10,100,5,1\n10,200,4,2\n20,100,3,5\n20,300,3,4\n")]
    [InlineData("ml/clicks.csv", "alice,x\nalice,y\nbob,x\nbob,z\n")]
    [InlineData("ml/toy.train.rating", "0\t0\t1\t1\n0\t1\t1\t2\n1\t1\t1\t1\n1\t2\t1\t2\n2\t3\t1\t1\n")]
    public void A_cancelled_token_stops_every_reader(string name, string text)
    {
        string file = _temp.Write(name, text);
        _temp.Write("ml/toy.test.negative", "(0,2)\t3\n(1,0)\t3\n");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        string path = name.EndsWith(".train.rating", StringComparison.Ordinal) ? file[..^".train.rating".Length] : file;
        var options = new DataLoadOptions { TestNegatives = 1 };

        Assert.Throws<OperationCanceledException>(() => NcfDataLoader.Load(path, options, cancelled.Token));
        Assert.NotNull(NcfDataLoader.Load(path, options, CancellationToken.None).Test); // the same files load otherwise
    }

    [Fact]
    public void A_cancelled_token_stops_the_split()
    {
        var log = NcfDataLoader.LoadLog(_temp.Write("ratings.dat", RatingsDat));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Throws<OperationCanceledException>(() => LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = 1 }, null, cancelled.Token));
    }

    [Fact]
    public void HeaderSetting_IsRefusedForFormatsWithAFixedLayout()
    {
        _temp.Write("n/toy.train.rating", "0\t0\t1\t1\n1\t1\t1\t1\n");
        _temp.Write("n/toy.test.negative", "(0,1)\t0\n(1,0)\t1\n");
        _temp.Write("m/ratings.dat", RatingsDat);

        foreach (string path in new[] { Path.Combine(_temp.Path, "n", "toy"), Path.Combine(_temp.Path, "m") })
        {
            var error = Assert.Throws<NcfException>(() => NcfDataLoader.Load(path, new DataLoadOptions { HasHeader = false, TestNegatives = 1 }));
            Assert.Contains("a header setting applies to generic CSV/TSV files", error.Message);
        }

        // Without the setting both load.
        Assert.Equal(2, NcfDataLoader.Load(Path.Combine(_temp.Path, "n", "toy")).TrainCount);
    }

    [Fact]
    public void Folder_PrefersNcfSplit_AndPrefixWorks()
    {
        _temp.Write("d/ratings.dat", RatingsDat);
        _temp.Write("d/toy.train.rating", "0\t0\t1\t1\n1\t1\t1\t1\n1\t2\t1\t1\n");
        _temp.Write("d/toy.test.negative", "(0,1)\t2\n(1,0)\t2\n");
        _temp.Write("d/toy.test.rating", "0\t1\t1\t2\n1\t1\t1\t1\n");
        _temp.Write("d/extra.train.rating.bak", "");

        string folder = Path.Combine(_temp.Path, "d");
        Assert.Equal((Path.Combine(folder, "toy"), DatasetFormat.Ncf), NcfDataLoader.Resolve(folder));
        Assert.Equal((Path.Combine(folder, "toy"), DatasetFormat.Ncf), NcfDataLoader.Resolve(Path.Combine(folder, "toy.test.negative")));
        Assert.Equal((Path.Combine(folder, "ratings.dat"), DatasetFormat.MovieLens1M), NcfDataLoader.Resolve(folder, DatasetFormat.MovieLens1M));

        // test.rating disagrees with test.negative on line 2.
        var error = Assert.Throws<DataFormatException>(() => NcfDataLoader.Load(Path.Combine(folder, "toy")));
        Assert.Contains("test case 2", error.Message);
    }

    [Fact]
    public void FormatCanBeForced()
    {
        string file = _temp.Write("whatever.txt", "1\t2\t3\t4\n1\t3\t3\t5\n");
        Assert.Equal(DatasetFormat.Generic, NcfDataLoader.Resolve(file).Format);

        var data = NcfDataLoader.Load(file, new DataLoadOptions { Format = DatasetFormat.MovieLens100K, TestNegatives = 0 });
        Assert.Equal("3", data.ItemIds[data.Test!.TargetItems[0]]);
    }

    [Fact]
    public void GenericCsv_LoadsThroughTheFrontDoor()
    {
        string file = _temp.Write("clicks.csv", "user,item\nann,p1\nann,p2\nbob,p1\nbob,p3\n");
        var data = NcfDataLoader.Load(file, new DataLoadOptions { TestNegatives = 1 });

        Assert.Equal("clicks", data.Name);
        Assert.Equal(["p2", "p3"], data.Test!.TargetItems.Select(i => data.ItemIds[i]));
    }

    [Fact]
    public void RatingsCsv_IsMovieLensOnlyWithMovieLensColumns()
    {
        // Other exports named ratings.csv are read by their own header: here movieId first (read as MovieLens the
        // users would be the films) and ISBNs whose leading zeros matter.
        _temp.Write("swapped/ratings.csv", "movieId,userId,rating,timestamp\n10,1,5,1\n20,1,4,2\n10,2,5,3\n30,2,3,4\n");
        var swapped = NcfDataLoader.LoadLog(Path.Combine(_temp.Path, "swapped"));
        Assert.Equal(["1", "2"], swapped.UserIds.Ids);
        Assert.Equal(["10", "20", "30"], swapped.ItemIds.Ids);

        string books = _temp.Write("books/ratings.csv", "user,isbn,rating\nu1,0321719816,5\nu1,321719816,4\nu2,0140449132,3\n");
        Assert.Equal(["0321719816", "321719816", "0140449132"], NcfDataLoader.LoadLog(books).ItemIds.Ids);

        // MovieLens's own header, and a headerless file of numbers, stay MovieLens; forced, another header is an error.
        string movieLens = _temp.Write("ml/ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.5,100\n");
        Assert.True(NcfDataLoader.LoadLog(movieLens).HasTimestamps);
        Assert.Equal(DatasetFormat.MovieLensCsv, NcfDataLoader.Resolve(movieLens).Format);
        Assert.Equal(DatasetFormat.MovieLensCsv, NcfDataLoader.Resolve(_temp.Write("plain/ratings.csv", "1,10,4.5,100\n")).Format);
        Assert.Equal(DatasetFormat.Generic, NcfDataLoader.Resolve(books).Format);
        var error = Assert.Throws<DataFormatException>(() => NcfDataLoader.LoadLog(Path.Combine(_temp.Path, "swapped"), new DataLoadOptions { Format = DatasetFormat.MovieLensCsv }));
        Assert.Contains("swapped/ratings.csv:1: expected the header userId,movieId,rating,timestamp", error.Message);
    }

    [Fact]
    public void MissingPath_NamesIt()
    {
        string path = Path.Combine(_temp.Path, "absent");
        var error = Assert.Throws<NcfException>(() => NcfDataLoader.Load(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void EmptyFolder_SaysWhatWasExpected()
    {
        var error = Assert.Throws<NcfException>(() => NcfDataLoader.Load(_temp.Path));

        Assert.Contains("ratings.dat", error.Message);
    }

    [Theory]
    [InlineData("auto", DatasetFormat.Auto)]
    [InlineData("ml-100k", DatasetFormat.MovieLens100K)]
    [InlineData("ML-1M", DatasetFormat.MovieLens1M)]
    [InlineData("ml-10m", DatasetFormat.MovieLens1M)]
    [InlineData("movielens-csv", DatasetFormat.MovieLensCsv)]
    [InlineData("ncf", DatasetFormat.Ncf)]
    [InlineData("csv", DatasetFormat.Generic)]
    public void FormatNames_Parse(string name, DatasetFormat expected)
    {
        Assert.Equal(expected, DatasetFormats.Parse(name));
    }

    [Fact]
    public void FormatNames_RoundTripAndRejectUnknown()
    {
        foreach (var format in Enum.GetValues<DatasetFormat>())
        {
            Assert.Equal(format, DatasetFormats.Parse(DatasetFormats.ToName(format)));
        }

        var error = Assert.Throws<NcfException>(() => DatasetFormats.Parse("parquet"));
        Assert.Contains("ml-100k", error.Message);
    }

    [Fact]
    public void InvalidOptions_AreRejected()
    {
        string file = _temp.Write("u.data", "1\t2\t3\t4\n");
        Assert.Throws<NcfException>(() => NcfDataLoader.Load(file, new DataLoadOptions { TestNegatives = -1 }));
    }
}
