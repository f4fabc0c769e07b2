namespace Ncf.Cli;

/// <summary>`ncf data`: data set utilities.</summary>
internal static class DataCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        _ = stdout;
        _ = stderr;
        _ = cancellationToken;
        throw new NcfException(argv.Length == 0 ? "data needs a sub-command: download." : $"Unknown data sub-command '{argv[0]}'.");
    }
}
