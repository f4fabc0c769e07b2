using System.Globalization;
using System.Text;

namespace Ncf.Data;

/// <summary>
/// Reads a generic delimited interaction file, <c>user SEP item [SEP rating [SEP timestamp]]</c>, with arbitrary
/// string IDs (compared exactly; kept as written in <see cref="InteractionLog.UserIds"/>/<see cref="InteractionLog.ItemIds"/>).
/// </summary>
/// <remarks>
/// <para>The delimiter is taken from the first non-blank line: "::" if present, else tab, else ';', else ','.</para>
/// <para>A header is detected (unless <c>hasHeader</c> says otherwise) when a field of the first line is a known
/// column name (user, userId, user_id, item, itemId, movieId, product, rating, score, timestamp, time, date, ...) or
/// its third field is not a number. With a header naming the user and item columns, columns are found by name
/// in any order; otherwise they are positional. The number of columns used is fixed by the header or by the
/// first data line (at most four); every later line must have at least that many.</para>
/// <para>Fields are trimmed of spaces. With a one-character delimiter, fields may be quoted as RFC 4180 (and
/// Excel, pandas and most databases) write them: a field starting with '"' runs to its closing quote, may hold the
/// delimiter, and writes a quote inside as two (""); a quoted field must end on its line. In comma- and
/// semicolon-separated files broken quoting is an error naming the line and field; in tab-separated ones, which are
/// often written without quoting, such a field is read literally. With '::' one pair of surrounding quotes is removed.
/// The rating is a decimal number (every row counts as a positive whatever its value; 1 when absent); the
/// timestamp is an integer (Unix seconds) or an ISO 8601 date-time, converted to Unix seconds (UTC assumed).
/// Blank lines are skipped; CRLF, a UTF-8 byte-order mark and a missing final newline are accepted.</para>
/// <para>Throws <see cref="NcfException"/> when the file cannot be opened and <see cref="DataFormatException"/>
/// (file, 1-based line, what was expected) for a malformed line or a file without interactions.</para>
/// </remarks>
public static class DelimitedInteractionReader
{
    private const int MaxColumns = 64;

    private static readonly string[] UserNames = ["user", "userid", "uid", "users", "customer", "customerid", "visitorid"];
    private static readonly string[] ItemNames = ["item", "itemid", "iid", "items", "movie", "movieid", "product", "productid", "asin", "track", "trackid", "song", "songid", "artist", "artistid"];
    private static readonly string[] RatingNames = ["rating", "ratings", "score", "stars", "value", "weight", "count", "playcount"];
    private static readonly string[] TimeNames = ["timestamp", "time", "ts", "date", "datetime", "unixtime", "unixtimestamp", "created", "createdat"];

    /// <summary>Reads <paramref name="path"/>; <paramref name="hasHeader"/> forces (true/false) or detects (null) the header.</summary>
    public static InteractionLog Read(string path, bool? hasHeader = null)
    {
        using var reader = new Utf8LineReader(path);
        var users = new StringIdInterner();
        var items = new StringIdInterner();
        var rows = new InteractionLogBuilder(reader.Length / 16);
        Span<Range> fields = stackalloc Range[MaxColumns];
        byte[]? userScratch = null, itemScratch = null;
        byte[] delimiter = [];
        string delimiterName = "";
        var layout = default(Layout);
        bool configured = false;
        while (reader.TryReadLine(out var line))
        {
            if (FieldSplitter.IsBlank(line))
            {
                continue;
            }

            if (!configured)
            {
                configured = true;
                (delimiter, delimiterName) = DetectDelimiter(line) ?? throw new DataFormatException(path, reader.LineNumber,
                    "expected user and item separated by a comma, tab, semicolon or '::'; found no delimiter");
                int firstCount = Split(line, delimiter, fields, reader);
                var first = fields[..Math.Min(firstCount, MaxColumns)];
                if (hasHeader ?? LooksLikeHeader(line, first))
                {
                    layout = Layout.FromHeader(line, first);
                    continue;
                }

                layout = Layout.Positional(firstCount);
            }

            int count = Split(line, delimiter, fields, reader);
            if (count < layout.Required)
            {
                throw new DataFormatException(path, reader.LineNumber,
                    $"expected {layout.Required} {delimiterName}-separated fields {layout.Describe()}; found {count}");
            }

            ReadOnlySpan<byte> userField = line[fields[layout.User]], itemField = line[fields[layout.Item]];
            var userText = delimiter.Length == 1 ? FieldSplitter.Unquote(userField, ref userScratch) : FieldSplitter.Clean(userField);
            var itemText = delimiter.Length == 1 ? FieldSplitter.Unquote(itemField, ref itemScratch) : FieldSplitter.Clean(itemField);
            if (userText.IsEmpty || itemText.IsEmpty)
            {
                throw new DataFormatException(path, reader.LineNumber, userText.IsEmpty ? "the user ID is empty" : "the item ID is empty");
            }

            float rating = 1f;
            if (layout.Rating >= 0)
            {
                var ratingText = FieldSplitter.Clean(line[fields[layout.Rating]]);
                if (!Utf8Number.TryParseSingle(ratingText, out rating))
                {
                    throw new DataFormatException(path, reader.LineNumber, $"rating '{FieldSplitter.Show(ratingText)}' is not a number");
                }
            }

            long time = 0;
            if (layout.Time >= 0)
            {
                var timeText = FieldSplitter.Clean(line[fields[layout.Time]]);
                if (!TryParseTime(timeText, out time))
                {
                    throw new DataFormatException(path, reader.LineNumber,
                        $"timestamp '{FieldSplitter.Show(timeText)}' is neither an integer (Unix seconds) nor an ISO 8601 date-time");
                }
            }

            rows.Add(users.GetOrAdd(userText), items.GetOrAdd(itemText), rating, time);
        }

        return rows.Build(path, users.Ids, items.Ids, layout.Rating >= 0, layout.Time >= 0);
    }

