namespace Ncf.Data;

/// <summary>
/// Readers for the MovieLens rating files. Each line is <c>user SEP item SEP rating SEP timestamp</c> with integer
/// IDs, a decimal rating and an integer Unix timestamp; columns after the fourth are ignored. A first line with no
/// number in it (a header such as <c>userId,movieId,rating,timestamp</c>) is skipped, as are blank lines; CRLF
/// line ends, a UTF-8 byte-order mark and a missing final newline are accepted. The external IDs kept in
/// <see cref="InteractionLog.UserIds"/>/<see cref="InteractionLog.ItemIds"/> are the file's numbers as invariant
/// decimal strings ("1", "1193").
/// </summary>
/// <remarks>
/// All methods throw <see cref="NcfException"/> when the file cannot be opened and <see cref="DataFormatException"/>
/// (file, 1-based line, what was expected) for a malformed line or a file without interactions.
/// </remarks>
public static class MovieLensReader
{
    /// <summary>Reads MovieLens-100K <c>u.data</c>: tab-separated <c>user item rating timestamp</c>.</summary>
    public static InteractionLog ReadUData(string path, CancellationToken cancellationToken = default) => Read(path, "\t"u8, "tab", cancellationToken);

    /// <summary>Reads MovieLens-1M or -10M <c>ratings.dat</c>: <c>UserID::MovieID::Rating::Timestamp</c>.</summary>
    public static InteractionLog ReadRatingsDat(string path, CancellationToken cancellationToken = default) => Read(path, "::"u8, "'::'", cancellationToken);

    /// <summary>Reads <c>ratings.csv</c> of ml-latest, ml-latest-small, ml-20m and ml-25m: a header, then
    /// comma-separated <c>userId,movieId,rating,timestamp</c>. A header naming other columns is an error (the file is
    /// some other export: read it with <see cref="DelimitedInteractionReader"/>).</summary>
    public static InteractionLog ReadRatingsCsv(string path, CancellationToken cancellationToken = default) =>
        Read(path, ","u8, "comma", cancellationToken, RatingsCsvHeader);

    /// <summary>
    /// True when the first non-blank line of <paramref name="path"/> is MovieLens's <c>ratings.csv</c> header
    /// (<c>userId,movieId,rating,timestamp</c>, case ignored) or four comma-separated numbers.
    /// </summary>
    internal static bool HasRatingsCsvLayout(string path)
    {
        using var reader = new Utf8LineReader(path, bufferSize: 4096);
        Span<Range> fields = stackalloc Range[5];
        while (reader.TryReadLine(out var line))
        {
            if (FieldSplitter.IsBlank(line))
            {
                continue;
            }

            if (IsHeader(line, RatingsCsvHeader))
            {
                return true;
            }

            if (FieldSplitter.Split(line, ","u8, fields) < 4)
            {
                return false;
            }

            foreach (var field in fields[..4])
            {
                if (!Utf8Number.TryParseSingle(FieldSplitter.Clean(line[field]), out _))
                {
                    return false;
                }
            }

            return true;
        }

        return true; // empty: the reader says so
    }

    private static readonly string[] RatingsCsvHeader = ["userId", "movieId", "rating", "timestamp"];

    private static bool IsHeader(ReadOnlySpan<byte> line, string[] names)
    {
        Span<Range> fields = stackalloc Range[8];
        int count = FieldSplitter.Split(line, ","u8, fields);
        if (count < names.Length || count > fields.Length)
        {
            return false;
        }

        for (int c = 0; c < names.Length; c++)
        {
            if (!System.Text.Encoding.UTF8.GetString(FieldSplitter.Clean(line[fields[c]])).Equals(names[c], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    private static InteractionLog Read(string path, ReadOnlySpan<byte> delimiter, string delimiterName, CancellationToken cancellationToken,
        string[]? header = null)
    {
        using var reader = new Utf8LineReader(path, cancellationToken: cancellationToken);
        var users = new NumericIdInterner();
        var items = new NumericIdInterner();
        var rows = new InteractionLogBuilder(reader.Length / 20);
        Span<Range> fields = stackalloc Range[4];
        bool firstContentLine = true;
        while (reader.TryReadLine(out var line))
        {
            int count = FieldSplitter.Split(line, delimiter, fields);
            if (count < 4)
            {
                if (FieldSplitter.IsBlank(line))
                {
                    continue;
                }

                throw Error(reader, $"expected 4 {delimiterName}-separated fields user, item, rating, timestamp; found {count}");
            }

            var userText = FieldSplitter.Clean(line[fields[0]]);
            var itemText = FieldSplitter.Clean(line[fields[1]]);
            var ratingText = FieldSplitter.Clean(line[fields[2]]);
            var timeText = FieldSplitter.Clean(line[fields[3]]);
            bool userOk = Utf8Number.TryParseInt64(userText, out long user);
            bool itemOk = Utf8Number.TryParseInt64(itemText, out long item);
            bool ratingOk = Utf8Number.TryParseSingle(ratingText, out float rating);
            bool timeOk = Utf8Number.TryParseInt64(timeText, out long time);
            if (!(userOk && itemOk && ratingOk && timeOk))
            {
                if (firstContentLine && !userOk && !itemOk && !ratingOk && !timeOk)
                {
                    if (header is not null && !IsHeader(line, header))
                    {
                        throw Error(reader, $"expected the header {string.Join(",", header)} (case ignored); this is another export: read it as a generic CSV (format csv)");
                    }

                    firstContentLine = false; // a header line
                    continue;
                }

                throw Error(reader, BadField(userOk, itemOk, ratingOk, userText, itemText, ratingText, timeText));
            }

            firstContentLine = false;
            rows.Add(users.GetOrAdd(user), items.GetOrAdd(item), rating, time);
        }

        return rows.Build(path, users.Ids, items.Ids, hasRatings: true, hasTimestamps: true);
    }

    private static DataFormatException Error(Utf8LineReader reader, string problem) => new(reader.Path, reader.LineNumber, problem);

    // The message for the first field that did not parse; out of the read loop, which stays small for the JIT.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static string BadField(bool userOk, bool itemOk, bool ratingOk, ReadOnlySpan<byte> user, ReadOnlySpan<byte> item,
        ReadOnlySpan<byte> rating, ReadOnlySpan<byte> time) =>
        !userOk ? $"user ID '{FieldSplitter.Show(user)}' {Utf8Number.Int64Problem(user)}"
        : !itemOk ? $"item ID '{FieldSplitter.Show(item)}' {Utf8Number.Int64Problem(item)}"
        : !ratingOk ? $"rating '{FieldSplitter.Show(rating)}' is not a number"
        : $"timestamp '{FieldSplitter.Show(time)}' {Utf8Number.Int64Problem(time)}";
}
