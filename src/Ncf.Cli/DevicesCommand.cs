using System.Numerics;
using System.Runtime.Intrinsics;

namespace Ncf.Cli;

/// <summary>`ncf devices`: the compute devices this build can use.</summary>
internal static class DevicesCommand
{
    public static int Run(string[] argv, TextWriter stdout)
    {
        var args = new Arguments(argv, Common.Flags);
        args.RejectUnknown("devices");
        string simd = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "scalar";
        stdout.WriteLine($"cpu      {Environment.ProcessorCount} cores, {simd}, Vector<float> width {Vector<float>.Count}");
        return Cli.Ok;
    }
}
