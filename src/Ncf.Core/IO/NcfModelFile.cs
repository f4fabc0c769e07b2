using Ncf.Backends;
using Ncf.Data;
using Ncf.Models;

namespace Ncf.IO;

/// <summary>
/// The model file format, version 3, little-endian:
/// <code>
/// "NCFMODEL"  8 bytes magic
/// u32 version (3), u32 model kind (1 GMF, 2 MLP, 3 NeuMF)
/// i32 factors, i32 layers, i32 users, i32 items, i32 parameter count P
/// f32[P]      parameters in the model's layout order
/// string      data set name
/// i32 U + U strings, i32 I + I strings   external user and item IDs (string = i32 byte count + UTF-8)
/// i32 K, i32[U+1] offsets, i32[K] items  each user's known items (training, validation and test), sorted, for exclusion
/// u8 flags    (version 2) bit 0: the data split's seed follows; bit 1: every interaction trained the model (no hold-out);
///             (version 3) bit 2: the targets fingerprint is set; bit 3: the run scored ties optimistically
/// u64 seed    (version 2) the data split's seed, 0 when bit 0 is clear; version 1 files end before the flags
/// u64 targets (version 3) fingerprint of the held-out test cases when flag bit 2 is set, else 0
/// 32 bytes    SHA-256 of everything above
/// </code>
/// Version 1 (no seed) and 2 (no fingerprint) files are still read.
/// Files are written to a temporary name in the same folder, flushed to disk and renamed over the target, so a
/// crash leaves either the old file or the new one, never a torn one.
/// </summary>
public static class NcfModelFile
{
    /// <summary>The current format version (written); <see cref="Load"/> reads this one and versions 1 and 2.</summary>
    public const int Version = 3;

    private static readonly byte[] Magic = "NCFMODEL"u8.ToArray();

    /// <summary>True when every value is a finite number (no NaN, no infinity): a diverged model is neither saved nor loaded.</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }

    private const byte SeedFlag = 1, EverythingFlag = 2, TargetsFlag = 4, OptimisticTiesFlag = 8;

    /// <summary>Writes <paramref name="recommender"/> to <paramref name="path"/> atomically.</summary>
    /// <remarks>The file is streamed to disk while its hash is computed: beyond the parameters' host copy, saving holds no
    /// second image of the file in memory (a model of a large catalogue is mostly its ID tables and known items).</remarks>
    public static void Save(NcfRecommender recommender, string path)
    {
        var model = recommender.Model;
        var values = model.Parameters.ToArray();
        if (!AllFinite(values))
        {
            throw new NcfException($"{path}: not written: the model's parameters are not all finite numbers (training diverged); "
                + "train again with a lower learning rate.");
        }

        AtomicFile.Write(path, stream =>
        {
            using var w = new HashedWriter(stream);
            w.Bytes(Magic);
            w.UInt32(Version);
            w.UInt32((uint)model.Kind);
            w.Int32(model.Options.Factors);
            w.Int32(model.Options.Layers);
            w.Int32(model.UserCount);
            w.Int32(model.ItemCount);
            w.Int32(values.Length);
            w.Singles(values);
            w.String(recommender.DatasetName);
            WriteIds(w, recommender.UserIds);
            WriteIds(w, recommender.ItemIds);
            var known = recommender.KnownItems;
            w.Int32(known.PairCount);
            w.Int32s(known.Offsets);
            w.Int32s(known.Items);
            w.Byte((byte)((recommender.DataSeed is null ? 0 : SeedFlag) | (recommender.TrainedOnEverything ? EverythingFlag : 0)
                | (recommender.TestTargetsFingerprint is null ? 0 : TargetsFlag)
                | (recommender.Ties == Evaluation.TieBreaking.Optimistic ? OptimisticTiesFlag : 0)));
            w.UInt64(recommender.DataSeed ?? 0UL);
            w.UInt64(recommender.TestTargetsFingerprint ?? 0UL);
            w.Finish();
        });
    }

