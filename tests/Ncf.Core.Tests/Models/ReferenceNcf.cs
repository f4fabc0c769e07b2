using Ncf.Models;
using Ncf.Tensors;

namespace Ncf.Core.Tests.Models;

/// <summary>
/// GMF, MLP and NeuMF written out plainly in double precision from the paper's equations, reading parameters by
/// slice name: the independent oracle for the engine's forward pass and, through finite differences, its backward.
/// </summary>
internal static class ReferenceNcf
{
    public static double Logit(double[] p, ParameterLayout layout, ModelOptions options, int user, int item)
    {
        int f = options.Factors;
        var head = new List<double>();
        if (options.Kind != ModelKind.Mlp)
        {
            var pu = layout["gmf.user"];
            var qi = layout["gmf.item"];
            for (int k = 0; k < f; k++)
            {
                head.Add(p[pu.Offset + user * f + k] * p[qi.Offset + item * f + k]);
            }
        }

        if (options.Kind != ModelKind.Gmf)
        {
            int e = options.MlpEmbeddingDim;
            var mu = layout["mlp.user"];
            var mi = layout["mlp.item"];
            var x = new double[2 * e];
            for (int k = 0; k < e; k++)
            {
                x[k] = p[mu.Offset + user * e + k];
                x[e + k] = p[mi.Offset + item * e + k];
            }

            for (int l = 0; l < options.Layers; l++)
            {
                var w = layout[$"mlp.{l}.weight"];
                var b = layout[$"mlp.{l}.bias"];
                var y = new double[w.Rows];
                for (int o = 0; o < w.Rows; o++)
                {
                    double sum = p[b.Offset + o];
                    for (int k = 0; k < w.Columns; k++)
                    {
                        sum += p[w.Offset + o * w.Columns + k] * x[k];
                    }

                    y[o] = Math.Max(sum, 0);
                }

                x = y;
            }

            head.AddRange(x);
        }

        var h = layout["out.weight"];
        double logit = p[layout["out.bias"].Offset];
        for (int k = 0; k < head.Count; k++)
        {
            logit += p[h.Offset + k] * head[k];
        }

        return logit;
    }

    /// <summary>Mean binary cross-entropy of σ(logit) against the labels.</summary>
    public static double MeanLoss(double[] p, ParameterLayout layout, ModelOptions options, int[] users, int[] items, float[] labels)
    {
        double total = 0;
        for (int n = 0; n < users.Length; n++)
        {
            double z = Logit(p, layout, options, users[n], items[n]);
            double prob = 1 / (1 + Math.Exp(-z));
            total -= labels[n] * Math.Log(prob) + (1 - labels[n]) * Math.Log(1 - prob);
        }

        return total / users.Length;
    }
}
