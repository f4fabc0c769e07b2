using Ncf.Backends;
using Ncf.Backends.Cpu;

namespace Ncf.Core.Tests.Backends;

public class FusedKernelTests
{
    [Theory]
    [InlineData(1, 7)]
    [InlineData(1, 100_003)]
    [InlineData(2, 100_003)]
    public void Fused_adam_and_clear_equals_adam_then_fill_bit_for_bit(int threads, int length)
    {
        using var backend = new CpuBackend(threads: threads);
        var rng = new Ncf.Randomness.Rng(17);
        float[] Random() => Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var (p, g, m, v) = (Random(), Random(), Random(), Random().Select(Math.Abs).ToArray());
        DeviceBuffer<float>[] Upload() => new[] { p, g, m, v }.Select(a => { var b = backend.AllocateFloat(length); b.Write(0, a); return b; }).ToArray();
        var separate = Upload();
        var fused = Upload();
        var settings = new AdamSettings(0.01f, 0.9f, 0.999f, 1e-8f, 0.001f, 3);

        backend.AdamStep(separate[0].All, separate[1].All, separate[2].All, separate[3].All, settings);
        backend.Fill(separate[1].All, 0f);
        backend.AdamStepClearingGradients(fused[0].All, fused[1].All, fused[2].All, fused[3].All, settings);

        for (int k = 0; k < 4; k++)
        {
            Assert.Equal(separate[k].ToArray(), fused[k].ToArray());
        }

        Assert.All(fused[1].ToArray(), x => Assert.Equal(0f, x));
        Assert.NotEqual(p, fused[0].ToArray());
    }
}
