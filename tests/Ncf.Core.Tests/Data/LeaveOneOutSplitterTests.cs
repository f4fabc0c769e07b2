using Ncf.Data;
using Ncf.Randomness;

namespace Ncf.Core.Tests.Data;

public sealed class LeaveOneOutSplitterTests
{
    // Hand-made log over items x y z w v (indices 0..4):
    //  A: x@5, y@9, z@9 (tie with y, later line: z is the latest), w@3, and a repeat of z@1.
    //  B: x@1, y@2 (latest), v@0.      C: x@4 only (no test case).
    private static InteractionLog HandMadeLog()
    {
        string[] users = ["A", "A", "A", "B", "A", "B", "C", "A", "B"];
        string[] items = ["x", "y", "z", "x", "w", "y", "x", "z", "v"];
        long[] times = [5, 9, 9, 1, 3, 2, 4, 1, 0];
        return Log(users, items, times);
    }

    private static InteractionLog Log(string[] users, string[] items, long[] times, bool hasTimestamps = true)
    {
        var userIds = new IdMap();
        var itemIds = new IdMap();
        var u = users.Select(userIds.GetOrAdd).ToArray();
        var i = items.Select(itemIds.GetOrAdd).ToArray();
        return new InteractionLog("hand-made", userIds, itemIds, u, i, new float[u.Length], times, hasRatings: false, hasTimestamps);
    }

