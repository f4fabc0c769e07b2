using Ncf.Backends;
using Ncf.Tensors;

namespace Ncf.Layers;

/// <summary>
/// Fully connected layer. x <c>[n, In]</c>; weight <c>[Out, In]</c>; bias <c>[Out]</c>; y <c>[n, Out]</c>.
/// Forward <c>y = x·Wᵀ + b</c>. Backward <c>dx = dy·W</c> (overwritten; skipped for an empty dx),
/// <c>dW += dyᵀ·x</c>, <c>db += Σ dy</c>.
/// </summary>
public sealed class Dense(ParameterSet parameters, ParameterSlice weight, ParameterSlice bias)
{
    /// <summary>The weight slice, <c>[Out, In]</c>.</summary>
    public ParameterSlice Weight { get; } = weight;

    /// <summary>The bias slice, <c>[Out]</c>.</summary>
    public ParameterSlice Bias { get; } = bias;

    /// <summary>Input width.</summary>
    public int In => Weight.Columns;

    /// <summary>Output width.</summary>
    public int Out => Weight.Rows;

    /// <summary>Forward over <paramref name="rows"/> rows.</summary>
    public void Forward(View<float> x, View<float> y, int rows) =>
        parameters.Backend.DenseForward(x, parameters.Value(Weight), parameters.Value(Bias), y, rows, In, Out);

    /// <summary>Backward over <paramref name="rows"/> rows; pass <c>default</c> as <paramref name="dx"/> to skip it.</summary>
    public void Backward(View<float> x, View<float> dy, View<float> dx, int rows) =>
        parameters.Backend.DenseBackward(x, parameters.Value(Weight), dy, dx, parameters.Gradient(Weight), parameters.Gradient(Bias),
            rows, In, Out);
}
