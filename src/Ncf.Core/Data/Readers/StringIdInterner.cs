using System.Buffers;
using System.Text;

namespace Ncf.Data;

/// <summary>
/// Assigns dense indices to arbitrary string IDs (UTF-8 bytes from a file) in order of first appearance. Lookups
/// decode into a stack buffer and probe the dictionary with a span, so only new IDs allocate a string.
/// IDs are compared exactly (ordinal): "01" and "1" are different IDs.
/// </summary>
internal sealed class StringIdInterner
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>An empty interner.</summary>
    public StringIdInterner()
    {
        _lookup = _index.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The external IDs, in index order.</summary>
    public IdMap Ids { get; } = new();

    /// <summary>The dense index of the ID spelled by <paramref name="utf8"/>, assigning the next one when it is new.</summary>
    public int GetOrAdd(ReadOnlySpan<byte> utf8)
    {
        char[]? rented = null;
        Span<char> chars = utf8.Length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(utf8.Length));
        try
        {
            int length = Encoding.UTF8.GetChars(utf8, chars);
            var id = chars[..length];
            if (_lookup.TryGetValue(id, out int index))
            {
                return index;
            }

            string text = id.ToString();
            index = Ids.GetOrAdd(text);
            _index.Add(text, index);
            return index;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}