    /// <summary>
    /// The delimiter of a line: "::", tab, ';' or ',' in that order of preference. A one-byte candidate must split the
    /// line into at least two well-quoted fields (so a quoted "Smith, J." does not make a tab-separated file
    /// comma-separated); when none does, as in <c>5" screen,item</c>, the first candidate present anywhere is taken.
    /// Null when none occurs.
    /// </summary>
    internal static (byte[] Bytes, string Name)? DetectDelimiter(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf("::"u8) >= 0)
        {
            return ("::"u8.ToArray(), "'::'");
        }

        ReadOnlySpan<(byte Byte, string Name)> candidates = [((byte)'\t', "tab"), ((byte)';', "semicolon"), ((byte)',', "comma")];
        Span<Range> probe = stackalloc Range[2];
        foreach (var (delimiter, name) in candidates)
        {
            if (FieldSplitter.SplitQuoted(line, delimiter, probe, out string? error) >= 2 && error is null)
            {
                return ([delimiter], name);
            }
        }

        foreach (var (delimiter, name) in candidates)
        {
            if (line.IndexOf(delimiter) >= 0)
            {
                return ([delimiter], name);
            }
        }

        return null;
    }

    // One-byte delimiters honour quoting (strictly for ',' and ';', leniently for tab); "::" (MovieLens-style
    // files, never quoted) splits plainly.
    private static int Split(ReadOnlySpan<byte> line, byte[] delimiter, Span<Range> fields, Utf8LineReader reader)
    {
        if (delimiter.Length != 1)
        {
            return FieldSplitter.Split(line, delimiter, fields);
        }

        int count = FieldSplitter.SplitQuoted(line, delimiter[0], fields, out string? error, lenient: delimiter[0] == (byte)'\t');
        return count >= 0 ? count : throw new DataFormatException(reader.Path, reader.LineNumber, error!);
    }

    private static bool LooksLikeHeader(ReadOnlySpan<byte> line, ReadOnlySpan<Range> fields)
    {
        foreach (var range in fields)
        {
            string name = Normalise(line[range]);
            if (UserNames.Contains(name) || ItemNames.Contains(name) || RatingNames.Contains(name) || TimeNames.Contains(name))
            {
                return true;
            }
        }

        return fields.Length >= 3 && !Utf8Number.TryParseSingle(FieldSplitter.Clean(line[fields[2]]), out _);
    }

    // Lower case without separators, so "User_ID", "userId" and "user id" compare equal.
    private static string Normalise(ReadOnlySpan<byte> field)
    {
        var builder = new StringBuilder(field.Length);
        foreach (byte b in FieldSplitter.Clean(field))
        {
            if (b is (byte)'_' or (byte)'-' or (byte)' ' or (byte)'.')
            {
                continue;
            }

            builder.Append(char.ToLowerInvariant((char)b));
        }

        return builder.ToString();
    }

    private static bool TryParseTime(ReadOnlySpan<byte> text, out long seconds)
    {
        if (Utf8Number.TryParseInt64(text, out seconds))
        {
            return true;
        }

        Span<char> chars = stackalloc char[64];
        if (text.Length <= chars.Length && Encoding.UTF8.TryGetChars(text, chars, out int length)
            && DateTimeOffset.TryParse(chars[..length], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when))
        {
            seconds = when.ToUnixTimeSeconds();
            return true;
        }

        seconds = 0;
        return false;
    }

    /// <summary>Which column holds what (−1: absent) and how many columns a data line needs.</summary>
    private readonly record struct Layout(int User, int Item, int Rating, int Time)
    {
        public int Required => Math.Max(Math.Max(User, Item), Math.Max(Rating, Time)) + 1;

        public static Layout Positional(int columns) => new(0, 1, columns >= 3 ? 2 : -1, columns >= 4 ? 3 : -1);

        public static Layout FromHeader(ReadOnlySpan<byte> line, ReadOnlySpan<Range> fields)
        {
            int user = -1, item = -1, rating = -1, time = -1;
            for (int c = 0; c < fields.Length; c++)
            {
                string name = Normalise(line[fields[c]]);
                if (user < 0 && UserNames.Contains(name))
                {
                    user = c;
                }
                else if (item < 0 && ItemNames.Contains(name))
                {
                    item = c;
                }
                else if (rating < 0 && RatingNames.Contains(name))
                {
                    rating = c;
                }
                else if (time < 0 && TimeNames.Contains(name))
                {
                    time = c;
                }
            }

            return user >= 0 && item >= 0 ? new Layout(user, item, rating, time) : Positional(fields.Length);
        }

        public string Describe()
        {
            var names = new string[Required];
            for (int c = 0; c < names.Length; c++)
            {
                names[c] = c == User ? "user" : c == Item ? "item" : c == Rating ? "rating" : c == Time ? "timestamp" : "(ignored)";
            }

            return string.Join(", ", names);
        }
    }
}
