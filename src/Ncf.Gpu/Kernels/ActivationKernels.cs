using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Element-wise layers, forward and backward side by side: ReLU, sigmoid, element-wise product (GMF).
/// All tensors are flat <c>[n]</c>; activation gradients are overwritten. One thread per element.
/// </summary>
internal sealed class ActivationKernels(Accelerator accelerator)
{
    private Action<Index1D, ArrayView<float>, ArrayView<float>>? _reluForward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _reluBackward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>>? _sigmoidForward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _sigmoidBackward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _multiplyForward;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _multiplyBackward;

    public void ReluForward(ArrayView<float> x, ArrayView<float> y) =>
        (_reluForward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ReluForwardKernel))
        ((int)x.Length, x, y);

    public void ReluBackward(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) =>
        (_reluBackward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ReluBackwardKernel))
        ((int)y.Length, y, dy, dx);

    public void SigmoidForward(ArrayView<float> x, ArrayView<float> y) =>
        (_sigmoidForward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(SigmoidForwardKernel))
        ((int)x.Length, x, y);

    public void SigmoidBackward(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) =>
        (_sigmoidBackward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SigmoidBackwardKernel))
        ((int)y.Length, y, dy, dx);

    public void MultiplyForward(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) =>
        (_multiplyForward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MultiplyForwardKernel))
        ((int)a.Length, a, b, y);

    public void MultiplyBackward(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy, ArrayView<float> da, ArrayView<float> db) =>
        (_multiplyBackward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MultiplyBackwardKernel))
        ((int)a.Length, a, b, dy, da, db);

    // y = max(x, 0); in place allowed (each thread reads then writes its own element).
    private static void ReluForwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> y)
    {
        float v = x[i];
        y[i] = v > 0f ? v : 0f;
    }

    // dx = y > 0 ? dy : 0, from the forward's output y.
    private static void ReluBackwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) =>
        dx[i] = y[i] > 0f ? dy[i] : 0f;

    // y = 1 / (1 + exp(-x)); exp overflows to +inf for x < -88, giving exactly 0.
    private static void SigmoidForwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> y) =>
        y[i] = 1f / (1f + XMath.Exp(-x[i]));

    // dx = dy · y · (1 - y), from the forward's output y.
    private static void SigmoidBackwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx)
    {
        float v = y[i];
        dx[i] = dy[i] * v * (1f - v);
    }

    // y = a ⊙ b.
    private static void MultiplyForwardKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) =>
        y[i] = a[i] * b[i];

    // da = dy ⊙ b, db = dy ⊙ a (inputs read before either output is written, so da may alias a).
    private static void MultiplyBackwardKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy,
        ArrayView<float> da, ArrayView<float> db)
    {
        float g = dy[i];
        float ai = a[i];
        float bi = b[i];
        da[i] = g * bi;
        db[i] = g * ai;
    }
}
