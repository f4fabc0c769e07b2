using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Ncf.Data;

/// <summary>
/// Downloads a MovieLens archive (<c>BASE/NAME.zip</c>), verifies it and unpacks it into <c>targetDirectory/NAME</c>.
/// </summary>
/// <remarks>
/// <para><b>Verification.</b> The SHA-256 comes from <see cref="DownloadOptions.ExpectedSha256"/> or from the built-in
/// table (<see cref="Archives"/>); without one the downloader refuses before any network access. MD5 is checked as
/// well (<see cref="DownloadOptions.VerifyMd5"/>): against the pinned values below, and against the server's
/// <c>NAME.zip.md5</c> when present.</para>
/// <para><b>Atomicity.</b> The archive streams into a hidden temporary file in <c>targetDirectory</c>, is verified, is
/// unpacked into a hidden temporary folder, and only then is renamed to <c>targetDirectory/NAME</c>. On any
/// failure or cancellation the temporary file and folder are deleted, so nothing partial is left behind.</para>
/// </remarks>
public static partial class NcfDataDownloader
{
    /// <summary>
    /// The archives this downloader knows. SHA-256 values (and the zip sizes beside them) as recorded in TensorFlow
    /// Datasets' url_checksums/movielens.txt; MD5 values as GroupLens publishes them in NAME.zip.md5.
    /// </summary>
    public static IReadOnlyList<KnownArchive> Archives { get; } =
    [
        new("ml-100k", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", "0e33842e24a9c977be4e0107933c0723", "MovieLens 100K: u.data, 943 users, 1,682 movies, 100,000 ratings"),
        new("ml-1m", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", "c4d9eecfca2ab87c1945afe126590906", "MovieLens 1M: ratings.dat, 6,040 users, 3,706 rated movies, 1,000,209 ratings"),
        new("ml-latest-small", "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436", null, "MovieLens latest-small: ratings.csv, ~100,000 ratings (changes between releases)"),
        new("ml-20m", "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3", "cd245b17a1ae2cc31bb14903e1204af3", "MovieLens 20M: ratings.csv, 138,493 users, 20,000,263 ratings"),
    ];

    /// <summary>The names <see cref="DownloadAsync"/> accepts: ml-100k, ml-1m, ml-latest-small, ml-20m.</summary>
    public static IReadOnlyList<string> KnownNames { get; } = Archives.Select(a => a.Name).ToArray();

    /// <summary>
    /// Downloads, verifies and unpacks archive <paramref name="name"/> into <c><paramref name="targetDirectory"/>/NAME</c>
    /// and returns that folder. <paramref name="progress"/> receives the bytes of the archive received so far.
    /// </summary>
    /// <exception cref="NcfException">Unknown name, no SHA-256 to verify against, the folder exists (without
    /// <see cref="DownloadOptions.Overwrite"/>), an HTTP or I/O failure, a checksum mismatch, or a broken archive.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (nothing is left behind).</exception>
    public static async Task<string> DownloadAsync(string name, string targetDirectory, DownloadOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new DownloadOptions();
        var archive = Find(name);
        string? expectedSha256 = NormaliseHex(options.ExpectedSha256, 64, "SHA-256") ?? archive.Sha256;
        if (expectedSha256 is null)
        {
            throw new NcfException($"No SHA-256 is known for {archive.Name}.zip, so the download could not be verified; "
                + "pass the expected hash (--sha256 HEX, from a source you trust).");
        }

        string finalFolder = Path.Combine(targetDirectory, archive.Name);
        if ((Directory.Exists(finalFolder) || File.Exists(finalFolder)) && !options.Overwrite)
        {
            throw new NcfException($"{finalFolder} already exists; delete it or ask to overwrite it (ncf: --overwrite).");
        }

        if (File.Exists(targetDirectory))
        {
            throw new NcfException($"{targetDirectory}: is a file; the download goes into a folder (created when missing).");
        }

        if (options.StallTimeout <= TimeSpan.Zero)
        {
            throw new NcfException($"The stall timeout must be positive; got {options.StallTimeout}.");
        }

        var zipUri = new Uri(WithTrailingSlash(options.BaseUri), archive.Name + ".zip");
        string stamp = Guid.NewGuid().ToString("N")[..12];
        string partialZip = Path.Combine(targetDirectory, $".{archive.Name}.{stamp}.zip.part");
        string partialFolder = Path.Combine(targetDirectory, $".{archive.Name}.{stamp}.extract");
        var client = options.HttpClient ?? new HttpClient();
        // The folders this call creates (innermost first), removed again if it fails.
        var created = new List<string>();
        for (string? folder = Path.GetFullPath(targetDirectory); folder is not null && !Directory.Exists(folder); folder = Path.GetDirectoryName(folder))
        {
            created.Add(folder);
        }

        bool succeeded = false;
        try
        {
            Directory.CreateDirectory(targetDirectory);
            var (sha256, md5) = await FetchAsync(client, zipUri, partialZip, options.StallTimeout, progress, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(sha256, expectedSha256, StringComparison.Ordinal))
            {
                throw new NcfException($"SHA-256 mismatch for {zipUri}: expected {expectedSha256}, got {sha256}; the download was discarded.");
            }

            if (options.VerifyMd5)
            {
                await CheckMd5Async(client, zipUri, archive.Md5, md5, options.StallTimeout, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            Unpack(partialZip, partialFolder, zipUri);
            string content = SingleTopFolder(partialFolder) ?? partialFolder;
            cancellationToken.ThrowIfCancellationRequested();
            // An existing copy is moved aside, not deleted, until the new one is in place: a failure in between
            // puts it back, and a crash leaves it whole under the hidden .old name.
            string? displaced = null;
            if (options.Overwrite && (Directory.Exists(finalFolder) || File.Exists(finalFolder)))
            {
                displaced = Path.Combine(targetDirectory, $".{archive.Name}.{stamp}.old");
                MoveEntry(finalFolder, displaced);
            }

            try
            {
                options.BeforeMoveIntoPlace?.Invoke(content, finalFolder);
                Directory.Move(content, finalFolder);
            }
            catch (Exception e) when (displaced is not null && e is IOException or UnauthorizedAccessException)
            {
                try
                {
                    MoveEntry(displaced, finalFolder);
                }
                catch (Exception restore) when (restore is IOException or UnauthorizedAccessException)
                {
                    throw new NcfException($"Replacing {finalFolder} failed ({e.Message}), and so did putting the old copy back "
                        + $"({restore.Message}): it is intact at {displaced}; rename it to {archive.Name}.", e);
                }

                throw;
            }

            if (displaced is not null)
            {
                TryDelete(displaced, displaced);
            }

            succeeded = true;
            return finalFolder;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Not the caller's token: the client's own timeout, or the stall timer.
            throw new NcfException($"Downloading {zipUri} failed: {StallReason(options, client)}; try again later or from a mirror.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NcfException($"Downloading {zipUri} into {targetDirectory} failed: {e.Message}", e);
        }
        catch (HttpRequestException e)
        {
            throw new NcfException($"Downloading {zipUri} failed: {e.Message}", e);
        }
        finally
        {
            TryDelete(partialZip, partialFolder);
            if (!succeeded)
            {
                // Leave no trace of a failed or cancelled download: not even the folders it created (if still empty).
                foreach (string folder in created)
                {
                    try
                    {
                        Directory.Delete(folder, recursive: false);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        break;
                    }
                }
            }

            if (options.HttpClient is null)
            {
                client.Dispose();
            }
        }
    }

    // Which timer fired is not recorded; the shorter one is the one that can have.
    private static string StallReason(DownloadOptions options, HttpClient client) =>
        client.Timeout != Timeout.InfiniteTimeSpan && client.Timeout < options.StallTimeout
            ? $"no response within the HTTP client's timeout of {client.Timeout.TotalSeconds:0.#} s"
            : $"the server sent nothing for {options.StallTimeout.TotalSeconds:0.#} s";

    /// <summary>The archive called <paramref name="name"/> (case-insensitive; "1m" and "ml-1m.zip" work too).</summary>
    /// <exception cref="NcfException">The name is unknown; the message lists the known ones.</exception>
    public static KnownArchive Find(string name)
    {
        string key = (name ?? "").Trim().ToLowerInvariant();
        key = key.EndsWith(".zip", StringComparison.Ordinal) ? key[..^4] : key;
        key = key.StartsWith("ml-", StringComparison.Ordinal) ? key : "ml-" + key;
        return Archives.FirstOrDefault(a => a.Name == key)
            ?? throw new NcfException($"Unknown data set '{name}'; known: {string.Join(", ", KnownNames)}.");
    }

    // Streams the body into `file`, hashing as it goes; returns (sha256, md5) as lowercase hex.
    // The stall timer restarts whenever bytes arrive: a slow but live transfer of any size completes, a silent
    // server fails after `stall` instead of hanging for ever.
    private static async Task<(string Sha256, string Md5)> FetchAsync(HttpClient client, Uri uri, string file, TimeSpan stall,
        IProgress<long>? progress, CancellationToken callerToken)
    {
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        stalled.CancelAfter(stall);
        var cancellationToken = stalled.Token;
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new NcfException($"Downloading {uri} failed: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.");
        }

        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (output.ConfigureAwait(false))
            {
                var buffer = new byte[1 << 16];
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    stalled.CancelAfter(stall);
                    sha256.AppendData(buffer, 0, read);
                    md5.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    total += read;
                    progress?.Report(total);
                }
            }
        }

        return (Convert.ToHexStringLower(sha256.GetHashAndReset()), Convert.ToHexStringLower(md5.GetHashAndReset()));
    }

    // Compares with the pinned MD5 and with the server's NAME.zip.md5 (when the server has one).
    private static async Task CheckMd5Async(HttpClient client, Uri zipUri, string? pinned, string actual, TimeSpan stall, CancellationToken callerToken)
    {
        if (pinned is not null && pinned != actual)
        {
            throw new NcfException($"MD5 mismatch for {zipUri}: the known value is {pinned}, got {actual}; the download was discarded.");
        }

        var md5Uri = new Uri(zipUri + ".md5");
        string? published = null;
        using var stalled = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        stalled.CancelAfter(stall);
        var cancellationToken = stalled.Token;
        try
        {
            using var response = await client.GetAsync(md5Uri, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                var match = Md5Pattern().Match(text);
                published = match.Success ? match.Value.ToLowerInvariant() : null;
            }
        }
        catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !callerToken.IsCancellationRequested))
        {
            // The .md5 file is optional (a server that fails or stalls on it has none); the SHA-256 check has passed.
        }

        if (published is not null && published != actual)
        {
            throw new NcfException($"MD5 mismatch for {zipUri}: {md5Uri} says {published}, got {actual}; the download was discarded.");
        }
    }

