using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Binary cross-entropy, on probabilities and fused with the sigmoid on logits, forward and backward in one pass.
/// Inputs and gradients are <c>[n]</c>. Each per-element loss goes to a scratch buffer; one group then reduces it
/// (Kahan per thread, a fixed tree across threads: deterministic) and adds the total into the 2-float Kahan
/// accumulator (sum, compensation) on the device, so a training step needs no host round trip for its loss.
/// </summary>
internal sealed class LossKernels(Accelerator accelerator)
{
    private const int ReduceGroupSize = 256;

    /// <summary>The probability clamp of <see cref="Ncf.Kernels.BinaryCrossEntropyKernel.Epsilon"/>.</summary>
    private const float Epsilon = Ncf.Kernels.BinaryCrossEntropyKernel.Epsilon;

    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>? _binaryCrossEntropy;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>? _sigmoidBinaryCrossEntropy;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>>? _reduceIntoAccumulator;

    /// <summary>BCE on probabilities; <paramref name="losses"/> is scratch of n floats.</summary>
    public void BinaryCrossEntropy(ArrayView<float> p, ArrayView<float> t, ArrayView<float> dp, float scale, ArrayView<float> losses,
        ArrayView<float> accumulator)
    {
        (_binaryCrossEntropy ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>(BinaryCrossEntropyKernel))
            ((int)p.Length, p, t, dp, scale, losses);
        Reduce(losses, accumulator);
    }

    /// <summary>Sigmoid + BCE on logits; <paramref name="losses"/> is scratch of n floats.</summary>
    public void SigmoidBinaryCrossEntropy(ArrayView<float> z, ArrayView<float> t, ArrayView<float> dz, float scale, ArrayView<float> losses,
        ArrayView<float> accumulator)
    {
        (_sigmoidBinaryCrossEntropy ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>(SigmoidBinaryCrossEntropyKernel))
            ((int)z.Length, z, t, dz, scale, losses);
        Reduce(losses, accumulator);
    }

    private void Reduce(ArrayView<float> losses, ArrayView<float> accumulator) =>
        (_reduceIntoAccumulator ??= accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>>(ReduceIntoAccumulatorKernel))
        (new KernelConfig(1, ReduceGroupSize), losses, accumulator);

    // loss = -(t·log p + (1-t)·log(1-p)), dp = scale·(p - t) / (p(1 - p)), p clamped to [ε, 1-ε].
    private static void BinaryCrossEntropyKernel(Index1D i, ArrayView<float> probabilities, ArrayView<float> targets,
        ArrayView<float> dProbabilities, float scale, ArrayView<float> losses)
    {
        float p = XMath.Clamp(probabilities[i], Epsilon, 1f - Epsilon);
        float t = targets[i];
        losses[i] = -(t * XMath.Log(p) + (1f - t) * XMath.Log(1f - p));
        dProbabilities[i] = scale * (p - t) / (p * (1f - p));
    }

    // loss = max(z, 0) - z·t + log1p(exp(-|z|)), dz = scale·(σ(z) - t); log1p(e) is log(u)·e/(u-1) with u = 1 + e.
    private static void SigmoidBinaryCrossEntropyKernel(Index1D i, ArrayView<float> logits, ArrayView<float> targets,
        ArrayView<float> dLogits, float scale, ArrayView<float> losses)
    {
        float z = logits[i];
        float t = targets[i];
        float e = XMath.Exp(-XMath.Abs(z));
        float u = 1f + e;
        float log1p = u == 1f ? e : XMath.Log(u) * e / (u - 1f);
        losses[i] = XMath.Max(z, 0f) - z * t + log1p;
        float sigmoid = z >= 0f ? 1f / u : e / u;
        dLogits[i] = scale * (sigmoid - t);
    }

    // One group: thread j Kahan-sums losses[j], losses[j + G], ...; a shared-memory tree adds the G partial sums;
    // thread 0 adds the total into accumulator = (sum, compensation) with one Kahan step.
    private static void ReduceIntoAccumulatorKernel(ArrayView<float> losses, ArrayView<float> accumulator)
    {
        var partial = SharedMemory.Allocate<float>(ReduceGroupSize);
        int j = Group.IdxX;
        int n = losses.IntLength;
        float sum = 0f;
        float compensation = 0f;
        for (int i = j; i < n; i += ReduceGroupSize)
        {
            float y = losses[i] - compensation;
            float next = sum + y;
            compensation = (next - sum) - y;
            sum = next;
        }

        partial[j] = sum;
        Group.Barrier();
        for (int half = ReduceGroupSize / 2; half > 0; half /= 2)
        {
            if (j < half)
            {
                partial[j] += partial[j + half];
            }

            Group.Barrier();
        }

        if (j == 0)
        {
            float total = partial[0];
            float accumulated = accumulator[0];
            float y = total - accumulator[1];
            float next = accumulated + y;
            accumulator[1] = (next - accumulated) - y;
            accumulator[0] = next;
        }
    }
}
