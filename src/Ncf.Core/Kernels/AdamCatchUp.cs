namespace Ncf.Kernels;

/// <summary>
/// What exact Adam does to an embedding row over steps in which the row has no gradient, in closed form, so that a
/// row-sparse ("deferred") Adam can apply those steps late, in one pass over the row, when the row is next touched.
/// </summary>
/// <remarks>
/// After the row's last update at step <c>t0</c>, exact Adam's zero-gradient steps <c>t = t0 + j</c>, <c>j = 1..k</c>, give
/// <code>
///   m ← β1^k·m,   v ← β2^k·v,
///   p ← p − Σ_j lr_t·β1^j·m / (sqrt(β2^j·v)·c_t + ε),   lr_t = lr / (1 − β1^t),  c_t = 1 / sqrt(1 − β2^t).
/// </code>
/// Term <c>j</c> is <c>lr·a_j·m / (sqrt(v) + ε_j)</c> with <c>a_j = b_t·r^j</c>, <c>r = β1 / sqrt(β2)</c>,
/// <c>b_t = sqrt(1 − β2^t) / (1 − β1^t)</c> and <c>ε_j = ε·sqrt(1 − β2^t) / β2^(j/2)</c>. With one ε for all
/// terms, their <c>a</c>-weighted mean <c>ε' = Σ a_j·ε_j / Σ a_j</c> (which cancels the first-order error), the sum
/// factors into the row's <c>m / (sqrt(v) + ε')</c> times the scalar <c>lr·Σ a_j</c>; both depend only on <c>t0</c>
/// and <c>k</c>. The terms fall as <c>r^j</c> (0.9005 at the defaults), so the sums stop after <see cref="Horizon"/>
/// terms (<c>(β1/β2)^j &lt; 2^-40</c>); from <see cref="SteadyStep"/> on, the bias terms are 1 to within 2^-30 and
/// the sums are stored prefixes of geometric series; before, they are differences of two stored tails,
/// <c>Σ_{j≤n} b_(t0+j)·r^j = G(t0) − r^n·G(t0+n)</c> with <c>G(t) = Σ_{i≥1} b_(t+i)·r^i</c> (in double: the
/// subtraction loses about one digit of sixteen). So a row costs a few lookups, whatever the number of steps it
/// missed. The result differs from
/// stepping exact Adam <c>k</c> times only by rounding and, for elements whose <c>sqrt(v)</c> is not far above ε,
/// by the spread of the <c>ε_j</c> at second order. That spread is large early in training, when
/// <c>sqrt(1 − β2^t)</c> still changes fast (0.03 at step 1, 0.3 at step 100) — and early is also when embedding
/// gradients are tiny and ε matters most (measured on ML-1M: one closed-form catch-up per row put the GMF tables 1e-4
/// off exact Adam within 10 steps). So rows last updated before <see cref="StepwiseUntil"/> (where the spread over
/// the horizon falls below 1e-3) catch up step by step instead, with exact Adam's own arithmetic on a zero gradient,
/// for at most <see cref="Horizon"/> steps followed by a pure decay of the moments.
/// Needs <c>β1 &lt; β2</c> (0.9 against 0.999 at the defaults), without which the ε sum would not fall off.
/// Immutable and thread-safe; build one per (β1, β2, ε) and reuse it.
/// </remarks>
public sealed class AdamCatchUp
{
    /// <summary>Steps of decay kept in tables; a row idle longer takes <see cref="Math.Pow"/> (rare: one per idle spell).</summary>
    private const int DecayTableLength = 4096;

    /// <summary>
    /// The bias-term tables stop at this many steps. Only a β2 so close to 1 (above ~0.99998) that its bias correction
    /// has not settled by then reaches past them; catch-ups starting beyond the tables compute the terms directly
    /// (slower, same result).
    /// </summary>
    private const int MaxTableSteps = 1 << 20;

    private readonly double[] _ratioPowers; // r^j, j = 0..Horizon
    private readonly double[] _ratioPrefix; // Σ_{i=1..j} r^i, j = 0..Horizon
    private readonly double[] _epsilonPowers; // (r / sqrt(β2))^j = (β1 / β2)^j
    private readonly double[] _epsilonPrefix;
    private readonly double[] _tail; // G(t) = Σ_{i≥1} b_(t+i)·r^i, t = 0..min(SteadyStep, MaxTableSteps) + Horizon
    private readonly double[] _epsilonTail; // the same for the ε weights: Σ_{i≥1} b_(t+i)·sqrt(1 − β2^(t+i))·(β1/β2)^i
    private readonly float[] _decay1, _decay2; // β^k, k = 0..DecayTableLength − 1
    private readonly double[] _inverseBias1, _inverseSqrtBias2; // 1 / (1 − β1^t), 1 / sqrt(1 − β2^t), t ≤ StepwiseUntil + Horizon

