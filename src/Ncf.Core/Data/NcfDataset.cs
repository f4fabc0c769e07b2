namespace Ncf.Data;

/// <summary>
/// A split implicit-feedback data set ready for training: the training positives, the leave-one-out test cases
/// (and optionally validation cases), and the external ID maps. Users and items are dense indices.
/// </summary>
public sealed class NcfDataset
{
    /// <summary>Creates a data set; the training pairs are kept in the given order (it fixes sampling order).</summary>
    public NcfDataset(string name, int userCount, int itemCount, int[] trainUsers, int[] trainItems,
        EvaluationSet? test, EvaluationSet? validation = null, IdMap? userIds = null, IdMap? itemIds = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(userCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(itemCount);
        Name = name;
        UserCount = userCount;
        ItemCount = itemCount;
        TrainUsers = trainUsers;
        TrainItems = trainItems;
        Train = new UserItemIndex(userCount, itemCount, trainUsers, trainItems);
        Test = test;
        Validation = validation;
        UserIds = userIds ?? IdMap.Identity(userCount);
        ItemIds = itemIds ?? IdMap.Identity(itemCount);
        if (UserIds.Count != userCount || ItemIds.Count != itemCount)
        {
            throw new ArgumentException("ID maps must have one entry per user and per item.");
        }

        foreach (var set in new[] { test, validation })
        {
            if (set is null)
            {
                continue;
            }

            for (int c = 0; c < set.Count; c++)
            {
                if ((uint)set.Users[c] >= (uint)userCount || (uint)set.TargetItems[c] >= (uint)itemCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(test), $"Evaluation case {c} ({set.Users[c]}, {set.TargetItems[c]}) is outside the data set.");
                }
            }

            foreach (int negative in set.Negatives)
            {
                if ((uint)negative >= (uint)itemCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(test), $"Evaluation negative {negative} is outside the {itemCount} items.");
                }
            }
        }
    }

    /// <summary>
    /// Remarks from loading that a user should see but that are not errors, one sentence each: how held-out cases were
    /// chosen where the data gave no timestamps. Empty when there is nothing to say.
    /// </summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>A label for reports (file name or "synthetic").</summary>
    public string Name { get; }

    /// <summary>Number of users (embedding rows).</summary>
    public int UserCount { get; }

    /// <summary>Number of items (embedding rows).</summary>
    public int ItemCount { get; }

    /// <summary>User of each training positive.</summary>
    public int[] TrainUsers { get; }

    /// <summary>Item of each training positive.</summary>
    public int[] TrainItems { get; }

    /// <summary>Number of training positives.</summary>
    public int TrainCount => TrainUsers.Length;

    /// <summary>Each user's training items (for negative sampling).</summary>
    public UserItemIndex Train { get; }

    private UserItemIndex? _known;

    /// <summary>
    /// Each user's every known item: training positives and the held-out validation and test targets. Recommendations
    /// exclude these (a user's latest interaction is held out for the test, yet it is still something they have seen),
    /// and full-catalogue ranking skips them as competitors of the target (a held-out positive is not a negative).
    /// Without hold-outs it holds the same pairs as <see cref="Train"/>. Built on first use (two threads racing to it
    /// may each build it; the copies are equal, so either is kept).
    /// </summary>
    public UserItemIndex Known => _known ??= BuildKnown();

    /// <summary>Test cases (leave-one-out), if any.</summary>
    public EvaluationSet? Test { get; }

    /// <summary>Validation cases (each user's second-latest interaction), if requested.</summary>
    public EvaluationSet? Validation { get; }

    /// <summary>External user IDs.</summary>
    public IdMap UserIds { get; }

    /// <summary>External item IDs.</summary>
    public IdMap ItemIds { get; }

    private UserItemIndex BuildKnown()
    {
        if (Test is null && Validation is null)
        {
            return Train;
        }

        int held = (Test?.Count ?? 0) + (Validation?.Count ?? 0);
        var users = new int[TrainCount + held];
        var items = new int[TrainCount + held];
        TrainUsers.CopyTo(users, 0);
        TrainItems.CopyTo(items, 0);
        int n = TrainCount;
        foreach (var set in new[] { Validation, Test })
        {
            if (set is null)
            {
                continue;
            }

            set.Users.CopyTo(users, n);
            set.TargetItems.CopyTo(items, n);
            n += set.Count;
        }

        return new UserItemIndex(UserCount, ItemCount, users, items);
    }

    /// <summary>Number of training interactions per item (the popularity baseline's score).</summary>
    public int[] ItemPopularity()
    {
        var counts = new int[ItemCount];
        foreach (int item in TrainItems)
        {
            counts[item]++;
        }

        return counts;
    }
}
