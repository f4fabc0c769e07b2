using System.IO.Compression;

namespace Ncf.Data;

/// <summary>
/// Streams a text file as UTF-8 lines without decoding it: each line is a span of bytes into an internal buffer,
/// valid until the next call. Strips a leading UTF-8 byte-order mark, ends lines at "\n", "\r\n" or a lone "\r",
/// and accepts a missing final newline. Lines are numbered from 1 as an editor shows them, blank lines included.
/// A gzip-compressed file (recognised by its magic bytes, whatever its name, when the file can seek: a pipe is read
/// as plain text) is decompressed on the fly; a zip archive, a UTF-16 or UTF-32 file or a binary file (a NUL byte
/// near the start) is refused with what to do instead.
/// </summary>
/// <remarks>
/// A gzip file cut short must not be read as if whole. With the runtime switch
/// <c>System.IO.Compression.UseStrictValidation</c> on (the <c>ncf</c> CLI sets it), .NET's decompressor detects
/// truncation itself and any number of concatenated gzip members is read. Without it the decompressor ends quietly,
/// so the reader compares the text's length with the trailer of the file's last member: right for the usual
/// single-member file, while a multi-member one (<c>bgzip</c>, <c>cat a.gz b.gz</c>) is refused with that advice.
/// </remarks>
internal sealed class Utf8LineReader : IDisposable
{
    private const int DefaultBufferSize = 1 << 20;

    // Interaction logs of numbers compress about 4-6x with gzip; the estimate only sizes the first allocation.
    private const int GzipExpansionEstimate = 4;

    // How far into the text a NUL byte marks the file as binary.
    private const int BinaryProbeBytes = 8192;
    private readonly FileStream _file;
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private bool _first = true;
    private long _decompressedBytes;
    private readonly CancellationToken _cancellationToken;

    /// <summary>Opens <paramref name="path"/>; a missing or unreadable file is an <see cref="NcfException"/> naming it.</summary>
    /// <param name="path">The file, plain or gzipped.</param>
    /// <param name="bufferSize">The first buffer's size; it grows to hold the longest line.</param>
    /// <param name="cancellationToken">Checked at every refill of the buffer (each megabyte or so).</param>
    public Utf8LineReader(string path, int bufferSize = DefaultBufferSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = path;
        _cancellationToken = cancellationToken;
        _file = OpenRead(path);
        try
        {
            IsGzip = Sniff(_file, path);
            _stream = IsGzip ? new GZipStream(_file, CompressionMode.Decompress) : _file;
        }
        catch
        {
            _file.Dispose();
            throw;
        }

        _buffer = new byte[Math.Max(bufferSize, 16)];
    }

    /// <summary>The file being read.</summary>
    public string Path { get; }

    /// <summary>Estimated length of the text in bytes (for capacity estimates): the file's, times 4 when gzipped.</summary>
    public long Length => _file.CanSeek ? _file.Length * (IsGzip ? GzipExpansionEstimate : 1) : 0;

    /// <summary>True when the file is gzip-compressed and read through a decompressor.</summary>
    public bool IsGzip { get; }

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public long LineNumber { get; private set; }

