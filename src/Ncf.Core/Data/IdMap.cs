namespace Ncf.Data;

/// <summary>
/// Maps external IDs (strings as they appear in the user's files) to dense indices <c>0..Count-1</c> and back.
/// </summary>
public sealed class IdMap
{
    private readonly List<string> _ids = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    /// <summary>An empty map.</summary>
    public IdMap()
    {
    }

    /// <summary>A map whose index i is <paramref name="ids"/>[i]; IDs must be distinct.</summary>
    public IdMap(IEnumerable<string> ids)
    {
        foreach (string id in ids)
        {
            if (!_index.TryAdd(id, _ids.Count))
            {
                throw new ArgumentException($"Duplicate id '{id}'.", nameof(ids));
            }

            _ids.Add(id);
        }
    }

    /// <summary>The map <c>"0" → 0, "1" → 1, ...</c> for data whose IDs already are dense indices.</summary>
    public static IdMap Identity(int count) => new(Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Number of IDs.</summary>
    public int Count => _ids.Count;

    /// <summary>The external ID of a dense index.</summary>
    public string this[int index] => _ids[index];

    /// <summary>All external IDs in index order.</summary>
    public IReadOnlyList<string> Ids => _ids;

    /// <summary>The index of <paramref name="id"/>, adding it when new.</summary>
    public int GetOrAdd(string id)
    {
        if (_index.TryGetValue(id, out int index))
        {
            return index;
        }

        index = _ids.Count;
        _index.Add(id, index);
        _ids.Add(id);
        return index;
    }

    /// <summary>The index of <paramref name="id"/>, when known.</summary>
    public bool TryGetIndex(string id, out int index) => _index.TryGetValue(id, out index);
}
