using System.Runtime.InteropServices;

namespace Ncf.IO;

/// <summary>
/// Tells a device or a named pipe from a regular file, which .NET's file APIs do not: both report
/// <see cref="FileAttributes.Normal"/>. Linux only (statx(2), whose buffer layout is the same on every architecture);
/// elsewhere, or where the call is unavailable, every path counts as an ordinary one.
/// </summary>
internal static unsafe partial class SpecialFile
{
    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;          // struct statx: stx_mask, stx_blksize, stx_attributes, stx_nlink, stx_uid, stx_gid, stx_mode
    private const int TypeMask = 0xF000, RegularFile = 0x8000, Directory = 0x4000;

    /// <summary>True when <paramref name="path"/> exists (links followed) and is neither a regular file nor a folder.</summary>
    public static bool Is(string path)
    {
        if (!OperatingSystem.IsLinux() || string.IsNullOrEmpty(path))
        {
            return false;
        }

        try
        {
            byte* buffer = stackalloc byte[256];
            int result;
            fixed (byte* name = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
            {
                result = Statx(AtCurrentDirectory, name, 0, StatxType, buffer);
            }

            int type = *(ushort*)(buffer + ModeOffset) & TypeMask;
            return result == 0 && type != RegularFile && type != Directory;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "statx")]
    private static partial int Statx(int directory, byte* path, int flags, uint mask, byte* buffer);
}
