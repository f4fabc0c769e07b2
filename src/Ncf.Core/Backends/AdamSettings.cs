namespace Ncf.Backends;

/// <summary>
/// One Adam update, with the bias corrections of step <see cref="Step"/> (1-based), in PyTorch's form:
/// <c>g += l2·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
/// p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)</c>.
/// </summary>
public readonly record struct AdamSettings(float LearningRate, float Beta1, float Beta2, float Epsilon, float L2, int Step)
{
    /// <summary><c>lr / (1 - β1^t)</c>, computed in double.</summary>
    public float StepSize => (float)(LearningRate / (1 - Math.Pow(Beta1, Step)));

    /// <summary><c>1 / sqrt(1 - β2^t)</c>, computed in double.</summary>
    public float InverseSqrtBiasCorrection2 => (float)(1 / Math.Sqrt(1 - Math.Pow(Beta2, Step)));
}
