using Ncf.Backends;

namespace Ncf.Tensors;

/// <summary>
/// A model's parameters and their gradients: two buffers on one backend, both in <see cref="Layout"/>.
/// </summary>
public sealed class ParameterSet : IDisposable
{
    /// <summary>Allocates zeroed values and gradients for <paramref name="layout"/> on <paramref name="backend"/>.</summary>
    public ParameterSet(IBackend backend, ParameterLayout layout)
    {
        Backend = backend;
        Layout = layout;
        Values = backend.AllocateFloat(layout.Length);
        Gradients = backend.AllocateFloat(layout.Length);
    }

    /// <summary>The backend holding the buffers.</summary>
    public IBackend Backend { get; }

    /// <summary>The slices.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>All parameter values.</summary>
    public DeviceBuffer<float> Values { get; }

    /// <summary>All gradients (same layout).</summary>
    public DeviceBuffer<float> Gradients { get; }

    /// <summary>The values of one slice.</summary>
    public View<float> Value(ParameterSlice slice) => Values.Slice(slice.Offset, slice.Length);

    /// <summary>The gradient of one slice.</summary>
    public View<float> Gradient(ParameterSlice slice) => Gradients.Slice(slice.Offset, slice.Length);

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGradients() => Backend.Fill(Gradients.All, 0f);

    /// <summary>Copies all values to the host.</summary>
    public float[] ToArray() => Values.ToArray();

    /// <summary>Copies values from the host; <paramref name="values"/> must match the layout's length.</summary>
    public void Load(ReadOnlySpan<float> values)
    {
        if (values.Length != Layout.Length)
        {
            throw new ArgumentException($"Expected {Layout.Length} parameters, got {values.Length}.", nameof(values));
        }

        Values.Write(0, values);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Values.Dispose();
        Gradients.Dispose();
    }
}
