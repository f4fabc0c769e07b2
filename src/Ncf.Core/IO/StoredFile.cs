using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Ncf.IO;

/// <summary>Reading and writing the project's checksummed binary files (models and training states).</summary>
internal static class StoredFile
{
    /// <summary>
    /// The whole content of <paramref name="path"/>. A file is read to its length: a device such as /dev/zero reports 0
    /// and would otherwise be read for ever. A pipe (<c>--model &lt;(zcat m.ncf.gz)</c>) has no length and is read to its
    /// end, up to what an array holds. Failures name the file and <paramref name="what"/> it should be.
    /// </summary>
    public static byte[] ReadAll(string path, string what)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            if (!stream.CanSeek)
            {
                return ReadPipe(stream, path, what);
            }

            if (stream.Length > Array.MaxLength)
            {
                throw new NcfException($"{path}: {stream.Length:N0} bytes, more than a {what} can hold.");
            }

            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new NcfException($"{path}: cannot read the {what} ({e.Message})", e);
        }
    }

    private static byte[] ReadPipe(Stream stream, string path, string what)
    {
        using var content = new MemoryStream();
        var chunk = new byte[1 << 16];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (content.Length + read > Array.MaxLength)
            {
                throw new NcfException($"{path}: the pipe gives more than a {what} can hold.");
            }

            content.Write(chunk, 0, read);
        }

        return content.ToArray();
    }

    /// <summary>
    /// The body of a file that ends with the SHA-256 of everything before it, after checking that it starts with
    /// <paramref name="magic"/> and a u32 version from <paramref name="minVersion"/> to <paramref name="maxVersion"/>
    /// (checked before the hash, so that a newer build's file is named as such rather than as corrupted), and that the
    /// hash matches.
    /// </summary>
    public static ReadOnlyMemory<byte> CheckedBody(string path, byte[] bytes, ReadOnlySpan<byte> magic, string what, uint minVersion,
        uint maxVersion, out uint version)
    {
        if (bytes.Length < magic.Length || !bytes.AsSpan(0, magic.Length).SequenceEqual(magic))
        {
            throw new NcfException($"{path}: not an Ncf.Native {what} (it does not start with the {Encoding.ASCII.GetString(magic)} magic number).");
        }

        version = new SpanReader(path, bytes.AsMemory(magic.Length)).UInt32();
        if (version < minVersion || version > maxVersion)
        {
            string readable = minVersion == maxVersion ? $"version {maxVersion}" : $"versions {minVersion} to {maxVersion}";
            throw new NcfException($"{path}: {what} format version {version}; this build reads {readable}.");
        }

        if (bytes.Length < magic.Length + 8 + SHA256.HashSizeInBytes)
        {
            throw new NcfException($"{path}: the file is truncated ({bytes.Length} bytes).");
        }

        int bodyLength = bytes.Length - SHA256.HashSizeInBytes;
        if (!SHA256.HashData(bytes.AsSpan(0, bodyLength)).AsSpan().SequenceEqual(bytes.AsSpan(bodyLength)))
        {
            throw new NcfException($"{path}: checksum mismatch: the file is truncated or corrupted.");
        }

        return bytes.AsMemory(0, bodyLength);
    }
}

/// <summary>A bounds-checked little-endian reader whose errors name the file.</summary>
internal struct SpanReader(string path, ReadOnlyMemory<byte> data)
{
    private int _position;

    public readonly string Path => path;

    public readonly bool AtEnd => _position == data.Length;

    public void Skip(int count) => Bytes(count);

    public readonly long Remaining => data.Length - _position;

    public ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > data.Length - _position)
        {
            throw new NcfException($"{path}: the file is truncated or inconsistent (needs {count} more bytes at offset {_position}, has {data.Length - _position}).");
        }

        var span = data.Span.Slice(_position, (int)count);
        _position += (int)count;
        return span;
    }

    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));

    public byte Byte() => Bytes(1)[0];

    public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Bytes(8));

    public int[] Int32Array(int count)
    {
        var values = new int[CheckedLength(count)];
        Int32s(values);
        return values;
    }

    /// <summary>Fills <paramref name="destination"/> with the next <c>destination.Length</c> ints.</summary>
    public void Int32s(Span<int> destination)
    {
        var raw = Bytes((long)destination.Length * 4);
        if (BitConverter.IsLittleEndian)
        {
            raw.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadInt32LittleEndian(raw.Slice(i * 4));
        }
    }

    /// <summary>Fills <paramref name="destination"/> with the next <c>destination.Length</c> floats (their bits, read as ints).</summary>
    public void Singles(Span<float> destination) => Int32s(MemoryMarshal.Cast<float, int>(destination));

    private readonly int CheckedLength(int count) => count >= 0 ? count : throw new NcfException($"{path}: negative table length {count}.");

    public string String()
    {
        int length = Int32();
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes(length));
        }
        catch (DecoderFallbackException e)
        {
            throw new NcfException($"{path}: a stored ID is not valid UTF-8.", e);
        }
    }
}

/// <summary>
/// Writes little-endian values to a stream while hashing them, and ends with their SHA-256: the writing side of
/// <see cref="StoredFile.CheckedBody"/>. Large arrays go through without a second copy of the file in memory.
/// </summary>
internal sealed class HashedWriter(Stream destination) : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _scratch = new byte[8];

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        destination.Write(bytes);
    }

    public void Byte(byte value) => Bytes([value]);

    public void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_scratch, value);
        Bytes(_scratch.AsSpan(0, 4));
    }

    public void UInt32(uint value) => Int32(unchecked((int)value));

    public void UInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_scratch, value);
        Bytes(_scratch);
    }

    public void Double(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_scratch, value);
        Bytes(_scratch);
    }

    public void String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Int32(bytes.Length);
        Bytes(bytes);
    }

    public void Int32s(ReadOnlySpan<int> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            Bytes(MemoryMarshal.AsBytes(values));
            return;
        }

        foreach (int value in values)
        {
            Int32(value);
        }
    }

    /// <summary>Writes the floats' bits as ints.</summary>
    public void Singles(ReadOnlySpan<float> values) => Int32s(MemoryMarshal.Cast<float, int>(values));

    /// <summary>Writes the SHA-256 of everything written so far.</summary>
    public void Finish() => destination.Write(_hash.GetHashAndReset());

    public void Dispose() => _hash.Dispose();
}
