using System.Numerics;
using Xunit.Abstractions;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Records the SIMD width the sweeps ran with. The sweeps (lengths 0..67, dims 1..67) cover every remainder for
/// widths 4, 8 and 16. The suite passes with the default width 8 (AVX2) and with width 4 (DOTNET_EnableAVX2=0, and
/// DOTNET_EnableHWIntrinsic=0, software vectors); .NET 10 keeps Vector&lt;T&gt; at 256 bits even with
/// DOTNET_PreferredVectorBitWidth=512, so width 16 is not reachable here.
/// </summary>
public class VectorWidthTests(ITestOutputHelper output)
{
    [Fact]
    public void VectorWidth_IsOneTheSweepsCover()
    {
        output.WriteLine($"Vector<float>.Count = {Vector<float>.Count}, accelerated = {Vector.IsHardwareAccelerated}");
        Assert.Contains(Vector<float>.Count, new[] { 4, 8, 16 });
    }
}
