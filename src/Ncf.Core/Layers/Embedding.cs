using Ncf.Backends;
using Ncf.Tensors;

namespace Ncf.Layers;

/// <summary>
/// Embedding lookup. table <c>[rows, dim]</c>; ids <c>[n]</c>; output <c>[n, dim]</c>.
/// Forward gathers rows; backward scatter-adds row gradients into the table's gradient (accumulates, so
/// an id repeated in a batch receives the sum of its rows' gradients).
/// </summary>
public sealed class Embedding(ParameterSet parameters, ParameterSlice table)
{
    /// <summary>The table's slice.</summary>
    public ParameterSlice Table { get; } = table;

    /// <summary>Width of one row.</summary>
    public int Dim => Table.Columns;

    /// <summary><c>output[n, :] = table[ids[n], :]</c>.</summary>
    public void Forward(View<int> ids, View<float> output) =>
        parameters.Backend.Gather(parameters.Value(Table), Dim, ids, output);

    /// <summary><c>dTable[ids[n], :] += dOutput[n, :]</c>.</summary>
    public void Backward(View<int> ids, View<float> dOutput) =>
        parameters.Backend.ScatterAdd(dOutput, ids, Dim, parameters.Gradient(Table));
}