    /// <summary>
    /// Reads a model file onto <paramref name="backend"/>. A missing, truncated, altered or foreign file throws
    /// <see cref="NcfException"/> with a message naming the file and the problem.
    /// </summary>
    public static NcfRecommender Load(string path, IBackend backend)
    {
        byte[] bytes = StoredFile.ReadAll(path, "model file");
        var body = StoredFile.CheckedBody(path, bytes, Magic, "model file", 1, Version, out uint version);
        var reader = new SpanReader(path, body);
        reader.Skip(Magic.Length + 4);
        var kind = (ModelKind)reader.UInt32();
        int factors = reader.Int32(), layers = reader.Int32(), users = reader.Int32(), items = reader.Int32(), count = reader.Int32();
        var options = new ModelOptions { Kind = kind, Factors = factors, Layers = layers };
        try
        {
            options.Validate();
        }
        catch (NcfException e)
        {
            throw new NcfException($"{path}: invalid model header: {e.Message}", e);
        }

        // Checked before the model is allocated: a forged header must not make a small file ask for gigabytes.
        long shaped = NcfModel.ParameterCount(users, items, options);
        if (count != shaped)
        {
            throw new NcfException($"{path}: holds {count} parameters but a {kind} with these shapes ({users} users, {items} items) has {shaped}.");
        }

        if (users < 1 || items < 1 || (long)count * sizeof(float) + 8L * users + 4L * items > reader.Remaining)
        {
            throw new NcfException($"{path}: the file is truncated or inconsistent ({users} users, {items} items and {count} parameters "
                + $"need more than the {reader.Remaining} bytes left).");
        }

        var model = new NcfModel(backend, users, items, options);
        try
        {
            var values = new float[count];
            reader.Singles(values);

            if (!AllFinite(values))
            {
                throw new NcfException($"{path}: holds parameters that are not finite numbers (NaN or infinity): the training that wrote it "
                    + "diverged, and its scores would rank nothing. Train again with a lower learning rate.");
            }

            model.Parameters.Load(values);
            string name = reader.String();
            var userIds = ReadIds(ref reader, users, "user");
            var itemIds = ReadIds(ref reader, items, "item");
            int pairs = reader.Int32();
            var offsets = reader.Int32Array(users + 1);
            var knownItems = reader.Int32Array(pairs);
            ulong? dataSeed = null, targets = null;
            var ties = Evaluation.TieBreaking.Pessimistic;
            bool trainedOnEverything = false;
            if (version >= 2)
            {
                byte flags = reader.Byte();
                ulong seed = reader.UInt64();
                ulong fingerprint = version >= 3 ? reader.UInt64() : 0;
                byte knownFlags = version >= 3 ? (byte)(SeedFlag | EverythingFlag | TargetsFlag | OptimisticTiesFlag) : (byte)(SeedFlag | EverythingFlag);
                if ((flags & ~knownFlags) != 0)
                {
                    throw new NcfException($"{path}: invalid flags byte {flags} (version {version} knows bits {(version >= 3 ? "0 to 3" : "0 and 1")}).");
                }

                ties = (flags & OptimisticTiesFlag) != 0 ? Evaluation.TieBreaking.Optimistic : Evaluation.TieBreaking.Pessimistic;

                dataSeed = (flags & SeedFlag) != 0 ? seed : null;
                trainedOnEverything = (flags & EverythingFlag) != 0;
                targets = (flags & TargetsFlag) != 0 ? fingerprint : null;
            }

            if (!reader.AtEnd)
            {
                throw new NcfException($"{path}: unexpected bytes after the known-items table.");
            }

            var known = KnownFromCsr(path, users, items, offsets, knownItems);
            return new NcfRecommender(model, userIds, itemIds, known, name)
            {
                DataSeed = dataSeed, TrainedOnEverything = trainedOnEverything, TestTargetsFingerprint = targets, Ties = ties,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // The writer stores UserItemIndex's own arrays (sorted, distinct runs), so they are taken as read, after checking,
    // instead of being rebuilt from pairs: loading a model of 17 M known pairs then holds one copy of them, not three.
    private static UserItemIndex KnownFromCsr(string path, int users, int items, int[] offsets, int[] knownItems)
    {
        return UserItemIndex.FromSortedRows(users, items, offsets, knownItems, out string? problem)
            ?? throw new NcfException($"{path}: the known-items table is inconsistent ({problem}).");
    }

    private static void WriteIds(HashedWriter w, IdMap ids)
    {
        w.Int32(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            w.String(ids[i]);
        }
    }

    private static IdMap ReadIds(ref SpanReader reader, int expected, string what)
    {
        int count = reader.Int32();
        if (count != expected)
        {
            throw new NcfException($"{reader.Path}: has {count} {what} IDs for {expected} {what}s.");
        }

        var ids = new string[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = reader.String();
        }

        try
        {
            return new IdMap(ids);
        }
        catch (ArgumentException e)
        {
            throw new NcfException($"{reader.Path}: {what} IDs are not distinct ({e.Message}).", e);
        }
    }
}

/// <summary>Writes files so that readers and crashes never see a partial file.</summary>
/// <remarks>A path that names a device or a named pipe (<c>/dev/null</c>, <c>/dev/stdout</c>, a FIFO) is written into
/// directly, as a shell's <c>&gt;</c> would, instead of being replaced by a regular file.</remarks>
public static class AtomicFile
{
    /// <summary>
    /// True when <paramref name="path"/> names a character device (<c>/dev/stdout</c>, a terminal) or a named pipe, which
    /// <see cref="Write(string, Action{Stream})"/> writes into instead of replacing; false for a regular file, a folder
    /// or nothing (Linux tells them apart; elsewhere every path is a file).
    /// </summary>
    public static bool IsDeviceOrPipe(string path) => SpecialFile.KindOf(path) is FileKind.CharacterDevice or FileKind.NamedPipe;

    /// <summary>Writes <paramref name="content"/> to a temporary file beside <paramref name="path"/>, flushes it to disk, then renames it into place.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        // A span cannot be captured by the callback, so this overload copies; large writers stream through the other one.
        byte[] bytes = content.ToArray();
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>
    /// Streams a file through <paramref name="write"/> into a temporary file beside <paramref name="path"/>, flushes it
    /// to disk, then renames it into place. If <paramref name="write"/> throws (or is cancelled), the temporary file is
    /// deleted and whatever was at <paramref name="path"/> is left as it was.
    /// </summary>
    /// <remarks>A symbolic link at <paramref name="path"/> is followed: the file it points to is replaced and the link
    /// kept. The replaced file's Unix permissions carry over to the new one (a private model stays private).</remarks>
    public static void Write(string path, Action<Stream> write)
    {
        switch (SpecialFile.KindOf(path))
        {
            case FileKind.CharacterDevice:
                // /dev/null, /dev/stdout, a terminal: written into, never replaced (renaming a file over it would destroy
                // the device node), and "whole or not at all" has no meaning for a stream.
                WriteInto(path, write);
                return;
            case FileKind.NamedPipe:
                using (SpecialFile.HoldPipeWriter(path)
                    ?? throw new NcfException($"{path}: a named pipe that nothing reads; start its reader first (writing would wait for one)."))
                {
                    WriteInto(path, write);
                }

                return;
            case FileKind.BlockDevice:
                throw new NcfException($"{path}: is a block device (a disk); give a file name.");
            case FileKind.Socket:
                throw new NcfException($"{path}: is a socket; give a file name.");
        }

        string full = TargetOf(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            // Writers such as HashedWriter hand over one small value at a time: the buffer makes those large writes.
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            if (!OperatingSystem.IsWindows() && File.Exists(full))
            {
                File.SetUnixFileMode(temporary, File.GetUnixFileMode(full));
            }

            File.Move(temporary, full, overwrite: true);
            RemoveStaleTemporaries(directory, Path.GetFileName(full));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw WriteError($"{path}: cannot write the file ({e.Message})", e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void WriteInto(string path, Action<Stream> write)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 1 << 16);
            write(stream);
            stream.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteError($"{path}: cannot write to the device or pipe ({e.Message})", e);
        }
    }

    // A path that cannot be written (no permission, a missing folder, too long) is the request's fault; anything else
    // (a full disk, a device error, a closed pipe) failed underneath it.
    private static NcfException WriteError(string message, Exception cause) =>
        cause is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException or PathTooLongException
            ? new NcfException(message, cause)
            : new NcfIOException(message, cause);

    /// <summary>
    /// The file a write to <paramref name="path"/> replaces: its full path, symbolic links followed (so that a caller
    /// can check, before any work, that it is not a file it reads).
    /// </summary>
    /// <exception cref="NcfException">The path is not usable, or it is a folder.</exception>
    public static string TargetOf(string path)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
            if (new FileInfo(full).LinkTarget is not null)
            {
                full = File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
            }
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or IOException)
        {
            throw new NcfException($"'{path}': not a usable file path ({e.Message})", e);
        }

        if (Directory.Exists(full))
        {
            throw new NcfException($"{path}: is a folder; give a file name.");
        }

        return full;
    }

    /// <summary>
    /// Removes the temporaries of earlier writes to <paramref name="fileName"/> whose process is gone (killed between
    /// creating and renaming them: `kill -9`, a power cut) and that were last written over an hour ago, so that a file
    /// rewritten every epoch does not collect them. A temporary of a live process, this one's included, is another write
    /// under way and is left alone.
    /// </summary>
    private static void RemoveStaleTemporaries(string directory, string fileName)
    {
        try
        {
            string prefix = $".{fileName}.";
            foreach (string temporary in Directory.EnumerateFiles(directory, $"{prefix}*.tmp"))
            {
                // The pattern's wildcards may also match names with * or ? in them: only this file's own temporaries count.
                // Exactly the names Write gives (PID in canonical digits, a 32-digit GUID), so a user's file that merely
                // looks alike is never touched.
                string name = Path.GetFileName(temporary);
                string[] parts = name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..].Split('.') : [];
                if (parts.Length != 3 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)
                    || parts[0] != pid.ToString(System.Globalization.CultureInfo.InvariantCulture) || !Guid.TryParseExact(parts[1], "N", out _)
                    || parts[1] != parts[1].ToLowerInvariant())
                {
                    continue;
                }

                // A PID is only known to this process table: a writer in another container or on another machine sharing
                // the folder looks dead. A write under way keeps its file's time fresh, so only hour-old ones go.
                if (pid != Environment.ProcessId && !IsRunning(pid) && DateTime.UtcNow - File.GetLastWriteTimeUtc(temporary) > StaleAfter)
                {
                    TryDelete(temporary);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Tidying is best effort: the file itself was written.
        }
    }

    private static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException or System.ComponentModel.Win32Exception)
        {
            return true; // cannot tell: keep the file
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
