namespace Ncf.Data;

/// <summary>The file formats <see cref="NcfDataLoader"/> reads. Names for command lines: see <see cref="DatasetFormats"/>.</summary>
public enum DatasetFormat
{
    /// <summary>Decide from the file or folder name (u.data, ratings.dat, ratings.csv, *.train.rating), else <see cref="Generic"/>.</summary>
    Auto,

    /// <summary>MovieLens-100K <c>u.data</c>: tab-separated user, item, rating, timestamp (<see cref="MovieLensReader.ReadUData"/>).</summary>
    MovieLens100K,

    /// <summary>MovieLens-1M/10M <c>ratings.dat</c>: <c>UserID::MovieID::Rating::Timestamp</c> (<see cref="MovieLensReader.ReadRatingsDat"/>).</summary>
    MovieLens1M,

    /// <summary>MovieLens <c>ratings.csv</c> (ml-latest, ml-20m, ml-25m) with a header (<see cref="MovieLensReader.ReadRatingsCsv"/>).</summary>
    MovieLensCsv,

    /// <summary>The NCF paper's pre-split files <c>X.train.rating</c>, <c>X.test.negative</c> [, <c>X.test.rating</c>] (<see cref="NcfFileReader"/>).</summary>
    Ncf,

    /// <summary>Any delimited <c>user,item[,rating][,timestamp]</c> file with string IDs (<see cref="DelimitedInteractionReader"/>).</summary>
    Generic,
}
