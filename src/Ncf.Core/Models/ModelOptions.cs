namespace Ncf.Models;

/// <summary>The three models of He et al. (2017).</summary>
public enum ModelKind
{
    /// <summary>Generalized Matrix Factorization: <c>ŷ = σ(hᵀ(p_u ⊙ q_i) + b)</c>.</summary>
    Gmf = 1,

    /// <summary>Multi-Layer Perceptron over the concatenated user and item embeddings.</summary>
    Mlp = 2,

    /// <summary>Neural Matrix Factorization: GMF and MLP branches concatenated into one output unit.</summary>
    NeuMF = 3,
}

/// <summary>Shape of an NCF model. Defaults are the paper's: predictive factor 8, three tower layers.</summary>
public sealed record ModelOptions
{
    /// <summary>Which model. Default <see cref="ModelKind.NeuMF"/>.</summary>
    public ModelKind Kind { get; init; } = ModelKind.NeuMF;

    /// <summary>
    /// Predictive factor f: the GMF embedding width and the width of the last tower layer. Default 8.
    /// </summary>
    public int Factors { get; init; } = 8;

    /// <summary>
    /// Number of tower layers L (MLP and NeuMF). The MLP embeddings are <c>f·2^(L-1)</c> wide each, so the tower
    /// input is <c>f·2^L</c> and each layer halves it down to f: f=8, L=3 gives 32+32 → 64 → 32 → 16 → 8. Default 3.
    /// </summary>
    public int Layers { get; init; } = 3;

    /// <summary>Width of each MLP embedding, <c>f·2^(L-1)</c>.</summary>
    public int MlpEmbeddingDim => Factors << (Layers - 1);

    /// <summary>Checks the values; throws <see cref="NcfException"/> with a readable message.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new NcfException($"Unknown model kind {(int)Kind}.");
        }

        if (Factors is < 1 or > 4096)
        {
            throw new NcfException($"Factors must be between 1 and 4096; got {Factors}.");
        }

        if (Kind != ModelKind.Gmf && (Layers < 1 || Layers > 10 || (long)Factors << Layers > 1 << 16))
        {
            throw new NcfException($"Tower layers must be between 1 and 10 with f·2^L ≤ 65536; got L={Layers}, f={Factors}.");
        }
    }
}