    /// <summary>Opens a file for one sequential pass, turning I/O failures into <see cref="NcfException"/>.</summary>
    public static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new NcfException($"{path}: cannot open for reading: {e.Message}", e);
        }
    }

    /// <summary>
    /// The next line without its line terminator; false at the end of the file. The file's first line end decides
    /// how lines end: "\n", "\r\n" or "\r\r\n" (a CSV written twice through a Windows text layer) make '\n' the
    /// terminator, with every '\r' before it dropped, so a stray '\r' inside a field stays there and line numbers
    /// match sed's and awk's; a lone "\r" (old Mac files) makes "\r", "\r\n" and "\n" all end lines. A UTF-8
    /// byte-order mark at the start of a later line (two files joined with <c>cat</c>) is a
    /// <see cref="DataFormatException"/> naming the line.
    /// </summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            if (_lineEnds == LineEnds.Unknown && !DecideLineEnds(pending))
            {
                Fill(); // not enough bytes yet to tell
                continue;
            }

            int length, skip;
            if (_lineEnds == LineEnds.LineFeed)
            {
                int newline = pending.IndexOf((byte)'\n');
                if (newline < 0 && !_eof)
                {
                    // A file that starts with LF ends and goes on with lone CRs (a header prepended to an old Mac
                    // file) would otherwise be held whole as one line.
                    if (pending.Length > MixedLineEndLimit && pending.IndexOf((byte)'\r') >= 0)
                    {
                        throw new DataFormatException(Path, LineNumber + 1,
                            $"runs past {MixedLineEndLimit >> 20} MB without a line feed but with carriage returns: the file mixes line ends "
                            + "(its first line ends with a line feed, later ones with a lone CR); convert it, e.g. mac2unix or tr '\\r' '\\n'");
                    }

                    Fill();
                    continue;
                }

                (length, skip) = newline >= 0 ? (newline, 1) : (pending.Length, 0);
            }
            else
            {
                int terminator = pending.IndexOfAny((byte)'\n', (byte)'\r');
                if ((terminator < 0 || (pending[terminator] == (byte)'\r' && terminator + 1 == pending.Length)) && !_eof)
                {
                    Fill(); // no terminator yet, or a '\r' at the end of the buffer that may be half a CRLF
                    continue;
                }

                (length, skip) = terminator < 0 ? (pending.Length, 0)
                    : pending[terminator] == (byte)'\r' && terminator + 1 < pending.Length && pending[terminator + 1] == (byte)'\n' ? (terminator, 2)
                    : (terminator, 1);
            }

            if (length == 0 && skip == 0)
            {
                line = default;
                return false; // end of file
            }

            // Without a terminator this is the last line, which has no final newline.
            line = pending[..length];
            if (_lineEnds == LineEnds.LineFeed)
            {
                line = line.TrimEnd((byte)'\r');
            }

            _start += length + skip;
            LineNumber++;
            if (LineNumber > 1 && line.StartsWith(Utf8ByteOrderMark))
            {
                throw new DataFormatException(Path, LineNumber,
                    "starts with a UTF-8 byte-order mark, which belongs only at the start of a file: were two files joined (cat a b)? Remove it");
            }

            return true;
        }
    }

    // Longer than any real interaction-log line; see the mixed-line-end check.
    private const int MixedLineEndLimit = 1 << 20;

    // The longest line read at all (a test.negative line listing a 26,000-item catalogue is ~200 kB): beyond it the
    // buffer would keep doubling, and a gzipped file of one giant line could ask for gigabytes.
    internal const int MaxLineLength = 64 << 20;

    private enum LineEnds
    {
        Unknown,
        LineFeed,
        CarriageReturn,
    }

    private LineEnds _lineEnds;

    // Decides from the first terminator; false when the buffer does not yet show it (more bytes are needed).
    private bool DecideLineEnds(ReadOnlySpan<byte> pending)
    {
        int terminator = pending.IndexOfAny((byte)'\n', (byte)'\r');
        if (terminator < 0)
        {
            if (!_eof)
            {
                return false;
            }

            _lineEnds = LineEnds.LineFeed; // a single line without an end: either reads it
            return true;
        }

        // After the first run of '\r's: a '\n' makes it CRLF (or CR CR LF), anything else a lone CR.
        int after = terminator;
        while (after < pending.Length && pending[after] == (byte)'\r')
        {
            after++;
        }

        if (after == pending.Length && !_eof)
        {
            return false;
        }

        _lineEnds = pending[terminator] == (byte)'\n' || (after < pending.Length && pending[after] == (byte)'\n')
            ? LineEnds.LineFeed
            : LineEnds.CarriageReturn;
        return true;
    }

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _file.Dispose();
    }

    // .NET's GZipStream ends quietly when the file is cut short, so a partial download would train on part of the
    // data (its last line possibly cut too). The gzip trailer's last four bytes hold the text's length mod 2^32:
    // a cut file ends in compressed data instead, which matches with probability 2^-32.
    private void CheckGzipLength()
    {
        if (StrictGzipValidation)
        {
            return;
        }

        Span<byte> trailer = stackalloc byte[4];
        try
        {
            if (_file.Length < 18)
            {
                throw new DataFormatException(Path, 0, "the gzip file is truncated (shorter than a gzip header and trailer)");
            }

            _file.Position = _file.Length - 4;
            _file.ReadExactly(trailer);
        }
        catch (Exception e) when (e is IOException or NotSupportedException)
        {
            throw new NcfException($"{Path}: reading the gzip trailer failed: {e.Message}", e);
        }

        uint recorded = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (recorded != (uint)_decompressedBytes)
        {
            throw new DataFormatException(Path, 0,
                $"the gzip data ends early after {_decompressedBytes:N0} bytes of text (line {LineNumber}); the file is truncated,"
                + " or it holds several concatenated gzip members (bgzip, cat a.gz b.gz), which this process can check only"
                + " with the runtime switch System.IO.Compression.UseStrictValidation on (the ncf CLI sets it)."
                + " Download it again, or decompress it with gunzip and give the plain file");
        }
    }

    private static bool StrictGzipValidation =>
        AppContext.TryGetSwitch("System.IO.Compression.UseStrictValidation", out bool strict) && strict;

    // Reads the first bytes of a seekable file and rewinds: true for gzip; a zip archive is refused here, because
    // its first entry is not necessarily the ratings file and unpacking belongs to the user (or `ncf data download`).
    private static bool Sniff(FileStream file, string path)
    {
        if (!file.CanSeek)
        {
            return false;
        }

        Span<byte> head = stackalloc byte[4];
        try
        {
            int read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            file.Position = 0;
            head = head[..read];
        }
        catch (IOException e)
        {
            throw new NcfException($"{path}: read failed: {e.Message}", e);
        }

        if (head.StartsWith("PK\u0003\u0004"u8))
        {
            throw new DataFormatException(path, 0,
                "is a zip archive; unpack it and give the folder or the ratings file inside (ncf data download unpacks GroupLens' zips)");
        }

        return head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B;
    }

    // ASCII text in UTF-16: every other byte of the first characters is NUL (high bytes in big-endian, low in little).
    private static bool LooksLikeUtf16(ReadOnlySpan<byte> head)
    {
        int pairs = Math.Min(head.Length / 2, 64);
        if (pairs < 2)
        {
            return false;
        }

        int evenNul = 0, oddNul = 0;
        for (int i = 0; i < pairs; i++)
        {
            evenNul += head[2 * i] == 0 ? 1 : 0;
            oddNul += head[2 * i + 1] == 0 ? 1 : 0;
        }

        return (evenNul == pairs && oddNul == 0) || (oddNul == pairs && evenNul == 0);
    }

    // Moves the unread tail to the front (growing the buffer when one line fills it) and reads more bytes.
    private void Fill()
    {
        _cancellationToken.ThrowIfCancellationRequested();
        int pending = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _start = 0;
            _end = pending;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxLineLength)
            {
                throw new DataFormatException(Path, LineNumber + 1,
                    $"a line longer than {MaxLineLength >> 20} MB: no interaction log has one (is this a binary file, or one whose line ends were lost?)");
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read;
        try
        {
            read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(Path, 0,
                $"the gzip data is corrupt or truncated{(LineNumber > 0 ? $" after line {LineNumber}" : "")}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new NcfException($"{Path}: read failed: {e.Message}", e);
        }

        if (read == 0)
        {
            _eof = true;
            if (IsGzip)
            {
                CheckGzipLength();
            }
        }

        _decompressedBytes += read;

        _end += read;
        if (_first && (_end >= 3 || _eof))
        {
            _first = false;
            var head = _buffer.AsSpan(0, _end);
            if (head.StartsWith(Utf8ByteOrderMark))
            {
                _start = 3;
            }
            else if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0, 0]) || head.StartsWith((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]))
            {
                throw new DataFormatException(Path, 0, "the file is UTF-32; save it as UTF-8 (or ASCII)");
            }
            else if (head.Length >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF)))
            {
                throw new DataFormatException(Path, 0, "the file is UTF-16; save it as UTF-8 (or ASCII)");
            }

            int nul = head[..Math.Min(head.Length, BinaryProbeBytes)].IndexOf((byte)0);
            if (nul >= 0 && LooksLikeUtf16(head[_start..]))
            {
                throw new DataFormatException(Path, 0, "the file looks like UTF-16 without a byte-order mark; save it as UTF-8 (or ASCII)");
            }

            if (nul >= 0)
            {
                throw new DataFormatException(Path, 0,
                    $"is not a text file (byte {nul}{(IsGzip ? " of the decompressed data" : "")} is NUL); expected lines of UTF-8 or ASCII text"
                    + " (UTF-16 or UTF-32 text has NULs too: save it as UTF-8)");
            }
        }
    }
}
