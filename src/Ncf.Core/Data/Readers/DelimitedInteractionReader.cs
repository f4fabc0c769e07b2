using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace Ncf.Data;

/// <summary>
/// Reads a generic delimited interaction file, <c>user SEP item [SEP rating [SEP timestamp]]</c>, with arbitrary
/// string IDs (compared exactly; kept as written in <see cref="InteractionLog.UserIds"/>/<see cref="InteractionLog.ItemIds"/>).
/// </summary>
/// <remarks>
/// <para>The delimiter is taken from the first non-blank line: "::" if present, else tab, else ';', else ','.</para>
/// <para>A header is detected (unless <c>hasHeader</c> says otherwise) when a field of the first line names a user or
/// an item column (user, userId, user_id, customer, item, itemId, movieId, product, asin, track, ...), or when the
/// line has three or more fields and its third and fourth hold neither numbers nor date-times (a header with other
/// names). A header naming the user and item columns places them, and a rating and a timestamp column, by name in
/// any order; one naming neither, or only one of the two where the positions put it (user first, item second), is
/// positional; one naming only one of the two elsewhere is an error. Every line must have as
/// many fields as the first (header or data): an extra field, such as an unquoted delimiter inside a value, would
/// shift the columns. A line repeating the header (two files joined) is an error.</para>
/// <para>Fields are trimmed of spaces. With a one-character delimiter, fields may be quoted as RFC 4180 (and
/// Excel, pandas and most databases) write them: a field starting with '"' runs to its closing quote, may hold the
/// delimiter, and writes a quote inside as two (""); a quoted field must end on its line. In comma- and
/// semicolon-separated files broken quoting is an error naming the line and field; in tab-separated ones, which are
/// often written without quoting, such a field is read literally. With '::' one pair of surrounding quotes is removed.
/// IDs must be valid UTF-8 (a Latin-1 file is an error, not IDs merged through replacement characters). The rating
/// is a decimal number with a point (every row counts as a positive whatever its value; 1 when absent). The
/// timestamp column holds integers, kept as written (such as Unix seconds), or strict ISO 8601 date-times
/// (<c>YYYY-MM-DD</c>, optionally <c>Thh:mm[:ss[.fff]]</c> and <c>Z</c> or <c>±hh:mm</c>; UTC when no zone is given),
/// stored as 100-ns ticks since 1970-01-01 UTC so that sub-second order is kept; not a mix of the two.
/// Blank lines are skipped; CRLF and CR line ends, a UTF-8 byte-order mark and a missing final newline are accepted.</para>
/// <para>Throws <see cref="NcfException"/> when the file cannot be opened and <see cref="DataFormatException"/>
/// (file, 1-based line, what was expected) for a malformed line or a file without interactions.</para>
/// </remarks>
public static class DelimitedInteractionReader
{
    private const int MaxColumns = 64;

    private static readonly string[] UserNames = ["user", "userid", "uid", "users", "customer", "customerid", "visitor", "visitorid",
        "member", "memberid", "reviewer", "reviewerid", "account", "accountid", "client", "clientid"];
    private static readonly string[] ItemNames = ["item", "itemid", "iid", "items", "movie", "movieid", "product", "productid", "asin", "sku",
        "track", "trackid", "song", "songid", "artist", "artistid", "album", "albumid", "book", "bookid", "isbn", "parentasin", "article", "articleid",
        "video", "videoid", "anime", "animeid", "game", "gameid", "business", "businessid", "recipe", "recipeid", "course", "courseid"];
    private static readonly string[] RatingNames = ["rating", "ratings", "score", "stars", "overall", "value", "weight", "count", "playcount"];
    private static readonly string[] TimeNames = ["timestamp", "time", "ts", "date", "datetime", "unixtime", "unixtimestamp", "unixreviewtime", "created", "createdat"];

