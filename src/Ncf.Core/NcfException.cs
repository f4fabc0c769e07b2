namespace Ncf;

/// <summary>
/// An error caused by the user's input or environment (a bad file, a missing device, an invalid option),
/// with a message fit to show as one line. Front ends print <see cref="Exception.Message"/> and exit non-zero;
/// any other exception type is a bug.
/// </summary>
public class NcfException : Exception
{
    /// <summary>An error with a one-line message.</summary>
    public NcfException(string message)
        : base(message)
    {
    }

    /// <summary>An error with a one-line message and its cause.</summary>
    public NcfException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A write or read that failed underneath a valid request: a full disk, a device error, a pipe closed by its reader.
/// Front ends may tell it from bad input (the <c>ncf</c> command exits 74 instead of 2).
/// </summary>
public class NcfIOException : NcfException
{
    /// <summary>An error with a one-line message and its cause.</summary>
    public NcfIOException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A malformed input file: the message names the file, the line and what was expected.</summary>
public class DataFormatException : NcfException
{
    /// <summary>Creates the error for <paramref name="path"/> at 1-based <paramref name="line"/> (0 when not line-specific).</summary>
    public DataFormatException(string path, long line, string problem)
        : base(line > 0 ? $"{path}:{line}: {problem}" : $"{path}: {problem}")
    {
        Path = path;
        Line = line;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>1-based line number, or 0 when the problem is not on one line.</summary>
    public long Line { get; }

    /// <summary>What was wrong and what was expected.</summary>
    public string Problem { get; }
}
