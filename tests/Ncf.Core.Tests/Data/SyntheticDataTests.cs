using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ncf.Data;

namespace Ncf.Core.Tests.Data;

public sealed class SyntheticDataTests
{
    /// <summary>SHA-256 (first 8 bytes, hex) of training users, training items, test users, test items and negatives.</summary>
    private static string Fingerprint(NcfDataset data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (int[] column in new[] { data.TrainUsers, data.TrainItems, data.Test!.Users, data.Test.TargetItems, data.Test.Negatives })
        {
            hash.AppendData(MemoryMarshal.AsBytes(column.AsSpan()));
        }

        return Convert.ToHexString(hash.GetHashAndReset())[..16];
    }

    /// <summary>
    /// The data sets as the generator made them when it sorted every item's key for each user (commit 514cb33 and
    /// before): keeping only each user's smallest keys in a heap must give the same items in the same order, so that
    /// the embedded default data, and every figure measured on it, stay as they were. The last two shapes stress the
    /// selection: a catalogue far larger than a user's draws, and draws that are a large share of it.
    /// </summary>
    [Theory]
    [InlineData(1200, 900, 40, 10, 99, 2017UL, "D78152C35409FF4E")] // the embedded default
    [InlineData(400, 300, 30, 10, 99, 2017UL, "B5EBBDC2B436D868")]
    [InlineData(120, 90, 15, 10, 20, 8UL, "DEE9D92121A59183")]
    [InlineData(2000, 120, 10, 10, 20, 2017UL, "0ECB24E8BFE65EB5")]
    [InlineData(300, 20000, 12, 10, 99, 2017UL, "2F36BE0CC971C61E")]
    [InlineData(50, 5000, 400, 50, 99, 3UL, "5AE8BC09C18A5758")]
    public void The_generator_gives_the_data_sets_it_gave_before_it_stopped_sorting_every_key(int users, int items, int mean, int min, int negatives,
        ulong seed, string expected)
    {
        var data = SyntheticData.Generate(new SyntheticDataOptions
        {
            Users = users, Items = items, MeanPerUser = mean, MinPerUser = min, TestNegatives = negatives, Seed = seed,
        });
        Assert.Equal(expected, Fingerprint(data));
    }

    [Fact]
    public void Shapes_that_cannot_be_generated_are_refused_by_name()
    {
        var valid = new SyntheticDataOptions { Users = 10, Items = 200 };
        SyntheticData.Generate(valid);
        foreach (var invalid in new[]
        {
            valid with { MeanPerUser = 1, MinPerUser = 2 },       // a mean below the minimum left users without two items
            valid with { TasteWeight = double.PositiveInfinity }, // infinite or NaN weights make every key NaN
            valid with { TasteWeight = double.NaN },
            valid with { PopularitySkew = double.PositiveInfinity },
            valid with { TestNegatives = -1 },
        })
        {
            var error = Assert.Throws<NcfException>(() => SyntheticData.Generate(invalid));
            Assert.StartsWith("Synthetic data needs", error.Message);
        }
    }

    [Fact]
    public void Each_user_has_distinct_items_a_test_item_outside_them_and_negatives_outside_both()
    {
        var data = SyntheticData.Generate(new SyntheticDataOptions { Users = 200, Items = 3000, MeanPerUser = 60, MinPerUser = 5, TestNegatives = 50 });
        var test = data.Test!;
        for (int c = 0; c < test.Count; c++)
        {
            int user = test.Users[c];
            var train = Enumerable.Range(0, data.TrainCount).Where(n => data.TrainUsers[n] == user).Select(n => data.TrainItems[n]).ToList();
            Assert.True(train.Count >= 4, $"user {user} has {train.Count} training items");
            Assert.Equal(train.Count, train.Distinct().Count());
            Assert.DoesNotContain(test.TargetItems[c], train);
            var negatives = test.Negatives.AsSpan(c * 50, 50).ToArray();
            Assert.Equal(50, negatives.Distinct().Count());
            Assert.Empty(negatives.Intersect(train.Append(test.TargetItems[c])));
        }
    }
}
