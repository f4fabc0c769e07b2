using System.Globalization;

namespace Ncf.Data;

/// <summary>
/// Assigns dense indices to integer external IDs in order of first appearance and records them in an
/// <see cref="IdMap"/> as invariant decimal strings. Small non-negative IDs (the MovieLens case) go through a
/// flat lookup table, so the hot path is one array read and a string is made once per distinct ID.
/// </summary>
internal sealed class NumericIdInterner
{
    // IDs below this use the table (at most 64 MiB of int); larger or negative IDs use the dictionary.
    private const long TableLimit = 1 << 24;
    private int[] _table = CreateTable(1024);
    private Dictionary<long, int>? _large;

    /// <summary>The external IDs, in index order.</summary>
    public IdMap Ids { get; } = new();

    /// <summary>The dense index of <paramref name="id"/>, assigning the next one when it is new.</summary>
    public int GetOrAdd(long id)
    {
        if ((ulong)id < (ulong)_table.Length)
        {
            int known = _table[id];
            if (known >= 0)
            {
                return known;
            }
        }

        return AddSlow(id);
    }

    private int AddSlow(long id)
    {
        if (id >= 0 && id < TableLimit)
        {
            if (id >= _table.Length)
            {
                long size = _table.Length;
                while (size <= id)
                {
                    size *= 2;
                }

                int old = _table.Length;
                Array.Resize(ref _table, (int)size);
                _table.AsSpan(old).Fill(-1);
            }

            int index = Ids.GetOrAdd(id.ToString(CultureInfo.InvariantCulture));
            _table[id] = index;
            return index;
        }

        _large ??= [];
        if (!_large.TryGetValue(id, out int found))
        {
            found = Ids.GetOrAdd(id.ToString(CultureInfo.InvariantCulture));
            _large.Add(id, found);
        }

        return found;
    }

    private static int[] CreateTable(int size)
    {
        var table = new int[size];
        table.AsSpan().Fill(-1);
        return table;
    }
}