    /// <summary>Builds the tables for Adam's <paramref name="beta1"/>, <paramref name="beta2"/> and <paramref name="epsilon"/>.</summary>
    public AdamCatchUp(float beta1, float beta2, float epsilon)
    {
        if (!(beta1 >= 0 && beta1 < 1 && beta2 > 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), $"Adam needs 0 ≤ β1 < 1 and 0 < β2 < 1 (got {beta1}, {beta2}).");
        }

        double b1 = beta1, b2 = beta2;
        if (b1 >= b2)
        {
            throw new ArgumentOutOfRangeException(nameof(beta1),
                $"Deferred Adam needs β1 < β2 (got β1 = {beta1}, β2 = {beta2}): otherwise a skipped step's effect does not fall off.");
        }

        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        double ratio = b1 / Math.Sqrt(b2), epsilonRatio = b1 / b2; // epsilonRatio > ratio: it sets the horizon
        Horizon = epsilonRatio == 0 ? 1 : (int)Math.Min(1 << 16, Math.Ceiling(-40 * Math.Log(2) / Math.Log(epsilonRatio)));
        _ratioPowers = new double[Horizon + 1];
        _ratioPrefix = new double[Horizon + 1];
        _epsilonPowers = new double[Horizon + 1];
        _epsilonPrefix = new double[Horizon + 1];
        _ratioPowers[0] = _epsilonPowers[0] = 1;
        for (int j = 1; j <= Horizon; j++)
        {
            _ratioPowers[j] = _ratioPowers[j - 1] * ratio;
            _ratioPrefix[j] = _ratioPrefix[j - 1] + _ratioPowers[j];
            _epsilonPowers[j] = _epsilonPowers[j - 1] * epsilonRatio;
            _epsilonPrefix[j] = _epsilonPrefix[j - 1] + _epsilonPowers[j];
        }

        // b_t = 1 within 2^-30 once β1^t and β2^t are both below 2^-31 (b_t − 1 ≈ β1^t − β2^t / 2).
        double steady = Math.Max(b1 == 0 ? 1 : Math.Log(Math.Pow(2, -31)) / Math.Log(b1), Math.Log(Math.Pow(2, -31)) / Math.Log(b2));
        SteadyStep = (int)Math.Min(int.MaxValue / 2, Math.Ceiling(steady) + 1);
        // The tails, backwards from the last entry (whose tail is summed directly over the horizon):
        // G(t) = r·(b_(t+1) + G(t+1)), a contraction, so rounding does not build up.
        int tableSteps = Math.Min(SteadyStep, MaxTableSteps) + Horizon + 1;
        _tail = new double[tableSteps];
        _epsilonTail = new double[tableSteps];
        int end = tableSteps - 1;
        for (int i = Horizon; i >= 1; i--)
        {
            _tail[end] = ratio * (Bias(end + i) + _tail[end]);
            _epsilonTail[end] = epsilonRatio * (EpsilonBias(end + i) + _epsilonTail[end]);
        }

        for (int t = end - 1; t >= 0; t--)
        {
            _tail[t] = ratio * (Bias(t + 1) + _tail[t + 1]);
            _epsilonTail[t] = epsilonRatio * (EpsilonBias(t + 1) + _epsilonTail[t + 1]);
        }

        // Stepwise while the bias part of the ε_j of one catch-up (Horizon steps) spreads by more than 1e-3:
        // sqrt(1 − β2^(t + H)) against sqrt(1 − β2^(t + 1)). Their other factor, β2^(−j/2), spreads by up to 14 % over
        // the horizon at any step, but the weights fall as r^j, so the a-weighted mean leaves ~2e-5 of the ε term there.
        int stepwise = 1;
        while (stepwise < MaxTableSteps
               && Math.Sqrt((1 - Math.Pow(b2, stepwise + Horizon)) / (1 - Math.Pow(b2, stepwise + 1))) - 1 > 1e-3)
        {
            stepwise = Math.Max(stepwise + 1, (int)(stepwise * 1.01));
        }

        StepwiseUntil = stepwise;
        _inverseBias1 = new double[StepwiseUntil + Horizon + 1];
        _inverseSqrtBias2 = new double[StepwiseUntil + Horizon + 1];
        for (int t = 1; t < _inverseBias1.Length; t++)
        {
            _inverseBias1[t] = 1 / (1 - Math.Pow(b1, t));
            _inverseSqrtBias2[t] = 1 / Math.Sqrt(1 - Math.Pow(b2, t));
        }

