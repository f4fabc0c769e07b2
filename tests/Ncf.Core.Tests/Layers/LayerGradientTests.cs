using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Layers;
using Ncf.Tensors;
using static Ncf.Core.Tests.Layers.FiniteDifference;

namespace Ncf.Core.Tests.Layers;

/// <summary>
/// Every layer's hand-derived backward pass against finite differences of its forward formula written out in
/// double precision. Each test reduces the layer's output to a scalar L = Σ w ⊙ y with random weights w, so the
/// upstream gradient is w. Runs on the SIMD and the scalar-reference CPU tiers.
/// </summary>
public class LayerGradientTests
{
    public static TheoryData<CpuKernelTier> Tiers => new() { CpuKernelTier.Simd, CpuKernelTier.Reference };

    private static View<float> Upload(IBackend backend, double[] values)
    {
        var buffer = backend.AllocateFloat(values.Length);
        buffer.Write(0, ToFloat(values));
        return buffer.All;
    }

    private static double Weighted(double[] y, double[] w) => y.Select((v, i) => v * w[i]).Sum();

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Dense_backward_matches_finite_differences(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        const int Rows = 3, In = 11, Out = 5;
        var layout = new ParameterLayout();
        var weightSlice = layout.Add("w", ParameterRole.Weight, Out, In);
        var biasSlice = layout.Add("b", ParameterRole.Bias, Out, 1);
        using var parameters = new ParameterSet(backend, layout);
        var theta = AsFloatValues(Random(layout.Length, 1));
        parameters.Load(ToFloat(theta));
        var x = AsFloatValues(Random(Rows * In, 2));
        var w = AsFloatValues(Random(Rows * Out, 3));
        var dense = new Dense(parameters, weightSlice, biasSlice);

        double[] Forward(double[] p, double[] input)
        {
            var y = new double[Rows * Out];
            for (int r = 0; r < Rows; r++)
            {
                for (int o = 0; o < Out; o++)
                {
                    double sum = p[biasSlice.Offset + o];
                    for (int k = 0; k < In; k++)
                    {
                        sum += input[r * In + k] * p[weightSlice.Offset + o * In + k];
                    }

                    y[r * Out + o] = sum;
                }
            }

            return y;
        }

        var xView = Upload(backend, x);
        var dy = Upload(backend, w);
        var dx = backend.AllocateFloat(Rows * In).All;
        dense.Backward(xView, dy, dx, Rows);
        AssertMatches(Gradient(p => Weighted(Forward(p, x), w), (double[])theta.Clone()), parameters.Gradients.ToArray(), "dθ");
        AssertMatches(Gradient(xi => Weighted(Forward(theta, xi), w), (double[])x.Clone()), dx.ToArray(), "dx");

        // Parameter gradients accumulate: a second backward doubles them; dx is overwritten, not doubled.
        var first = parameters.Gradients.ToArray();
        dense.Backward(xView, dy, dx, Rows);
        var second = parameters.Gradients.ToArray();
        for (int i = 0; i < first.Length; i++)
        {
            Assert.Equal(2 * first[i], second[i], 5);
        }

        AssertMatches(Gradient(xi => Weighted(Forward(theta, xi), w), (double[])x.Clone()), dx.ToArray(), "dx after second call");
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Embedding_backward_sums_repeated_ids(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        const int TableRows = 6, Dim = 3;
        int[] ids = [2, 0, 2, 5, 2];
        var layout = new ParameterLayout();
        var slice = layout.Add("table", ParameterRole.Embedding, TableRows, Dim);
        using var parameters = new ParameterSet(backend, layout);
        var theta = AsFloatValues(Random(layout.Length, 4));
        parameters.Load(ToFloat(theta));
        var w = AsFloatValues(Random(ids.Length * Dim, 5));
        var embedding = new Embedding(parameters, slice);
        var idBuffer = backend.AllocateInt(ids.Length);
        idBuffer.Write(0, ids);
        var output = backend.AllocateFloat(ids.Length * Dim).All;
        embedding.Forward(idBuffer.All, output);
        Assert.Equal(ToFloat(theta.Skip(2 * Dim).Take(Dim).ToArray()), output.ToArray().Take(Dim).ToArray());

        embedding.Backward(idBuffer.All, Upload(backend, w));
        double Loss(double[] p) => Enumerable.Range(0, ids.Length * Dim).Sum(k => p[ids[k / Dim] * Dim + k % Dim] * w[k]);
        AssertMatches(Gradient(Loss, (double[])theta.Clone()), parameters.Gradients.ToArray(), "dTable");
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Relu_backward_matches_finite_differences(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        // Keep inputs away from the kink at 0, where the derivative is undefined and finite differences straddle it.
        var x = AsFloatValues(Random(37, 6).Select(v => v + Math.Sign(v) * 0.05).ToArray());
        var w = AsFloatValues(Random(37, 7));
        var relu = new Relu(backend);
        var y = backend.AllocateFloat(x.Length).All;
        relu.Forward(Upload(backend, x), y);
        var dx = backend.AllocateFloat(x.Length).All;
        relu.Backward(y, Upload(backend, w), dx);
        AssertMatches(Gradient(xi => Weighted(xi.Select(v => Math.Max(v, 0)).ToArray(), w), (double[])x.Clone()), dx.ToArray(), "dx");
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Sigmoid_backward_matches_finite_differences(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        var x = AsFloatValues(Random(29, 8, 6));
        var w = AsFloatValues(Random(29, 9));
        var sigmoid = new Sigmoid(backend);
        var y = backend.AllocateFloat(x.Length).All;
        sigmoid.Forward(Upload(backend, x), y);
        var dx = backend.AllocateFloat(x.Length).All;
        sigmoid.Backward(y, Upload(backend, w), dx);
        AssertMatches(Gradient(xi => Weighted(xi.Select(v => 1 / (1 + Math.Exp(-v))).ToArray(), w), (double[])x.Clone()), dx.ToArray(), "dx");
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Bce_loss_gradient_and_value_match(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        var p = AsFloatValues(Random(23, 10).Select(v => 0.5 + 0.45 * v).ToArray());
        var t = Enumerable.Range(0, 23).Select(i => (double)(i % 3 == 0 ? 1 : 0)).ToArray();
        var loss = new BceLoss(backend);
        var dp = backend.AllocateFloat(p.Length).All;
        var accumulator = backend.AllocateFloat(2).All;
        loss.ForwardBackward(Upload(backend, p), Upload(backend, t), dp, accumulator);
        double Mean(double[] pi) => -pi.Select((v, i) => t[i] * Math.Log(v) + (1 - t[i]) * Math.Log(1 - v)).Average();
        AssertMatches(Gradient(Mean, (double[])p.Clone()), dp.ToArray(), "dp");
        Assert.Equal(Mean(p) * p.Length, accumulator.ToArray()[0], 4);
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Fused_sigmoid_bce_gradient_and_value_match(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        var z = AsFloatValues(Random(31, 11, 8));
        var t = Enumerable.Range(0, 31).Select(i => (double)(i % 2)).ToArray();
        var loss = new SigmoidBceLoss(backend);
        var dz = backend.AllocateFloat(z.Length).All;
        var accumulator = backend.AllocateFloat(2).All;
        loss.ForwardBackward(Upload(backend, z), Upload(backend, t), dz, accumulator);
        double Mean(double[] zi) => zi.Select((v, i) => -(t[i] * Math.Log(1 / (1 + Math.Exp(-v))) + (1 - t[i]) * Math.Log(1 - 1 / (1 + Math.Exp(-v))))).Average();
        AssertMatches(Gradient(Mean, (double[])z.Clone()), dz.ToArray(), "dz");
        Assert.Equal(Mean(z) * z.Length, accumulator.ToArray()[0], 4);
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Product_and_concat_backward_match(CpuKernelTier tier)
    {
        using var backend = new CpuBackend(tier);
        const int Rows = 4, Width = 5;
        var a = AsFloatValues(Random(Rows * Width, 12));
        var b = AsFloatValues(Random(Rows * Width, 13));
        var w = AsFloatValues(Random(Rows * 2 * Width, 14));

        // L = Σ w ⊙ concat(a ⊙ b, a): exercises the product and both column blocks of the concatenation.
        double Loss(double[] ab)
        {
            double sum = 0;
            for (int r = 0; r < Rows; r++)
            {
                for (int c = 0; c < Width; c++)
                {
                    double ai = ab[r * Width + c], bi = ab[Rows * Width + r * Width + c];
                    sum += w[r * 2 * Width + c] * ai * bi + w[r * 2 * Width + Width + c] * ai;
                }
            }

            return sum;
        }

        var product = new ElementwiseProduct(backend);
        var concat = new Concat(backend);
        var aView = Upload(backend, a);
        var bView = Upload(backend, b);
        var y = backend.AllocateFloat(Rows * Width).All;
        var joined = backend.AllocateFloat(Rows * 2 * Width).All;
        product.Forward(aView, bView, y);
        concat.Forward(y, Width, joined, 2 * Width, 0, Rows);
        concat.Forward(aView, Width, joined, 2 * Width, Width, Rows);
        double forward = joined.ToArray().Select((v, i) => v * w[i]).Sum();
        Assert.Equal(Loss([.. a, .. b]), forward, 4);

        var dJoined = Upload(backend, w);
        var dy = backend.AllocateFloat(Rows * Width).All;
        var dDirect = backend.AllocateFloat(Rows * Width).All;
        concat.Backward(dJoined, 2 * Width, 0, dy, Width, Rows);
        concat.Backward(dJoined, 2 * Width, Width, dDirect, Width, Rows);
        var da = backend.AllocateFloat(Rows * Width).All;
        var db = backend.AllocateFloat(Rows * Width).All;
        product.Backward(aView, bView, dy, da, db);
        var analytic = da.ToArray().Zip(dDirect.ToArray(), (p, q) => p + q).Concat(db.ToArray()).ToArray();
        AssertMatches(Gradient(Loss, [.. a, .. b]), analytic, "d[a, b]");
    }
}
