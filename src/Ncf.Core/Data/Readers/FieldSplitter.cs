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

    /// <summary>True when the line holds nothing but spaces and tabs.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t"u8).IsEmpty;

    /// <summary>The field without surrounding spaces and, for CSV, one pair of surrounding double quotes.</summary>
    public static ReadOnlySpan<byte> Clean(ReadOnlySpan<byte> field)
    {
        field = field.Trim((byte)' ');
        if (field.Length >= 2 && field[0] == (byte)'"' && field[^1] == (byte)'"')
        {
            field = field[1..^1];
        }

        return field;
    }

    /// <summary>A short, printable rendering of a field for error messages.</summary>
    public static string Show(ReadOnlySpan<byte> field)
    {
        const int Max = 40;
        string text = System.Text.Encoding.UTF8.GetString(field.Length > Max ? field[..Max] : field);
        return field.Length > Max ? text + "..." : text;
    }
}
