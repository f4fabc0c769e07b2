namespace Ncf.Data;

/// <summary>
/// Splits one line into delimiter-separated fields without allocating: records the first
/// <c>fields.Length</c> field ranges and returns the total number of fields (so extra columns are counted but
/// not stored, and a short line is detected by the caller).
/// </summary>
internal static class FieldSplitter
{
    /// <summary>Splits <paramref name="line"/> on <paramref name="delimiter"/> (one byte or a sequence such as "::").</summary>
    public static int Split(ReadOnlySpan<byte> line, ReadOnlySpan<byte> delimiter, Span<Range> fields)
    {
        int count = 0;
        int start = 0;
        while (true)
        {
            var rest = line[start..];
            int at = delimiter.Length == 1 ? rest.IndexOf(delimiter[0]) : rest.IndexOf(delimiter);
            int end = at < 0 ? line.Length : start + at;
            if (count < fields.Length)
            {
                fields[count] = new Range(start, end);
            }

            count++;
            if (at < 0)
            {
                return count;
            }

            start = end + delimiter.Length;
        }
    }

    /// <summary>
    /// Splits <paramref name="line"/> on a one-byte delimiter with RFC 4180 quoting: a field whose first non-space
    /// byte is '"' runs to its closing quote, so it may hold the delimiter, and a doubled quote inside it stands for
    /// one quote. A quoted field's range keeps its quotes (<see cref="Unquote"/> removes them). Returns the number
    /// of fields, or −1 with <paramref name="error"/> saying what is wrong when a quote is not closed on the line
    /// (a field cannot span lines) or anything but spaces follows a closing quote. With <paramref name="lenient"/>,
    /// such a field is taken literally up to the next delimiter instead (tab-separated exports often do not quote,
    /// so <c>"Weird Al" Yankovic</c> there is a name, not an error).
    /// </summary>
    public static int SplitQuoted(ReadOnlySpan<byte> line, byte delimiter, Span<Range> fields, out string? error, bool lenient = false)
    {
        error = null;
        int count = 0;
        int start = 0;
        while (true)
        {
            int first = start;
            while (first < line.Length && line[first] is (byte)' ' or (byte)'\t' && line[first] != delimiter)
            {
                first++;
            }

            int end;
            if (first < line.Length && line[first] == (byte)'"')
            {
                int close = ClosingQuote(line, first + 1);
                end = close + 1;
                while (close >= 0 && end < line.Length && line[end] is (byte)' ' or (byte)'\t' && line[end] != delimiter)
                {
                    end++;
                }

                bool unclosed = close < 0, trailing = !unclosed && end < line.Length && line[end] != delimiter;
                if ((unclosed || trailing) && lenient)
                {
                    int at = line[start..].IndexOf(delimiter);
                    end = at < 0 ? line.Length : start + at;
                }
                else if (unclosed)
                {
                    error = $"field {count + 1} opens a quote that is not closed on this line (a quoted field cannot span lines)";
                    return -1;
                }
                else if (trailing)
                {
                    error = $"field {count + 1}: expected a delimiter after its closing quote, found '{Show(line.Slice(end, 1))}'"
                        + " (a quote inside a quoted field is written twice: \"\")";
                    return -1;
                }
            }
            else
            {
                int at = line[start..].IndexOf(delimiter);
                end = at < 0 ? line.Length : start + at;
            }

            if (count < fields.Length)
            {
                fields[count] = new Range(start, end);
            }

            count++;
            if (end >= line.Length)
            {
                return count;
            }

            start = end + 1;
        }
    }

    /// <summary>
    /// A field as <see cref="Clean"/> returns it, with every doubled quote of a quoted field made single; the
    /// unescaped text goes to <paramref name="scratch"/> (grown as needed) only when there is a doubled quote.
    /// </summary>
    public static ReadOnlySpan<byte> Unquote(ReadOnlySpan<byte> field, ref byte[]? scratch)
    {
        var trimmed = field.Trim(Padding);
        bool quoted = trimmed.Length >= 2 && trimmed[0] == (byte)'"' && trimmed[^1] == (byte)'"';
        var inner = Clean(field);
        if (!quoted || inner.IndexOf("\"\""u8) < 0)
        {
            return inner;
        }

        if (scratch is null || scratch.Length < inner.Length)
        {
            scratch = new byte[Math.Max(inner.Length, 64)];
        }

        int length = 0;
        for (int i = 0; i < inner.Length; i++)
        {
            scratch[length++] = inner[i];
            if (inner[i] == (byte)'"' && i + 1 < inner.Length && inner[i + 1] == (byte)'"')
            {
                i++;
            }
        }

        return scratch.AsSpan(0, length);
    }

    // Index of the quote closing a quoted field whose content starts at `from`; a doubled quote is content.
    private static int ClosingQuote(ReadOnlySpan<byte> line, int from)
    {
        int at = from;
        while (true)
        {
            int next = line[at..].IndexOf((byte)'"');
            if (next < 0)
            {
                return -1;
            }

            at += next;
            if (at + 1 < line.Length && line[at + 1] == (byte)'"')
            {
                at += 2;
                continue;
            }

            return at;
        }
    }

    /// <summary>True when the line holds nothing but spaces and tabs.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t"u8).IsEmpty;

    // Spaces and tabs around a field are padding (a tab is a delimiter only in tab-separated files, where it never
    // reaches a field).
    private static ReadOnlySpan<byte> Padding => " \t"u8;

    /// <summary>The field without surrounding spaces and tabs and, for CSV, one pair of surrounding double quotes.</summary>
    public static ReadOnlySpan<byte> Clean(ReadOnlySpan<byte> field)
    {
        field = field.Trim(Padding);
        if (field.Length >= 2 && field[0] == (byte)'"' && field[^1] == (byte)'"')
        {
            field = field[1..^1];
        }

        return field;
    }

    /// <summary>A short, printable rendering of a field for error messages: control characters (which would garble
    /// a terminal line) are written as \xNN.</summary>
    public static string Show(ReadOnlySpan<byte> field)
    {
        const int Max = 40;
        string text = System.Text.Encoding.UTF8.GetString(field.Length > Max ? field[..Max] : field);
        var shown = new System.Text.StringBuilder(text.Length + 3);
        foreach (char c in text)
        {
            _ = char.IsControl(c) ? shown.Append($"\\x{(int)c:X2}") : shown.Append(c);
        }

        return field.Length > Max ? shown.Append("...").ToString() : shown.ToString();
    }
}
