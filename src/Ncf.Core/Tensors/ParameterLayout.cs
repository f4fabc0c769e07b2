namespace Ncf.Tensors;

/// <summary>What a parameter slice is, which decides its initialisation and whether lazy optimizers treat it by rows.</summary>
public enum ParameterRole
{
    /// <summary>An embedding table <c>[rows, dim]</c>: rows are looked up by id.</summary>
    Embedding,

    /// <summary>A dense weight <c>[outDim, inDim]</c>.</summary>
    Weight,

    /// <summary>A dense bias <c>[outDim]</c>.</summary>
    Bias,
}

/// <summary>Which ids index the rows of an embedding table.</summary>
public enum IdSpace
{
    /// <summary>Not an embedding table.</summary>
    None,

    /// <summary>Rows are users.</summary>
    User,

    /// <summary>Rows are items.</summary>
    Item,
}

/// <summary>A named <c>[Rows, Columns]</c> block of a model's flat parameter buffer.</summary>
public sealed record ParameterSlice(string Name, ParameterRole Role, int Offset, int Rows, int Columns, IdSpace RowIds = IdSpace.None)
{
    /// <summary>Number of floats.</summary>
    public int Length => Rows * Columns;
}

/// <summary>
/// The layout of one flat parameter buffer: named slices laid end to end. Gradients and the optimizer's
/// moments use the same layout, so clearing gradients is one fill and an optimizer step is one loop.
/// </summary>
public sealed class ParameterLayout
{
    private readonly List<ParameterSlice> _slices = [];

    /// <summary>All slices in buffer order.</summary>
    public IReadOnlyList<ParameterSlice> Slices => _slices;

    /// <summary>Total number of floats.</summary>
    public int Length { get; private set; }

    /// <summary>Appends a slice and returns it.</summary>
    public ParameterSlice Add(string name, ParameterRole role, int rows, int columns, IdSpace rowIds = IdSpace.None)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (_slices.Any(s => s.Name == name))
        {
            throw new ArgumentException($"Duplicate parameter name '{name}'.", nameof(name));
        }

        long end = (long)Length + (long)rows * columns;
        if (end > Array.MaxLength)
        {
            throw new NcfException($"The model needs {end:N0} parameters, more than one buffer can hold.");
        }

        var slice = new ParameterSlice(name, role, Length, rows, columns, rowIds);
        _slices.Add(slice);
        Length = (int)end;
        return slice;
    }

    /// <summary>The slice called <paramref name="name"/>.</summary>
    public ParameterSlice this[string name] =>
        _slices.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException($"No parameter slice '{name}'.");
}
