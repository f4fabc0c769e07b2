using System.Globalization;
using System.Text;
using Ncf.Randomness;

namespace Ncf.Benchmarks;

/// <summary>Writes ML-1M-shaped synthetic rating files (6,040 users, 3,706 items, ~1M rows) for benchmarks on machines without the real data.</summary>
internal static class SyntheticRatings
{
    public const int Users = 6_040;
    public const int Items = 3_706;

    private static readonly int[] Steps = [1, 3, 5, 7, 11, 13];

    /// <summary>Writes <c>ratings.dat</c> (<c>user::item::rating::timestamp</c>, 1-based IDs) with about <paramref name="rows"/> rows.</summary>
    public static void WriteRatingsDat(string path, int rows, ulong seed = 1)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        foreach (var (user, item, time) in Rows(rows, seed))
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"{user + 1}::{item + 1}::{1 + (item % 5)}::{time}\n"));
        }
    }

    /// <summary>
    /// Writes the same rows as a generic CSV log with string IDs and a header (<c>user,item,rating,timestamp</c>,
    /// IDs like <c>user-17</c> and <c>"Title 42, The"</c>: every item quoted around a comma, as pandas writes
    /// them), gzip-compressed when <paramref name="gzip"/> is true.
    /// </summary>
    public static void WriteStringCsv(string path, int rows, bool gzip, ulong seed = 1)
    {
        using var file = File.Create(path);
        using Stream stream = gzip ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : file;
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 20);
        writer.Write("user,item,rating,timestamp\n");
        foreach (var (user, item, time) in Rows(rows, seed))
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"user-{user + 1},\"Title {item + 1}, The\",{1 + (item % 5)},{time}\n"));
        }
    }

    /// <summary>Writes NCF files <c>PREFIX.train.rating</c> and <c>PREFIX.test.negative</c> (99 negatives) from the same rows.</summary>
    public static void WriteNcf(string prefix, int rows, ulong seed = 1)
    {
        var lastOf = new (int Item, long Time)[Users];
        using (var train = new StreamWriter(prefix + ".train.rating", false, new UTF8Encoding(false), 1 << 20))
        {
            // Each user's last generated row is held back as its test item; the row before it is written out.
            foreach (var (user, item, time) in Rows(rows, seed))
            {
                if (lastOf[user].Time != 0)
                {
                    train.Write(string.Create(CultureInfo.InvariantCulture, $"{user}\t{lastOf[user].Item}\t4\t{lastOf[user].Time}\n"));
                }

                lastOf[user] = (item, time);
            }
        }

        var rng = new Rng(seed, 99);
        using var negatives = new StreamWriter(prefix + ".test.negative", false, new UTF8Encoding(false), 1 << 20);
        for (int user = 0; user < Users; user++)
        {
            negatives.Write(string.Create(CultureInfo.InvariantCulture, $"({user},{lastOf[user].Item})"));
            for (int k = 0; k < 99; k++)
            {
                // Not checked against the user's items: the reader uses the file's negatives as they are.
                negatives.Write(string.Create(CultureInfo.InvariantCulture, $"\t{rng.NextInt(Items)}"));
            }

            negatives.Write('\n');
        }
    }

    // Rows grouped by user as in ratings.dat: each user gets a share of the rows, distinct items, rising timestamps.
    private static IEnumerable<(int User, int Item, long Time)> Rows(int rows, ulong seed)
    {
        var rng = new Rng(seed);
        int perUser = Math.Max(2, rows / Users);
        for (int user = 0; user < Users; user++)
        {
            int start = rng.NextInt(Items);
            // Steps coprime with 3,706 = 2 x 17 x 109, so a user's items are distinct.
            int step = Steps[rng.NextInt(Steps.Length)];
            for (int k = 0; k < Math.Min(perUser, Items); k++)
            {
                yield return (user, (int)((start + (long)k * step) % Items), 956_703_932L + user * 1_000L + k);
            }
        }
    }
}
