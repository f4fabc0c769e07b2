namespace Ncf.Backends;

/// <summary>
/// The kernels the models and the trainer need, over flat buffers. The CPU backend implements them with
/// <see cref="System.Numerics.Vector{T}"/> SIMD; the ILGPU backend (assembly Ncf.Gpu) implements the same
/// contract on CUDA, OpenCL and ILGPU's CPU accelerator.
/// </summary>
/// <remarks>
/// Conventions (as in llm.c): matrices are row-major; a dense weight is <c>[outDim, inDim]</c>.
/// Activation gradients are <b>overwritten</b>; parameter gradients (<c>dWeight</c>, <c>dBias</c>,
/// scatter-add into an embedding table) <b>accumulate</b>, so the caller clears them once per step.
/// Calls are ordered: a kernel sees the results of every earlier call on the same backend.
/// </remarks>
public interface IBackend : IDisposable
{
    /// <summary>Short name, e.g. "cpu", "cuda", "opencl".</summary>
    string Name { get; }

    /// <summary>A zero-filled float buffer.</summary>
    DeviceBuffer<float> AllocateFloat(int length);

    /// <summary>A zero-filled int buffer.</summary>
    DeviceBuffer<int> AllocateInt(int length);

    /// <summary>Waits until all submitted work has finished.</summary>
    void Synchronize();

    /// <summary><c>destination[i] = value</c>.</summary>
    void Fill(View<float> destination, float value);

    /// <summary>Sets rows <c>rows[n]</c> of a <c>[*, dim]</c> matrix to zero (duplicates allowed).</summary>
    void ZeroRows(View<float> matrix, int dim, View<int> rows);

    /// <summary>
    /// Embedding lookup. table <c>[tableRows, dim]</c>, ids <c>[count]</c>, output <c>[count, dim]</c>:
    /// <c>output[n, :] = table[ids[n], :]</c>.
    /// </summary>
    void Gather(View<float> table, int dim, View<int> ids, View<float> output);

    /// <summary>
    /// Embedding backward. rowGradients <c>[count, dim]</c>, ids <c>[count]</c>, tableGradient
    /// <c>[tableRows, dim]</c>: <c>tableGradient[ids[n], :] += rowGradients[n, :]</c>; repeated ids add up.
    /// </summary>
    void ScatterAdd(View<float> rowGradients, View<int> ids, int dim, View<float> tableGradient);

    /// <summary>
    /// Dense forward. x <c>[rows, inDim]</c>, weight <c>[outDim, inDim]</c>, bias <c>[outDim]</c>,
    /// y <c>[rows, outDim]</c>: <c>y = x·Wᵀ + b</c>.
    /// </summary>
    void DenseForward(View<float> x, View<float> weight, View<float> bias, View<float> y, int rows, int inDim, int outDim);

    /// <summary>
    /// Dense backward for <see cref="DenseForward"/>: <c>dx = dy·W</c> (overwritten; skipped when
    /// <paramref name="dx"/> is empty), <c>dWeight += dyᵀ·x</c>, <c>dBias += Σ_rows dy</c>.
    /// </summary>
    void DenseBackward(View<float> x, View<float> weight, View<float> dy, View<float> dx, View<float> dWeight, View<float> dBias,
        int rows, int inDim, int outDim);

    /// <summary><c>y = max(x, 0)</c>; in place allowed.</summary>
    void ReluForward(View<float> x, View<float> y);

    /// <summary><c>dx = y &gt; 0 ? dy : 0</c>, from the forward's output <paramref name="y"/>; in place allowed.</summary>
    void ReluBackward(View<float> y, View<float> dy, View<float> dx);

    /// <summary><c>y = 1 / (1 + exp(-x))</c>; in place allowed.</summary>
    void Sigmoid(View<float> x, View<float> y);

    /// <summary><c>dx = dy · y · (1 - y)</c>, from the forward's output <paramref name="y"/>.</summary>
    void SigmoidBackward(View<float> y, View<float> dy, View<float> dx);

    /// <summary>Element-wise product <c>y = a ⊙ b</c> (the GMF layer).</summary>
    void Multiply(View<float> a, View<float> b, View<float> y);

    /// <summary>Backward of <see cref="Multiply"/>: <c>da = dy ⊙ b</c>, <c>db = dy ⊙ a</c> (overwritten).</summary>
    void MultiplyBackward(View<float> a, View<float> b, View<float> dy, View<float> da, View<float> db);

