namespace Ncf.Data;

/// <summary>
/// A raw interaction log as read from a file, before any split: row n says that user <c>Users[n]</c> interacted
/// with item <c>Items[n]</c> (rating <c>Ratings[n]</c>, time <c>Timestamps[n]</c>). Rows are in file order,
/// which breaks timestamp ties. Users and items are dense indices assigned in order of first appearance;
/// <see cref="UserIds"/> and <see cref="ItemIds"/> map them back to the IDs written in the file.
/// Repeated (user, item) rows are kept as they are.
/// </summary>
public sealed class InteractionLog
{
    /// <summary>Creates a log; the arrays are taken as they are (not copied) and must have equal lengths.</summary>
    /// <exception cref="ArgumentException">The arrays differ in length or an index is outside the ID maps.</exception>
    public InteractionLog(string source, IdMap userIds, IdMap itemIds, int[] users, int[] items, float[] ratings, long[] timestamps,
        bool hasRatings, bool hasTimestamps)
    {
        if (users.Length != items.Length || users.Length != ratings.Length || users.Length != timestamps.Length)
        {
            throw new ArgumentException("users, items, ratings and timestamps must have the same length.");
        }

        for (int n = 0; n < users.Length; n++)
        {
            if ((uint)users[n] >= (uint)userIds.Count || (uint)items[n] >= (uint)itemIds.Count)
            {
                throw new ArgumentException($"Row {n} ({users[n]}, {items[n]}) is outside {userIds.Count} users x {itemIds.Count} items.");
            }
        }

        Source = source;
        UserIds = userIds;
        ItemIds = itemIds;
        Users = users;
        Items = items;
        Ratings = ratings;
        Timestamps = timestamps;
        HasRatings = hasRatings;
        HasTimestamps = hasTimestamps;
    }

    /// <summary>Where the log came from (a file path), for messages.</summary>
    public string Source { get; }

    /// <summary>External user IDs; index = dense user index.</summary>
    public IdMap UserIds { get; }

    /// <summary>External item IDs; index = dense item index.</summary>
    public IdMap ItemIds { get; }

    /// <summary>Dense user index of each row.</summary>
    public int[] Users { get; }

    /// <summary>Dense item index of each row.</summary>
    public int[] Items { get; }

    /// <summary>Rating of each row (1 when the file has no rating column). Every row counts as a positive.</summary>
    public float[] Ratings { get; }

    /// <summary>Timestamp of each row: an integer column as written (Unix seconds for MovieLens), an ISO 8601 column
    /// as 100-ns ticks since 1970-01-01 UTC (<c>DateTime.UnixEpoch.AddTicks(t)</c>); 0 when the file has none. Only
    /// their order is used.</summary>
    public long[] Timestamps { get; }

    /// <summary>True when the file had a rating column.</summary>
    public bool HasRatings { get; }

    /// <summary>True when the file had a timestamp column; otherwise "latest" means "last in the file".</summary>
    public bool HasTimestamps { get; }

    /// <summary>Number of rows.</summary>
    public int Count => Users.Length;

    /// <summary>Number of distinct users.</summary>
    public int UserCount => UserIds.Count;

    /// <summary>Number of distinct items.</summary>
    public int ItemCount => ItemIds.Count;
}
