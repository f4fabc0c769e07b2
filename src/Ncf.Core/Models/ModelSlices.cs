using Ncf.Tensors;

namespace Ncf.Models;

/// <summary>
/// Where each part of an <see cref="NcfModel"/> lives in its flat parameter buffer, and the tower's widths: what
/// the fused CPU paths (<see cref="FusedCpuScorer"/>, <see cref="Training.FusedCpuStep"/>) index directly.
/// </summary>
/// <remarks>Widths <c>w₀ = 2e &gt; w₁ &gt; … &gt; w_L = f</c>: <c>Width[0]</c> is the tower's input, <c>Width[k + 1]</c> the output of layer k.
/// A GMF model has no tower (<see cref="Layers"/> 0, <c>Width = [0]</c>).</remarks>
internal sealed class ModelSlices
{
    public ModelSlices(NcfModel model)
    {
        var options = model.Options;
        var layout = model.Parameters.Layout;
        Factors = options.Factors;
        HasGmf = options.Kind != ModelKind.Mlp;
        HasMlp = options.Kind != ModelKind.Gmf;
        Layers = HasMlp ? options.Layers : 0;
        EmbeddingWidth = HasMlp ? options.MlpEmbeddingDim : 0;
        HeadWidth = model.HeadWidth;
        if (HasGmf)
        {
            GmfUser = layout["gmf.user"];
            GmfItem = layout["gmf.item"];
        }

        if (HasMlp)
        {
            MlpUser = layout["mlp.user"];
            MlpItem = layout["mlp.item"];
        }

        TowerWeight = new ParameterSlice[Layers];
        TowerBias = new ParameterSlice[Layers];
        Width = new int[Layers + 1];
        Width[0] = 2 * EmbeddingWidth;
        for (int k = 0; k < Layers; k++)
        {
            TowerWeight[k] = layout[$"mlp.{k}.weight"];
            TowerBias[k] = layout[$"mlp.{k}.bias"];
            Width[k + 1] = TowerWeight[k].Rows;
        }

        OutWeight = layout["out.weight"];
        OutBias = layout["out.bias"];
    }

    public int Factors { get; }

    /// <summary>The MLP embedding width e (0 without an MLP).</summary>
    public int EmbeddingWidth { get; }

    /// <summary>Tower layers (0 without an MLP).</summary>
    public int Layers { get; }

    public int HeadWidth { get; }

    public bool HasGmf { get; }

    public bool HasMlp { get; }

    public ParameterSlice? GmfUser { get; }

    public ParameterSlice? GmfItem { get; }

    public ParameterSlice? MlpUser { get; }

    public ParameterSlice? MlpItem { get; }

    public ParameterSlice[] TowerWeight { get; }

    public ParameterSlice[] TowerBias { get; }

    public int[] Width { get; }

    public ParameterSlice OutWeight { get; }

    public ParameterSlice OutBias { get; }
}
