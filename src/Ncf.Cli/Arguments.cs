using System.Globalization;

namespace Ncf.Cli;

/// <summary>
/// Parsed command-line options: <c>--name value</c> pairs and bare <c>--flag</c>s. Every option a command reads is
/// marked used; anything left over is reported as unknown, so a typo never silently falls back to a default.
/// </summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public Arguments(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string token = e.Current;
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                throw new NcfException($"Unexpected argument '{token}'; options look like --name value.");
            }

            string name = token[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (!e.MoveNext())
                {
                    throw new NcfException($"Option --{name} needs a value.");
                }

                value = e.Current;
            }

            if (!_values.TryAdd(name, value))
            {
                throw new NcfException($"Option --{name} is given twice.");
            }
        }
    }

    /// <summary>Whether the flag was given. A flag takes no value: <c>--json=false</c> is an error, not "on".</summary>
    public bool Flag(string name)
    {
        _used.Add(name);
        if (_values.TryGetValue(name, out string? value) && value is not null)
        {
            throw new NcfException($"--{name} is a switch and takes no value (got '--{name}={value}'); leave it out to turn it off.");
        }

        return _values.ContainsKey(name);
    }

    /// <summary>
    /// Whether <paramref name="args"/> ask for help: <c>--help</c> or <c>-h</c> where an option name could stand,
    /// not as the value of one (<c>--user -h</c> names a user).
    /// </summary>
    public static bool AsksForHelp(IReadOnlyList<string> args, IReadOnlySet<string> flags)
    {
        for (int n = 0; n < args.Count; n++)
        {
            string token = args[n];
            if (token is "--help" or "-h")
            {
                return true;
            }

            if (token.StartsWith("--", StringComparison.Ordinal) && !token.Contains('=') && !flags.Contains(token[2..]))
            {
                n++; // its value
            }
        }

        return false;
    }

    /// <summary>Whether the option was on the command line, without reading it.</summary>
    public bool Given(string name) => _values.ContainsKey(name);

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var value) ? value : null;
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new NcfException($"--{name} expects a whole number between {min} and {max}; got '{text}'.");
        }

        return value;
    }

    public float Float(string name, float fallback)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
        {
            throw new NcfException($"--{name} expects a number; got '{text}'.");
        }

        return value;
    }

    public ulong ULong(string name, ulong fallback)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong value))
        {
            throw new NcfException($"--{name} expects a non-negative whole number; got '{text}'.");
        }

        return value;
    }

    public T Choice<T>(string name, T fallback, params (string Name, T Value)[] choices)
    {
        string? text = String(name);
        if (text is null)
        {
            return fallback;
        }

        foreach (var (choiceName, value) in choices)
        {
            if (string.Equals(choiceName, text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        throw new NcfException($"--{name} expects one of {string.Join(", ", choices.Select(c => c.Name))}; got '{text}'.");
    }

    /// <summary>Throws when an option was given that no command read.</summary>
    public void RejectUnknown(string command)
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new NcfException($"Unknown option{(unknown.Count > 1 ? "s" : "")} for '{command}': {string.Join(", ", unknown.Select(u => "--" + u))}. See 'ncf help'.");
        }
    }
}
