using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Ncf.Cli;

/// <summary>Writes one JSON object per line with Utf8JsonWriter (no reflection, so trimming and AOT stay safe).</summary>
internal sealed class JsonLine
{
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly Utf8JsonWriter _writer;

    public JsonLine()
    {
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _writer.WriteStartObject();
    }

    public JsonLine Add(string name, double value)
    {
        if (double.IsFinite(value))
        {
            _writer.WriteNumber(name, Math.Round(value, 6));
        }
        else
        {
            _writer.WriteNull(name);
        }

        return this;
    }

    public JsonLine Add(string name, long value)
    {
        _writer.WriteNumber(name, value);
        return this;
    }

    /// <summary>An unsigned 64-bit number (a seed may use all 64 bits; as a long it would turn negative).</summary>
    public JsonLine Add(string name, ulong value)
    {
        _writer.WriteNumber(name, value);
        return this;
    }

    /// <summary>An optional integer: null when absent.</summary>
    public JsonLine AddOptional(string name, int? value)
    {
        if (value is { } v)
        {
            _writer.WriteNumber(name, v);
        }
        else
        {
            _writer.WriteNull(name);
        }

        return this;
    }

    public JsonLine Add(string name, string? value)
    {
        if (value is null)
        {
            _writer.WriteNull(name);
        }
        else
        {
            _writer.WriteString(name, value);
        }

        return this;
    }

    public JsonLine Add(string name, bool value)
    {
        _writer.WriteBoolean(name, value);
        return this;
    }

    public JsonLine AddArray(string name, Action<Utf8JsonWriter> writeItems)
    {
        _writer.WriteStartArray(name);
        writeItems(_writer);
        _writer.WriteEndArray();
        return this;
    }

    public override string ToString()
    {
        _writer.WriteEndObject();
        _writer.Flush();
        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
