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
        stdout.WriteLine($"cpu        {Environment.ProcessorCount} cores, {simd}, Vector<float> width {Vector<float>.Count}  (--device cpu)");
        var devices = Ncf.Gpu.IlgpuBackend.ListDevices();
        foreach (var d in devices)
        {
            string memory = d.MemoryBytes > 0 ? $", {d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB" : "";
            stdout.WriteLine($"{Ncf.Gpu.IlgpuBackend.KindName(d.Kind),-10} #{d.Index} {d.Name}{memory}  (--device {Ncf.Gpu.IlgpuBackend.KindName(d.Kind)})");
        }

        if (!devices.Any(d => d.Kind is Ncf.Gpu.GpuDeviceKind.Cuda or Ncf.Gpu.GpuDeviceKind.OpenCL))
        {
            stdout.WriteLine("no CUDA or OpenCL device found (for OpenCL on a CPU-only Linux machine see docs/opencl.md)");
        }

        return Cli.Ok;
    }
}
