namespace Ncf.Data;

/// <summary>
/// Strict ISO 8601 date-times from UTF-8 bytes: <c>YYYY-MM-DD</c>, optionally followed by 'T' (or a space, as SQL
/// exports write it) and <c>hh:mm</c>, <c>hh:mm:ss</c> or <c>hh:mm:ss.fffffff</c> (any number of fraction digits, '.'
/// or ','), and a zone: 'Z', <c>±hh</c>, <c>±hhmm</c> or <c>±hh:mm</c> (none: UTC). Nothing else is accepted: the
/// BCL's lenient parser also takes <c>1/2/2020</c> (month first), <c>10:30</c> (today) and <c>Jan 5 2020</c>, which
/// would order a log by guesses.
/// </summary>
internal static class Iso8601Time
{
    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;

    /// <summary>Parses <paramref name="text"/> into 100-ns ticks since 1970-01-01 UTC (sub-second order is kept).</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out long ticksSinceUnixEpoch)
    {
        ticksSinceUnixEpoch = 0;
        int at = 0;
        if (!Digits(text, ref at, 4, out int year) || !Expect(text, ref at, (byte)'-') || !Digits(text, ref at, 2, out int month)
            || !Expect(text, ref at, (byte)'-') || !Digits(text, ref at, 2, out int day)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        long ticks = new DateTime(year, month, day, 0, 0, 0, DateTimeKind.Utc).Ticks - UnixEpochTicks;
        if (at == text.Length)
        {
            ticksSinceUnixEpoch = ticks;
            return true;
        }

        if (text[at] is not ((byte)'T' or (byte)'t' or (byte)' '))
        {
            return false;
        }

        at++;
        if (!Digits(text, ref at, 2, out int hour) || !Expect(text, ref at, (byte)':') || !Digits(text, ref at, 2, out int minute)
            || hour > 23 || minute > 59)
        {
            return false;
        }

        ticks += hour * TimeSpan.TicksPerHour + minute * TimeSpan.TicksPerMinute;
        if (at < text.Length && text[at] == (byte)':')
        {
            at++;
            if (!Digits(text, ref at, 2, out int second) || second > 60) // 60: a leap second, counted into the next minute
            {
                return false;
            }

            ticks += second * TimeSpan.TicksPerSecond;
            if (at < text.Length && text[at] is (byte)'.' or (byte)',')
            {
                at++;
                int first = at;
                long fraction = 0, scale = TimeSpan.TicksPerSecond;
                for (; at < text.Length && (uint)(text[at] - '0') <= 9; at++)
                {
                    if (scale > 1)
                    {
                        scale /= 10;
                        fraction += (text[at] - '0') * scale; // digits past the 7th (100 ns) are dropped
                    }
                }

                if (at == first)
                {
                    return false;
                }

                ticks += fraction;
            }
        }

        if (at < text.Length)
        {
            if (text[at] is (byte)'Z' or (byte)'z')
            {
                at++;
            }
            else if (text[at] is (byte)'+' or (byte)'-')
            {
                int sign = text[at] == (byte)'+' ? 1 : -1;
                at++;
                int offsetMinutes = 0;
                if (!Digits(text, ref at, 2, out int offsetHours) || offsetHours > 23)
                {
                    return false;
                }

                if (at < text.Length)
                {
                    _ = Expect(text, ref at, (byte)':');
                    if (!Digits(text, ref at, 2, out offsetMinutes) || offsetMinutes > 59)
                    {
                        return false;
                    }
                }

                // Local time = UTC + offset, so UTC = local − offset.
                ticks -= sign * (offsetHours * TimeSpan.TicksPerHour + offsetMinutes * TimeSpan.TicksPerMinute);
            }
        }

        ticksSinceUnixEpoch = ticks;
        return at == text.Length;
    }

    private static bool Digits(ReadOnlySpan<byte> text, ref int at, int count, out int value)
    {
        value = 0;
        if (text.Length - at < count)
        {
            return false;
        }

        for (int end = at + count; at < end; at++)
        {
            uint digit = (uint)(text[at] - '0');
            if (digit > 9)
            {
                return false;
            }

            value = value * 10 + (int)digit;
        }

        return true;
    }

    private static bool Expect(ReadOnlySpan<byte> text, ref int at, byte expected)
    {
        if (at < text.Length && text[at] == expected)
        {
            at++;
            return true;
        }

        return false;
    }
}