    private static void Unpack(string zip, string folder, Uri source)
    {
        try
        {
            // ExtractToDirectory refuses entries that would land outside `folder` ("zip slip").
            ZipFile.ExtractToDirectory(zip, folder);
        }
        catch (InvalidDataException e)
        {
            throw new NcfException($"{source} is not a valid zip archive: {e.Message}", e);
        }
    }

    // GroupLens zips hold one top folder (ml-1m/...); unpack that folder itself, not a folder inside a folder.
    private static string? SingleTopFolder(string folder)
    {
        var entries = Directory.GetFileSystemEntries(folder);
        return entries.Length == 1 && Directory.Exists(entries[0]) ? entries[0] : null;
    }

    private static void MoveEntry(string from, string to)
    {
        if (Directory.Exists(from))
        {
            Directory.Move(from, to);
        }
        else
        {
            File.Move(from, to);
        }
    }

    private static void TryDelete(string file, string folder)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string? NormaliseHex(string? hex, int length, string what)
    {
        if (hex is null)
        {
            return null;
        }

        hex = hex.Trim().ToLowerInvariant();
        if (hex.Length != length || !hex.All(char.IsAsciiHexDigit))
        {
            throw new NcfException($"The expected {what} must be {length} hex digits; got '{hex}'.");
        }

        return hex;
    }

    private static Uri WithTrailingSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");

    [GeneratedRegex("\\b[0-9a-fA-F]{32}\\b")]
    private static partial Regex Md5Pattern();
}
