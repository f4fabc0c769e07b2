using Ncf.Data;

namespace Ncf.Cli;

/// <summary>`ncf data download NAME --to DIR`: fetches a MovieLens archive, verifies its SHA-256 and unpacks it atomically.</summary>
internal static class DataCommand
{
    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (argv.Length == 0 || argv[0] != "download")
        {
            throw new NcfException(argv.Length == 0 ? "data needs a sub-command: download." : $"Unknown data sub-command '{argv[0]}'; expected download.");
        }

        if (argv.Length < 2 || argv[1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new NcfException($"data download needs a NAME: {string.Join(", ", NcfDataDownloader.KnownNames)}.");
        }

        string name = argv[1];
        var args = new Arguments(argv[2..], Common.Flags);
        string target = args.String("to") ?? throw new NcfException("data download needs --to DIR.");
        string? sha256 = args.String("sha256");
        string? baseUrl = args.String("base-url");
        bool overwrite = args.Flag("overwrite");
        args.RejectUnknown("data download");
        Uri? baseUri = null;
        if (baseUrl is not null && !Uri.TryCreate(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/", UriKind.Absolute, out baseUri))
        {
            throw new NcfException($"--base-url '{baseUrl}' is not an absolute URL.");
        }

        long lastReported = 0;
        var progress = new InlineProgress<long>(bytes =>
        {
            if (bytes - lastReported >= 8 << 20)
            {
                lastReported = bytes;
                stderr.WriteLine($"  {bytes / (1 << 20)} MiB");
            }
        });
        var options = new DownloadOptions { ExpectedSha256 = sha256, Overwrite = overwrite, BaseUri = baseUri ?? DownloadOptions.GroupLensBaseUri };

        string folder = NcfDataDownloader.DownloadAsync(name, target, options, progress, cancellationToken).GetAwaiter().GetResult();
        stdout.WriteLine($"{name}: verified and unpacked into {folder}");
        return Cli.Ok;
    }
}
