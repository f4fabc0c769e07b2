namespace Ncf.Data;

/// <summary>Growable column arrays that readers append rows to; <see cref="Build"/> trims them into an <see cref="InteractionLog"/>.</summary>
internal sealed class InteractionLogBuilder
{
    private int[] _users;
    private int[] _items;
    private float[] _ratings;
    private long[] _timestamps;

    /// <summary>Starts with room for about <paramref name="expectedRows"/> rows.</summary>
    public InteractionLogBuilder(long expectedRows)
    {
        int capacity = (int)Math.Clamp(expectedRows, 256, 1 << 26);
        _users = new int[capacity];
        _items = new int[capacity];
        _ratings = new float[capacity];
        _timestamps = new long[capacity];
    }

    /// <summary>Rows added so far.</summary>
    public int Count { get; private set; }

    /// <summary>Appends one row.</summary>
    public void Add(int user, int item, float rating, long timestamp)
    {
        if (Count == _users.Length)
        {
            Grow();
        }

        _users[Count] = user;
        _items[Count] = item;
        _ratings[Count] = rating;
        _timestamps[Count] = timestamp;
        Count++;
    }

    /// <summary>The finished log; an empty one is a <see cref="DataFormatException"/> for <paramref name="source"/>.</summary>
    public InteractionLog Build(string source, IdMap userIds, IdMap itemIds, bool hasRatings, bool hasTimestamps)
    {
        if (Count == 0)
        {
            throw new DataFormatException(source, 0, "no interactions found (the file is empty or holds only blank or header lines)");
        }

        return new InteractionLog(source, userIds, itemIds, Trim(_users), Trim(_items), Trim(_ratings), Trim(_timestamps), hasRatings, hasTimestamps);
    }

    private T[] Trim<T>(T[] array) => array.Length == Count ? array : array.AsSpan(0, Count).ToArray();

    private void Grow()
    {
        long size = Math.Min((long)_users.Length * 2, Array.MaxLength);
        if (size == _users.Length)
        {
            throw new NcfException("More interactions than one array can hold.");
        }

        Array.Resize(ref _users, (int)size);
        Array.Resize(ref _items, (int)size);
        Array.Resize(ref _ratings, (int)size);
        Array.Resize(ref _timestamps, (int)size);
    }
}
