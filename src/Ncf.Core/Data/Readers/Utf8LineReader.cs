namespace Ncf.Data;

/// <summary>
/// Streams a text file as UTF-8 lines without decoding it: each line is a span of bytes into an internal buffer,
/// valid until the next call. Strips a leading UTF-8 byte-order mark, a trailing '\r' (CRLF files) and accepts a
/// missing final newline. Lines are numbered from 1 as an editor shows them, blank lines included.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    private const int DefaultBufferSize = 1 << 20;
    private readonly FileStream _stream;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private bool _first = true;

    /// <summary>Opens <paramref name="path"/>; a missing or unreadable file is an <see cref="NcfException"/> naming it.</summary>
    public Utf8LineReader(string path, int bufferSize = DefaultBufferSize)
    {
        Path = path;
        _stream = OpenRead(path);
        _buffer = new byte[Math.Max(bufferSize, 16)];
    }

    /// <summary>The file being read.</summary>
    public string Path { get; }

    /// <summary>Length of the file in bytes (for capacity estimates).</summary>
    public long Length => _stream.Length;

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

    /// <summary>The next line without its line terminator; false at the end of the file.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                line = TrimCarriageReturn(_buffer.AsSpan(_start, newline));
                _start += newline + 1;
                LineNumber++;
                return true;
            }

            if (_eof)
            {
                if (_start < _end)
                {
                    // The last line has no final newline.
                    line = TrimCarriageReturn(_buffer.AsSpan(_start, _end - _start));
                    _start = _end;
                    LineNumber++;
                    return true;
                }

                line = default;
                return false;
            }

            Fill();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private static ReadOnlySpan<byte> TrimCarriageReturn(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;

    // Moves the unread tail to the front (growing the buffer when one line fills it) and reads more bytes.
    private void Fill()
    {
        int pending = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _start = 0;
            _end = pending;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read;
        try
        {
            read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        }
        catch (IOException e)
        {
            throw new NcfException($"{Path}: read failed: {e.Message}", e);
        }

        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
        if (_first && (_end >= 3 || _eof))
        {
            _first = false;
            var head = _buffer.AsSpan(0, _end);
            if (head.Length >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
            {
                _start = 3;
            }
            else if (head.Length >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF)))
            {
                throw new DataFormatException(Path, 0, "the file is UTF-16; save it as UTF-8 (or ASCII)");
            }
        }
    }
}