    /// <summary>Reads <paramref name="path"/>; <paramref name="hasHeader"/> forces (true/false) or detects (null) the header.</summary>
    public static InteractionLog Read(string path, bool? hasHeader = null, CancellationToken cancellationToken = default)
    {
        using var reader = new Utf8LineReader(path, cancellationToken: cancellationToken);
        var users = new StringIdInterner();
        var items = new StringIdInterner();
        var rows = new InteractionLogBuilder(reader.Length / 16);
        Span<Range> fields = stackalloc Range[MaxColumns];
        byte[]? userScratch = null, itemScratch = null;
        byte[] delimiter = [];
        string delimiterName = "";
        byte[]? header = null;
        var layout = default(Layout);
        bool configured = false;
        int columns = 0;
        long firstLine = 0, firstTimeLine = 0;
        bool? isoTimes = null;
        while (reader.TryReadLine(out var line))
        {
            if (FieldSplitter.IsBlank(line))
            {
                continue;
            }

            if (!configured)
            {
                configured = true;
                firstLine = reader.LineNumber;
                (delimiter, delimiterName) = DetectDelimiter(line) ?? throw new DataFormatException(path, reader.LineNumber,
                    "expected user and item separated by a comma, tab, semicolon or '::'; found no delimiter");
                columns = Split(line, delimiter, fields, reader);
                var first = fields[..Math.Min(columns, MaxColumns)];
                if (hasHeader ?? LooksLikeHeader(line, first))
                {
                    layout = Layout.FromHeader(line, first, path, reader.LineNumber);
                    header = line.ToArray();
                    continue;
                }

                layout = Layout.Positional(columns);
            }

            int count = Split(line, delimiter, fields, reader);
            if (count != columns)
            {
                // Every line has the first line's fields: an extra one (an unquoted delimiter inside a field, a decimal
                // comma) would otherwise shift the rating and timestamp columns silently.
                throw new DataFormatException(path, reader.LineNumber,
                    count < layout.Required
                        ? $"expected {layout.Required} {delimiterName}-separated fields {layout.Describe()}; found {count}"
                        : $"expected {columns} {delimiterName}-separated fields, as line {firstLine} has; found {count}"
                            + (count > columns && delimiter.Length == 1 ? " (a delimiter inside a field must be quoted: \"a,b\")" : ""));
            }

            if (header is not null && line.SequenceEqual(header))
            {
                throw new DataFormatException(path, reader.LineNumber,
                    $"repeats the header of line {firstLine}: were two files joined (cat a b)? Remove the repeated header");
            }

            ReadOnlySpan<byte> userField = line[fields[layout.User]], itemField = line[fields[layout.Item]];
            var userText = delimiter.Length == 1 ? FieldSplitter.Unquote(userField, ref userScratch) : FieldSplitter.Clean(userField);
            var itemText = delimiter.Length == 1 ? FieldSplitter.Unquote(itemField, ref itemScratch) : FieldSplitter.Clean(itemField);
            if (userText.IsEmpty || itemText.IsEmpty)
            {
                throw new DataFormatException(path, reader.LineNumber, userText.IsEmpty ? "the user ID is empty" : "the item ID is empty");
            }

            // Decoding invalid UTF-8 would turn every bad byte into U+FFFD and merge distinct IDs ("café" and "cafè"
            // written in Latin-1 both become "caf\uFFFD").
            bool userValid = Utf8.IsValid(userText);
            if (!userValid || !Utf8.IsValid(itemText))
            {
                var text = userValid ? itemText : userText;
                throw new DataFormatException(path, reader.LineNumber,
                    $"the {(userValid ? "item" : "user")} ID is not valid UTF-8 (byte 0x{text[FirstInvalidUtf8(text)]:X2}); "
                    + "the file looks like Latin-1 or Windows-1252 text: convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8");
            }

            float rating = 1f;
            if (layout.Rating >= 0)
            {
                var ratingText = FieldSplitter.Clean(line[fields[layout.Rating]]);
                if (!Utf8Number.TryParseSingle(ratingText, out rating))
                {
                    throw new DataFormatException(path, reader.LineNumber, $"rating '{FieldSplitter.Show(ratingText)}' is not a number"
                        + (ratingText.IndexOf((byte)',') >= 0 ? " (write decimals with a point: 4.5)" : ""));
                }
            }

            long time = 0;
            if (layout.Time >= 0)
            {
                var timeText = FieldSplitter.Clean(line[fields[layout.Time]]);
                bool iso = false;
                if (!Utf8Number.TryParseInt64(timeText, out time) && !(iso = Iso8601Time.TryParse(timeText, out time)))
                {
                    if (Utf8Number.IsInt64Overflow(timeText))
                    {
                        throw new DataFormatException(path, reader.LineNumber,
                            $"timestamp '{FieldSplitter.Show(timeText)}' {Utf8Number.Int64Problem(timeText)}");
                    }

                    throw new DataFormatException(path, reader.LineNumber,
                        $"timestamp '{FieldSplitter.Show(timeText)}' is neither an integer (such as Unix seconds) nor an ISO 8601 date-time "
                        + "(YYYY-MM-DD, optionally Thh:mm[:ss[.fff]] and Z or ±hh:mm)");
                }

                // Integers are kept as written and date-times as 100-ns ticks: the two cannot be ordered together.
                if (isoTimes is null)
                {
                    (isoTimes, firstTimeLine) = (iso, reader.LineNumber);
                }
                else if (isoTimes != iso)
                {
                    throw new DataFormatException(path, reader.LineNumber,
                        $"timestamp '{FieldSplitter.Show(timeText)}' is {(iso ? "an ISO 8601 date-time" : "an integer")}, but line {firstTimeLine}'s is "
                        + $"{(iso ? "an integer" : "an ISO 8601 date-time")}; a timestamp column holds one kind or the other");
                }
            }

            rows.Add(users.GetOrAdd(userText), items.GetOrAdd(itemText), rating, time);
        }

        return rows.Build(path, users.Ids, items.Ids, layout.Rating >= 0, layout.Time >= 0);
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        for (int at = 0; at < text.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(text[at..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                return at;
            }

            at += consumed;
        }

        return 0;
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

    // A first line is a header when it names a user or an item column, or when it has a rating and a timestamp
    // position (3+ fields) and nothing there is a number or a time: data lines carry numbers there. A rating or time
    // name alone does not make a header ("alice,Time,5,100" is a user and an item named Time), and neither does an
    // empty or malformed field ("u1,i1,,5" is a data line whose rating is missing, reported as such).
    private static bool LooksLikeHeader(ReadOnlySpan<byte> line, ReadOnlySpan<Range> fields)
    {
        foreach (var range in fields)
        {
            string name = Normalise(line[range]);
            if (UserNames.Contains(name) || ItemNames.Contains(name))
            {
                return true;
            }
        }

        if (fields.Length < 3)
        {
            return false;
        }

        for (int c = 2; c < Math.Min(fields.Length, 4); c++)
        {
            var text = FieldSplitter.Clean(line[fields[c]]);
            if (text.IsEmpty || Utf8Number.TryParseSingle(text, out _) || Iso8601Time.TryParse(text, out _))
            {
                return false;
            }
        }

        return true;
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

    /// <summary>Which column holds what (−1: absent) and how many columns a data line needs.</summary>
    private readonly record struct Layout(int User, int Item, int Rating, int Time)
    {
        public int Required => Math.Max(Math.Max(User, Item), Math.Max(Rating, Time)) + 1;

        public static Layout Positional(int columns) => new(0, 1, columns >= 3 ? 2 : -1, columns >= 4 ? 3 : -1);

        /// <summary>Columns found by name; without a user or an item name, by position. A header that names one of the
        /// two but not the other is an error: falling back to positions would read users as items.</summary>
        public static Layout FromHeader(ReadOnlySpan<byte> line, ReadOnlySpan<Range> fields, string path, long lineNumber)
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

            if (user >= 0 && item >= 0)
            {
                return new Layout(user, item, rating, time);
            }

            // One of the two named: positions serve (user_id,parent_asin,...) unless the name contradicts them
            // (title_id,user_id: users would be read from the titles).
            var positional = Positional(fields.Length);
            if ((user >= 0 && user != positional.User) || (item >= 0 && item != positional.Item))
            {
                int named = Math.Max(user, item);
                throw new DataFormatException(path, lineNumber,
                    $"the header names {(user >= 0 ? "a user" : "an item")} column ('{FieldSplitter.Show(FieldSplitter.Clean(line[fields[named]]))}', column {named + 1}) "
                    + $"but no {(user >= 0 ? "item" : "user")} column, and by position column {named + 1} would be the {(named == 0 ? "user" : "item")}; "
                    + $"name the other column one of {string.Join(", ", user >= 0 ? ItemNames : UserNames)} (case, '_', '-' and spaces ignored), "
                    + "or put the user first and the item second");
            }

            // Named rating and time columns are where the header says; an unnamed one is where the positions put it,
            // unless a named column took that place. Then no column may serve twice ("user_id,rating,title" would
            // read the ratings as item IDs).
            int r = rating >= 0 ? rating : positional.Rating != time ? positional.Rating : -1;
            int t = time >= 0 ? time : positional.Time != rating ? positional.Time : -1;
            var layout = new Layout(positional.User, positional.Item, r, t);
            string[] roles = ["user", "item", "rating", "timestamp"];
            int[] columns = [layout.User, layout.Item, layout.Rating, layout.Time];
            for (int a = 0; a < columns.Length; a++)
            {
                for (int b = a + 1; b < columns.Length; b++)
                {
                    if (columns[a] >= 0 && columns[a] == columns[b])
                    {
                        throw new DataFormatException(path, lineNumber,
                            $"by its header, column {columns[a] + 1} ('{FieldSplitter.Show(FieldSplitter.Clean(line[fields[columns[a]]]))}') is the {roles[b]}, "
                            + $"and by position the {roles[a]}: name the user and item columns too (user, item, ...), or order them user, item, rating, timestamp");
                    }
                }
            }

            return layout;
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