    /// <summary>
    /// Copies a <c>[rows, columns]</c> block between strided matrices: <c>destination[r·dstStride + c] =
    /// source[r·srcStride + c]</c>. Concatenation writes column blocks of the destination; its backward (split)
    /// reads them back. Each view starts at its block's first element.
    /// </summary>
    void CopyColumns(View<float> source, int sourceStride, View<float> destination, int destinationStride, int rows, int columns);

    /// <summary>
    /// Binary cross-entropy on probabilities, forward and backward in one pass:
    /// <c>loss_n = -(t·log p + (1-t)·log(1-p))</c> with p clamped to <c>[1e-7, 1-1e-7]</c>;
    /// <c>dp = scale · (p - t) / (p (1 - p))</c>. <paramref name="lossAccumulator"/> (2 floats, Kahan sum and
    /// compensation) gets <c>Σ loss_n</c> added.
    /// </summary>
    void BinaryCrossEntropy(View<float> probabilities, View<float> targets, View<float> dProbabilities, float scale,
        View<float> lossAccumulator);

    /// <summary>
    /// Fused sigmoid + binary cross-entropy on logits z, stable for any finite z:
    /// <c>loss_n = max(z,0) - z·t + log(1 + exp(-|z|))</c>, <c>dz = scale · (σ(z) - t)</c>.
    /// <paramref name="lossAccumulator"/> (2 floats, Kahan sum and compensation) gets <c>Σ loss_n</c> added.
    /// </summary>
    void SigmoidBinaryCrossEntropy(View<float> logits, View<float> targets, View<float> dLogits, float scale,
        View<float> lossAccumulator);

    /// <summary>Dense Adam over every element (see <see cref="AdamSettings"/>).</summary>
    void AdamStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings);

    /// <summary>
    /// Row-sparse ("lazy") Adam: the update of <see cref="AdamStep"/> applied only to rows <paramref name="rows"/>
    /// (distinct ids) of <c>[*, dim]</c> matrices; other rows keep their moments and values.
    /// </summary>
    void AdamRowsStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        int dim, View<int> rows, in AdamSettings settings);

    /// <summary>Plain SGD: <c>p -= lr · (g + l2·p)</c>.</summary>
    void SgdStep(View<float> parameters, View<float> gradients, float learningRate, float l2);
}

/// <summary>
/// Optional fused kernels a backend may offer; callers fall back to the <see cref="IBackend"/> sequence when a backend
/// lacks them, with identical results.
/// </summary>
public interface IFusedOptimizerKernels
{
    /// <summary><see cref="IBackend.AdamStep"/> followed by setting <paramref name="gradients"/> to zero, in one pass.</summary>
    void AdamStepClearingGradients(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        in AdamSettings settings);
}

/// <summary>
/// Deferred Adam for embedding tables (see <see cref="Kernels.AdamKernel.DeferredRowsSimd"/>): exact Adam's result
/// with the work of row-sparse Adam. Offered by backends whose buffers the host can index (the per-row step counters
/// live on the host); the optimizer refuses deferred Adam on a backend without it.
/// </summary>
public interface IDeferredAdamKernels
{
    /// <summary>
    /// Brings rows <paramref name="rows"/> (distinct ids) of <c>[*, dim]</c> matrices from their
    /// <paramref name="lastStep"/> to the step before <c>settings.Step</c> as exact Adam would with zero gradients,
    /// then applies step <c>settings.Step</c> with their gradients, and records that step in <paramref name="lastStep"/>.
    /// </summary>
    void AdamDeferredRowsStep(View<float> parameters, View<float> gradients, View<float> firstMoment, View<float> secondMoment,
        int dim, View<int> rows, Span<int> lastStep, in AdamSettings settings, Kernels.AdamCatchUp catchUp);

    /// <summary>
    /// Brings rows <paramref name="rows"/> (distinct ids) behind step <c>settings.Step</c> up to it, as exact Adam
    /// would with zero gradients: done to a batch's rows before the forward pass reads them.
    /// </summary>
    void AdamCatchUpRows(View<float> parameters, View<float> firstMoment, View<float> secondMoment, int dim, View<int> rows,
        Span<int> lastStep, in AdamSettings settings, Kernels.AdamCatchUp catchUp);

    /// <summary>Brings every row behind step <c>settings.Step</c> up to it, as exact Adam would with zero gradients.</summary>
    void AdamCatchUpTable(View<float> parameters, View<float> firstMoment, View<float> secondMoment, int dim, Span<int> lastStep,
        in AdamSettings settings, Kernels.AdamCatchUp catchUp);
}