    [Fact]
    public void TestItemIsLatest_TieGoesToLaterLine_SingleItemUserHasNoTestCase()
    {
        var data = LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 1 });

        Assert.Equal(["A", "B", "C"], data.UserIds.Ids);
        Assert.Equal(["x", "y", "z", "w", "v"], data.ItemIds.Ids);
        Assert.Equal([0, 1], data.Test!.Users);
        Assert.Equal([2, 1], data.Test.TargetItems); // A -> z, B -> y
        Assert.Null(data.Validation);

        // Training in file order, without any row of a test pair (A's repeated z is gone too).
        Assert.Equal([0, 0, 1, 0, 2, 1], data.TrainUsers);
        Assert.Equal([0, 1, 0, 3, 0, 4], data.TrainItems);
        Assert.Equal([4], data.Test.NegativesOf(0).ToArray()); // v is A's only unseen item
        Assert.Contains(data.Test.NegativesOf(1)[0], (int[])[2, 3]);
    }

    [Fact]
    public void HoldOutNone_TrainsOnEveryDistinctPair_AndKeepsNoCases()
    {
        // Every row of the hand-made log in file order, A's repeated z once: the tie-breaking and latest-item rules
        // play no part. A user who has seen every item (B after v) is no error: no negatives are drawn.
        var data = LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { HoldOut = HoldOut.None, TestNegatives = 4 });

        Assert.Null(data.Test);
        Assert.Null(data.Validation);
        Assert.Equal([0, 0, 0, 1, 0, 1, 2, 1], data.TrainUsers);
        Assert.Equal([0, 1, 2, 0, 3, 1, 0, 4], data.TrainItems);
        Assert.Same(data.Train, data.Known);
        Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { HoldOut = HoldOut.None, Validation = true }));
    }

    [Fact]
    public void Validation_IsSecondLatest_AndLeavesTraining()
    {
        var data = LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 1, Validation = true });

        Assert.NotNull(data.Validation);
        Assert.Equal([0, 1], data.Validation.Users);
        Assert.Equal([1, 0], data.Validation.TargetItems); // A -> y, B -> x
        Assert.Equal([0, 0, 2, 1], data.TrainUsers);
        Assert.Equal([0, 3, 0, 4], data.TrainItems);
        Assert.Equal([4], data.Validation.NegativesOf(0).ToArray());
    }

    [Fact]
    public void Validation_UserWithTwoItems_GetsATestCaseOnly()
    {
        var log = Log(["a", "a", "b", "b", "b"], ["x", "y", "x", "y", "z"], [1, 2, 1, 2, 3]);
        var data = LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = 0, Validation = true });

        Assert.Equal([0, 1], data.Test!.Users);
        Assert.Equal([1], data.Validation!.Users);
        Assert.Equal([1], data.Validation.TargetItems);
        Assert.Equal([0], data.TrainUsers.Zip(data.TrainItems).Where(p => p.First == 0).Select(p => p.Second));
        Assert.Equal([0], data.Train.ItemsOf(1).ToArray());
    }

    [Fact]
    public void AHoldOutThatFindsNoCase_IsAnError_NotAnEmptySet()
    {
        // One item per user: nothing to test on (an empty test set would score HR@10 = 0 at every epoch).
        var singles = Log(["a", "b"], ["x", "y"], [1, 2]);
        var noTest = Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(singles, new DataLoadOptions { TestNegatives = 1 }));
        Assert.Contains("hand-made: no user has two or more distinct items", noTest.Message);
        Assert.Equal(2, LeaveOneOutSplitter.Split(singles, new DataLoadOptions { HoldOut = HoldOut.None }).TrainCount); // the remedy the message names

        // Two distinct items per user (one repeated): a test case each, but no validation case without emptying a user.
        var pairs = Log(["a", "a", "a", "b", "b"], ["x", "y", "x", "y", "z"], [1, 2, 3, 1, 2]);
        Assert.Equal(2, LeaveOneOutSplitter.Split(pairs, new DataLoadOptions { TestNegatives = 1 }).Test!.Count);
        var noValidation = Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(pairs, new DataLoadOptions { TestNegatives = 1, Validation = true }));
        Assert.Contains("hand-made: no user has three or more distinct items", noValidation.Message);
    }

    [Fact]
    public void UserWhoSawEveryItem_IsNamedInTheError()
    {
        var error = Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 2 }));

        Assert.Contains("user 'A'", error.Message);
        Assert.Contains("4 of the 5 items", error.Message);
    }

    [Fact]
    public void MinInteractions_DropsUsersAndReindexesDensely()
    {
        var three = LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 1, MinInteractionsPerUser = 3 });
        Assert.Equal(["A", "B"], three.UserIds.Ids);
        Assert.Equal(5, three.ItemCount);

        var four = LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 0, MinInteractionsPerUser = 4 });
        Assert.Equal(["A"], four.UserIds.Ids);
        Assert.Equal(["x", "y", "z", "w"], four.ItemIds.Ids);
        Assert.Equal([2], four.Test!.TargetItems);
        Assert.Equal(0, four.Test.NegativesOf(0).Length);

        Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { MinInteractionsPerUser = 5 }));
    }

    [Fact]
    public void NoTimestamps_LastLineIsLatest()
    {
        var log = Log(["u", "u", "u", "v", "v"], ["a", "b", "c", "a", "b"], [0, 0, 0, 0, 0], hasTimestamps: false);
        var data = LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = 0 });
        var withValidation = LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = 0, Validation = true });

        Assert.Equal([2, 1], data.Test!.TargetItems);
        Assert.Equal([1], withValidation.Validation!.TargetItems);

        // The user is told that the split rests on the file's order.
        string note = Assert.Single(data.Notes);
        Assert.Contains("hand-made has no timestamps: each user's last line is the test case,", note);
        Assert.Contains("and the last line with another item the validation case", Assert.Single(withValidation.Notes));
        Assert.Empty(LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 1 }).Notes);
        Assert.Empty(LeaveOneOutSplitter.Split(log, new DataLoadOptions { HoldOut = HoldOut.None }).Notes);
    }

    [Theory]
    [InlineData(2, "Lower the number of test negatives to 1 or fewer (ncf: --test-neg).")] // A touched 4 of 5 items
    [InlineData(9, "Lower the number of test negatives to 1 or fewer (ncf: --test-neg): the catalogue holds only 5 items.")]
    public void TooFewUnseenItemsForTheNegatives_IsAnErrorSayingHowManyFit(int negatives, string advice)
    {
        var error = Assert.Throws<NcfException>(() => LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = negatives }));

        Assert.Equal($"hand-made: user 'A' has interacted with 4 of the 5 items, leaving 1 unseen; {negatives} distinct negatives "
            + "per evaluation case cannot be drawn. " + advice, error.Message);
        Assert.NotNull(LeaveOneOutSplitter.Split(HandMadeLog(), new DataLoadOptions { TestNegatives = 1 }).Test);
    }

    [Theory]
    [InlineData(99)]
    [InlineData(200)] // close to the number of unseen items: the dense (shuffle) path
    public void Negatives_AreDistinctUnseenAndDeterministic(int negativesPerCase)
    {
        var log = RandomLog(users: 40, items: 300, seed: 3);
        var options = new DataLoadOptions { TestNegatives = negativesPerCase, Validation = true, Seed = 11 };
        var data = LeaveOneOutSplitter.Split(log, options);
        var same = LeaveOneOutSplitter.Split(log, options);
        var other = LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = negativesPerCase, Validation = true, Seed = 12 });

        Assert.Equal(same.Test!.Negatives, data.Test!.Negatives);
        Assert.Equal(same.Validation!.Negatives, data.Validation!.Negatives);
        Assert.NotEqual(other.Test!.Negatives, data.Test.Negatives);

        // Everything each user touched in the whole log, from the raw rows (external IDs, independent of the splitter).
        var touched = new Dictionary<string, HashSet<string>>();
        for (int n = 0; n < log.Count; n++)
        {
            string user = log.UserIds[log.Users[n]];
            if (!touched.TryGetValue(user, out var set))
            {
                touched[user] = set = [];
            }

            set.Add(log.ItemIds[log.Items[n]]);
        }

        foreach (var cases in new[] { data.Test, data.Validation })
        {
            Assert.True(cases.Count > 0);
            for (int c = 0; c < cases.Count; c++)
            {
                var negatives = cases.NegativesOf(c).ToArray();
                Assert.Equal(negativesPerCase, negatives.Length);
                Assert.Equal(negatives.Length, negatives.Distinct().Count());
                var seen = touched[data.UserIds[cases.Users[c]]];
                Assert.All(negatives, n => Assert.DoesNotContain(data.ItemIds[n], seen));
            }
        }
    }

    [Fact]
    public void HeldOutPairs_NeverAppearInTraining()
    {
        var log = RandomLog(users: 30, items: 60, seed: 9, repeats: true);
        var data = LeaveOneOutSplitter.Split(log, new DataLoadOptions { TestNegatives = 5, Validation = true });

        for (int c = 0; c < data.Test!.Count; c++)
        {
            Assert.False(data.Train.Contains(data.Test.Users[c], data.Test.TargetItems[c]));
        }

        for (int c = 0; c < data.Validation!.Count; c++)
        {
            Assert.False(data.Train.Contains(data.Validation.Users[c], data.Validation.TargetItems[c]));
        }

        // Training pairs are unique.
        var pairs = data.TrainUsers.Zip(data.TrainItems).ToList();
        Assert.Equal(pairs.Count, pairs.Distinct().Count());
    }

    private static InteractionLog RandomLog(int users, int items, ulong seed, bool repeats = false)
    {
        var rng = new Rng(seed);
        var u = new List<string>();
        var i = new List<string>();
        var t = new List<long>();
        for (int user = 0; user < users; user++)
        {
            int count = 3 + rng.NextInt(items / 6);
            var chosen = new HashSet<int>();
            while (chosen.Count < count)
            {
                chosen.Add(rng.NextInt(items));
            }

            foreach (int item in chosen)
            {
                int times = repeats ? 1 + rng.NextInt(3) : 1;
                for (int r = 0; r < times; r++)
                {
                    u.Add("user" + user);
                    i.Add("item" + item);
                    t.Add(rng.NextInt(50));
                }
            }
        }

        // Every item appears at least once (spread over the users) so the item space is the full range.
        for (int item = 0; item < items; item++)
        {
            u.Add("user" + (item % users));
            i.Add("item" + item);
            t.Add(0);
        }

        return Log([.. u], [.. i], [.. t]);
    }
}