        _decay1 = new float[DecayTableLength];
        _decay2 = new float[DecayTableLength];
        for (int k = 0; k < DecayTableLength; k++)
        {
            _decay1[k] = (float)Math.Pow(b1, k);
            _decay2[k] = (float)Math.Pow(b2, k);
        }
    }

    /// <summary>First-moment decay β1.</summary>
    public float Beta1 { get; }

    /// <summary>Second-moment decay β2.</summary>
    public float Beta2 { get; }

    /// <summary>Adam's ε.</summary>
    public float Epsilon { get; }

    /// <summary>Skipped steps after which a further one changes the row by less than 2^-40 of the first's effect.</summary>
    public int Horizon { get; }

    /// <summary>The step from which Adam's bias corrections are 1 to within 2^-30.</summary>
    public int SteadyStep { get; }

    /// <summary>Rows last updated before this step catch up step by step (see the remarks).</summary>
    public int StepwiseUntil { get; }

    /// <summary>Adam's <c>lr / (1 − β1^t)</c> for a step <paramref name="t"/> of the stepwise range (≤ StepwiseUntil + Horizon).</summary>
    internal float StepSize(int t, float learningRate) => (float)(learningRate * _inverseBias1[t]);

    /// <summary>Adam's <c>1 / sqrt(1 − β2^t)</c> for a step <paramref name="t"/> of the stepwise range.</summary>
    internal float InverseSqrtBiasCorrection2(int t) => (float)_inverseSqrtBias2[t];

    /// <summary>The moments' decay over <paramref name="steps"/> steps, with no change to the parameters.</summary>
    public Coefficients DecayOnly(int steps) => steps <= 0
        ? Coefficients.None
        : new Coefficients(0, Power(_decay1, Beta1, steps), Power(_decay2, Beta2, steps), Epsilon);

    private static float Power(float[] table, float beta, int k) => k < table.Length ? table[k] : (float)Math.Pow(beta, k);

    /// <summary>True when this table was built for the given Adam settings.</summary>
    public bool Matches(float beta1, float beta2, float epsilon) => beta1 == Beta1 && beta2 == Beta2 && epsilon == Epsilon;

    /// <summary>
    /// The per-row scalars for a row last updated at step <paramref name="lastStep"/> (0: never) and brought to step
    /// <paramref name="toStep"/> without gradients, at learning rate <paramref name="learningRate"/>.
    /// </summary>
    public Coefficients For(int lastStep, int toStep, float learningRate)
    {
        int k = toStep - lastStep;
        if (k <= 0)
        {
            return Coefficients.None;
        }

        // sum = Σ a_j, epsilonSum = Σ a_j·ε_j / ε, over the terms that still count.
        int terms = Math.Min(k, Horizon);
        double sum, epsilonSum;
        if (lastStep + 1 >= SteadyStep)
        {
            sum = _ratioPrefix[terms];
            epsilonSum = _epsilonPrefix[terms];
        }
        else if (lastStep + terms < _tail.Length)
        {
            sum = _tail[lastStep] - _ratioPowers[terms] * _tail[lastStep + terms];
            epsilonSum = _epsilonTail[lastStep] - _epsilonPowers[terms] * _epsilonTail[lastStep + terms];
        }
        else
        {
            // Only for a β2 so close to 1 that the tables stop before the bias corrections settle.
            sum = epsilonSum = 0;
            for (int j = 1; j <= terms; j++)
            {
                sum += Bias(lastStep + j) * _ratioPowers[j];
                epsilonSum += EpsilonBias(lastStep + j) * _epsilonPowers[j];
            }
        }

        return new Coefficients(
            (float)(learningRate * sum),
            Power(_decay1, Beta1, k),
            Power(_decay2, Beta2, k),
            sum > 0 ? (float)(Epsilon * epsilonSum / sum) : Epsilon); // sum = 0 only when β1 = 0: no momentum to coast on
    }

    /// <summary><c>b_t = sqrt(1 − β2^t) / (1 − β1^t)</c>.</summary>
    private double Bias(int t) => Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t));

    /// <summary><c>b_t·sqrt(1 − β2^t)</c>, the bias part of term t's ε weight.</summary>
    private double EpsilonBias(int t) => (1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t));

    /// <summary>
    /// One row's catch-up: <c>p −= Step·m / (sqrt(v) + Epsilon); m ·= Decay1; v ·= Decay2</c>. <see cref="None"/>
    /// (no skipped step) changes nothing.
    /// </summary>
    public readonly record struct Coefficients(float Step, float Decay1, float Decay2, float Epsilon)
    {
        /// <summary>No skipped step (its ε is never used: <see cref="IsNone"/> rows are skipped).</summary>
        public static Coefficients None => new(0, 1, 1, 1);

        /// <summary>True when there is something to apply.</summary>
        public bool IsNone => Step == 0 && Decay1 == 1 && Decay2 == 1;
    }
}
