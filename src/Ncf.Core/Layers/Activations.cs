using Ncf.Backends;

namespace Ncf.Layers;

/// <summary>
/// ReLU over any shape (flattened). Forward <c>y = max(x, 0)</c>; backward <c>dx = y &gt; 0 ? dy : 0</c>,
/// read from the forward's output so the forward may run in place.
/// </summary>
public sealed class Relu(IBackend backend)
{
    /// <summary>Forward; in place allowed.</summary>
    public void Forward(View<float> x, View<float> y) => backend.ReluForward(x, y);

    /// <summary>Backward from the forward's output; in place allowed.</summary>
    public void Backward(View<float> y, View<float> dy, View<float> dx) => backend.ReluBackward(y, dy, dx);
}

/// <summary>
/// Logistic sigmoid over any shape. Forward <c>y = σ(x)</c>; backward <c>dx = dy·y·(1-y)</c>. Used for
/// predicted probabilities; training uses <see cref="SigmoidBceLoss"/> on logits, which is stabler.
/// </summary>
public sealed class Sigmoid(IBackend backend)
{
    /// <summary>Forward; in place allowed.</summary>
    public void Forward(View<float> x, View<float> y) => backend.Sigmoid(x, y);

    /// <summary>Backward from the forward's output.</summary>
    public void Backward(View<float> y, View<float> dy, View<float> dx) => backend.SigmoidBackward(y, dy, dx);
}

/// <summary>
/// Binary cross-entropy on probabilities p <c>[n]</c> with targets t <c>[n]</c>: the mean loss over the batch,
/// forward and backward in one call (<c>dp</c> includes the 1/n of the mean). p is clamped to [1e-7, 1-1e-7].
/// </summary>
public sealed class BceLoss(IBackend backend)
{
    /// <summary>Adds the summed loss to <paramref name="lossAccumulator"/> and writes <c>dp = (p - t) / (n·p(1-p))</c>.</summary>
    public void ForwardBackward(View<float> probabilities, View<float> targets, View<float> dProbabilities, View<float> lossAccumulator) =>
        backend.BinaryCrossEntropy(probabilities, targets, dProbabilities, 1f / Math.Max(1, probabilities.Length), lossAccumulator);
}

/// <summary>
/// Sigmoid and binary cross-entropy fused on logits z <c>[n]</c> (PyTorch's BCEWithLogits): mean loss, forward
/// and backward in one call, <c>dz = (σ(z) - t) / n</c>; finite and accurate for logits of any size.
/// </summary>
public sealed class SigmoidBceLoss(IBackend backend)
{
    /// <summary>Adds the summed loss to <paramref name="lossAccumulator"/> and writes the gradient of the mean loss.</summary>
    public void ForwardBackward(View<float> logits, View<float> targets, View<float> dLogits, View<float> lossAccumulator) =>
        backend.SigmoidBinaryCrossEntropy(logits, targets, dLogits, 1f / Math.Max(1, logits.Length), lossAccumulator);
}

/// <summary>
/// Element-wise product of two <c>[n, f]</c> tensors — the GMF interaction <c>p_u ⊙ q_i</c>.
/// Backward <c>da = dy ⊙ b</c>, <c>db = dy ⊙ a</c> (overwritten).
/// </summary>
public sealed class ElementwiseProduct(IBackend backend)
{
    /// <summary>Forward.</summary>
    public void Forward(View<float> a, View<float> b, View<float> y) => backend.Multiply(a, b, y);

    /// <summary>Backward.</summary>
    public void Backward(View<float> a, View<float> b, View<float> dy, View<float> da, View<float> db) => backend.MultiplyBackward(a, b, dy, da, db);
}

/// <summary>
/// Concatenation along columns: parts <c>[n, w_k]</c> into <c>[n, Σ w_k]</c>; backward splits the gradient.
/// </summary>
public sealed class Concat(IBackend backend)
{
    /// <summary>Copies <paramref name="part"/> <c>[rows, width]</c> into columns <c>[column, column + width)</c> of <paramref name="output"/> <c>[rows, totalWidth]</c>.</summary>
    public void Forward(View<float> part, int width, View<float> output, int totalWidth, int column, int rows)
    {
        if (rows == 0)
        {
            return;
        }

        backend.CopyColumns(part, width, output.Slice(column, (rows - 1) * totalWidth + width), totalWidth, rows, width);
    }

    /// <summary>Copies columns <c>[column, column + width)</c> of <paramref name="dOutput"/> into <paramref name="dPart"/> <c>[rows, width]</c>.</summary>
    public void Backward(View<float> dOutput, int totalWidth, int column, View<float> dPart, int width, int rows)
    {
        if (rows == 0)
        {
            return;
        }

        backend.CopyColumns(dOutput.Slice(column, (rows - 1) * totalWidth + width), totalWidth, dPart, width, rows, width);
    }
}
