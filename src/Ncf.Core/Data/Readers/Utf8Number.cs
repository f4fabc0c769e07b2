using System.Globalization;

namespace Ncf.Data;

/// <summary>
/// Number parsing straight from UTF-8 bytes. The integer path is a plain digit loop (the hot path: IDs and Unix
/// timestamps); decimals fall back to the BCL's invariant-culture parser.
/// </summary>
internal static class Utf8Number
{
    /// <summary>Parses an optionally signed decimal integer; false on anything else or on overflow.</summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        bool negative = text[0] == (byte)'-';
        int i = negative || text[0] == (byte)'+' ? 1 : 0;
        if (i == text.Length || text.Length - i > 18)
        {
            // 18 digits always fit in a long; longer values are not IDs or timestamps we accept.
            return false;
        }

        long result = 0;
        for (; i < text.Length; i++)
        {
            uint digit = (uint)(text[i] - '0');
            if (digit > 9)
            {
                return false;
            }

            result = result * 10 + digit;
        }

        value = negative ? -result : result;
        return true;
    }

    /// <summary>Parses a non-negative integer that fits an <see cref="int"/>.</summary>
    public static bool TryParseIndex(ReadOnlySpan<byte> text, out int value)
    {
        if (TryParseInt64(text, out long wide) && wide is >= 0 and <= int.MaxValue && text[0] != (byte)'-')
        {
            value = (int)wide;
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>Parses a decimal number such as "4", "3.5" or "1e0".</summary>
    public static bool TryParseSingle(ReadOnlySpan<byte> text, out float value)
    {
        if (TryParseInt64(text, out long whole) && text.Length <= 7)
        {
            value = whole;
            return true;
        }

        // "3.5"-style ratings: one fast path before the general parser.
        if (text.Length == 3 && text[1] == (byte)'.' && (uint)(text[0] - '0') <= 9 && (uint)(text[2] - '0') <= 9)
        {
            // One correctly rounded division, so the value equals what float.Parse gives.
            value = ((text[0] - '0') * 10 + (text[2] - '0')) / 10f;
            return true;
        }

        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);
    }
}
