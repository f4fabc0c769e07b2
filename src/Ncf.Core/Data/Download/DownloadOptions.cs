namespace Ncf.Data;

/// <summary>Settings of <see cref="NcfDataDownloader.DownloadAsync"/>.</summary>
public sealed class DownloadOptions
{
    /// <summary>The official GroupLens folder the archives are fetched from.</summary>
    public static readonly Uri GroupLensBaseUri = new("https://files.grouplens.org/datasets/movielens/");

    /// <summary>Where <c>NAME.zip</c> (and <c>NAME.zip.md5</c>) are fetched from. Default <see cref="GroupLensBaseUri"/>;
    /// override for a mirror or a test server.</summary>
    public Uri BaseUri { get; init; } = GroupLensBaseUri;

    /// <summary>
    /// The expected SHA-256 of <c>NAME.zip</c> as 64 hex digits (the CLI's <c>--sha256 HEX</c>). Required when the
    /// built-in table has no hash for the archive; when given, it takes precedence over the table.
    /// </summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>
    /// Also check MD5, a second line of defence: against the built-in value when one is known and against the
    /// published <c>NAME.zip.md5</c> file when the server has one. Default true.
    /// </summary>
    public bool VerifyMd5 { get; init; } = true;

    /// <summary>Replace an existing <c>targetDirectory/NAME</c> folder (only after the new download is verified). Default false.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// How long the server may send nothing, while connecting or mid-file, before the download fails as stalled.
    /// Default 60 s. (<see cref="HttpClient.Timeout"/> covers only the wait for the response headers, and a 190 MB
    /// archive may rightly take longer than any fixed limit on the whole transfer.)
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The client to use (e.g. one without a proxy); default: a new <see cref="HttpClient"/> per download.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>
    /// Tests only: called with (unpacked folder, destination) just before the unpacked folder is moved into place,
    /// after any old copy was moved aside, so a test can make that move (and the restore) fail.
    /// </summary>
    internal Action<string, string>? BeforeMoveIntoPlace { get; init; }
}
