using System.Runtime.InteropServices;

namespace Ncf.IO;

/// <summary>What kind of file system entry a path names, beyond what .NET's file APIs tell (they report devices and
/// named pipes as <see cref="FileAttributes.Normal"/>).</summary>
internal enum FileKind
{
    /// <summary>A regular file, a folder, nothing at all, or a path whose kind cannot be told here.</summary>
    Ordinary,

    /// <summary>A character device such as <c>/dev/null</c> or a terminal.</summary>
    CharacterDevice,

    /// <summary>A named pipe (FIFO).</summary>
    NamedPipe,

    /// <summary>A block device (a disk or a partition).</summary>
    BlockDevice,

    /// <summary>A Unix domain socket.</summary>
    Socket,
}

/// <summary>
/// Tells devices, named pipes and sockets from regular files. Linux only (statx(2), whose buffer layout is the same on
/// every architecture); elsewhere, or where the call is unavailable, every path counts as an ordinary one.
/// </summary>
internal static unsafe partial class SpecialFile
{
    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;          // struct statx: stx_mask, stx_blksize, stx_attributes, stx_nlink, stx_uid, stx_gid, stx_mode
    private const int OpenWriteOnly = 0x1, OpenNonBlocking = 0x800, NoSuchDeviceOrAddress = 6;

    /// <summary>The kind of entry at <paramref name="path"/>, symbolic links followed.</summary>
    public static FileKind KindOf(string path)
    {
        if (!OperatingSystem.IsLinux() || string.IsNullOrEmpty(path))
        {
            return FileKind.Ordinary;
        }

        try
        {
            byte* buffer = stackalloc byte[256];
            fixed (byte* name = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
            {
                if (Statx(AtCurrentDirectory, name, 0, StatxType, buffer) != 0)
                {
                    return FileKind.Ordinary;
                }
            }

            return (*(ushort*)(buffer + ModeOffset) & 0xF000) switch
            {
                0x1000 => FileKind.NamedPipe,
                0x2000 => FileKind.CharacterDevice,
                0x6000 => FileKind.BlockDevice,
                0xC000 => FileKind.Socket,
                _ => FileKind.Ordinary,
            };
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return FileKind.Ordinary;
        }
    }

    /// <summary>
    /// Opens the named pipe at <paramref name="path"/> for writing without waiting and holds it open until disposed;
    /// null when nothing has it open for reading (opening it to write would then wait, possibly for ever). While the
    /// hold is open, a reader that reads once (<c>cat pipe &gt; file</c>) cannot see the end of the stream before the
    /// real write has opened the pipe: a probe that closed at once would end such a reader and leave the write waiting
    /// for another. Where this cannot be told, a hold that holds nothing.
    /// </summary>
    public static IDisposable? HoldPipeWriter(string path)
    {
        try
        {
            fixed (byte* name = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
            {
                int descriptor = Open(name, OpenWriteOnly | OpenNonBlocking, 0);
                if (descriptor >= 0)
                {
                    return new Descriptor(descriptor);
                }

                return Marshal.GetLastPInvokeError() == NoSuchDeviceOrAddress ? null : new Descriptor(-1);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return new Descriptor(-1);
        }
    }

    private sealed class Descriptor(int descriptor) : IDisposable
    {
        private int _descriptor = descriptor;

        public void Dispose()
        {
            if (_descriptor >= 0)
            {
                Close(_descriptor);
                _descriptor = -1;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "statx")]
    private static partial int Statx(int directory, byte* path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);
}
