using Ncf.Evaluation;

namespace Ncf.Training;

/// <summary>How to train. Defaults are the paper's: 20 epochs, batch 256, Adam with lr 0.001, 4 negatives.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training positives. Default 20.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Examples per mini-batch. Default 256.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Step size. Default 0.001.</summary>
    public float LearningRate { get; init; } = 0.001f;

    /// <summary>Negatives sampled per positive, redrawn every epoch. Default 4.</summary>
    public int Negatives { get; init; } = 4;

    /// <summary>Fixes every random draw: initialisation, negatives, shuffling. Default 42.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>
    /// The optimizer. Default <see cref="OptimizerKind.Auto"/>: exact Adam's updates, taken row-sparse (deferred Adam) when
    /// the embedding tables are large enough for that to pay on the CPU, and dense otherwise.
    /// </summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Auto;

    /// <summary>
    /// L2 penalty coupled into the gradient (<c>g + L2·p</c>) of every parameter the optimizer updates. Default 0.
    /// </summary>
    /// <remarks>
    /// With exact Adam every embedding row is updated every step, so rows absent from the batch see a gradient of
    /// <c>L2·p</c> alone, which Adam normalises to a step of about the learning rate towards zero: on ML-1M, GMF-64
    /// collapsed to the popularity ranking (HR@10 0.45) at <c>L2 = 1e-5</c>. With lazy Adam only the batch's rows are
    /// penalised; GMF-64 reached 0.7030 at 1e-5 (0.6969 without L2) and collapsed at 3e-5 (docs/results.md).
    /// </remarks>
    public float L2 { get; init; }

    /// <summary>K of HR@K and NDCG@K. Default 10.</summary>
    public int TopK { get; init; } = 10;

    /// <summary>Tie rule of the evaluation. Default <see cref="TieBreaking.Pessimistic"/>.</summary>
    public TieBreaking Ties { get; init; } = TieBreaking.Pessimistic;

    /// <summary>Threads that build each epoch's examples (0: all cores). Results do not depend on it. Default 0.</summary>
    public int SamplerThreads { get; init; }

    /// <summary>
    /// On the CPU backend, run each step fused (the batch split into chunks of rows, each taken through the whole
    /// forward and backward pass by one thread; two fork-joins per step) rather than layer by layer. The results are
    /// the same, bit for bit; only the speed differs. Default true.
    /// </summary>
    public bool FusedCpuStep { get; init; } = true;

    /// <summary>
    /// During <see cref="NcfTrainer.Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/>, build the next epoch's examples (negative sampling and shuffle) on a
    /// background thread while the current epoch trains, so sampling costs no wall time where a core is free. The
    /// examples are the same either way (a pure function of seed and epoch); the cost is a second epoch's array
    /// in memory (12 bytes per example: 60 MB for ML-1M with 4 negatives). Default true.
    /// </summary>
    public bool PrefetchNextEpoch { get; init; } = true;

    /// <summary>Evaluate on the test (and validation) cases after every epoch. Default true.</summary>
    public bool EvaluateEachEpoch { get; init; } = true;

    /// <summary>
    /// Also evaluate the model before the first epoch of a fresh trainer, reported as epoch 0 with no loss, and let
    /// it be the best epoch. Default false. The NCF authors' scripts do this; it matters for a NeuMF assembled from
    /// pre-trained GMF and MLP models, whose starting point can beat every fine-tuned epoch.
    /// </summary>
    public bool EvaluateBeforeTraining { get; init; }

    /// <summary>
    /// Weight averaging (SWA, Izmailov et al. 2018): from this 1-based epoch on, the trainer keeps the running mean of
    /// the parameters as they stand at the end of each epoch, and once averaging has begun the model holds that mean
    /// between epochs — it is what is evaluated, checkpointed and saved — while the optimizer goes on from where its
    /// own steps left off. Default 0: off, the model holds the last step's parameters.
    /// </summary>
    /// <remarks>
    /// The mean of points along the late trajectory sits nearer the middle of the region the steps wander in, and
    /// holds up once single points start to overfit: on ML-1M, MLP-64 with 8 negatives averaged from epoch 5 still
    /// gains at epoch 15 (HR@10 0.7040), while the same run's own parameters peak at 0.6998 (epoch 11) and fall to
    /// 0.6901 by epoch 12 (docs/results-notes.md). Costs two host copies of the parameters and a copy out of and
    /// into the model per epoch. Once averaging has begun the trainer owns the parameters between epochs: the next
    /// <see cref="NcfTrainer.TrainEpoch"/> or <see cref="NcfTrainer.TrainBatch"/> puts its training point back,
    /// replacing whatever was written into the model meanwhile, and steps taken by a hand-written optimizer loop in
    /// between are lost the same way.
    /// </remarks>
    public int AverageFromEpoch { get; init; }

    /// <summary>
    /// Early stopping: <see cref="NcfTrainer.Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/>
    /// stops once this many epochs have passed without an HR@K above the best so far — validation HR when the data holds
    /// validation cases, else test HR (the epoch <see cref="TrainingResult.Best"/> would name) — and says so in
    /// <see cref="TrainingResult.StoppedEarly"/>. Needs <see cref="EvaluateEachEpoch"/>. Default 0: off, every epoch runs.
    /// </summary>
    /// <remarks>The epochs trained are the same as without it, up to the stop. The best so far carries over between
    /// <c>Fit</c> calls and in a saved training state, so a later <c>Fit</c> on a trainer that has stopped trains
    /// nothing (a run restored after its stop ends there too); epochs trained with <see cref="NcfTrainer.TrainEpoch"/>
    /// alone are not evaluated, so they set no best.</remarks>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>Checks the values; throws <see cref="NcfException"/> with a readable message.</summary>
    public void Validate()
    {
        if (Epochs < 0)
        {
            throw new NcfException($"Epochs must be 0 or more; got {Epochs}.");
        }

        if (EvaluateBeforeTraining && !EvaluateEachEpoch)
        {
            // Otherwise the untrained model would be the only evaluated epoch, and so always the best one.
            throw new NcfException("Evaluating before training needs evaluation after each epoch too.");
        }

        if (BatchSize is < 1 or > 1 << 24)
        {
            throw new NcfException($"Batch size must be between 1 and 16,777,216; got {BatchSize}.");
        }

        if (!(LearningRate > 0) || float.IsInfinity(LearningRate))
        {
            throw new NcfException($"Learning rate must be a positive number; got {LearningRate}.");
        }

        if (Negatives is < 0 or > 1000)
        {
            throw new NcfException($"Negatives per positive must be between 0 and 1000; got {Negatives}.");
        }

        if (!(L2 >= 0))
        {
            throw new NcfException($"L2 must be 0 or more; got {L2}.");
        }

        if (EarlyStoppingPatience < 0)
        {
            throw new NcfException($"EarlyStoppingPatience must be 0 (off) or a number of epochs; got {EarlyStoppingPatience}.");
        }

        if (EarlyStoppingPatience > 0 && !EvaluateEachEpoch)
        {
            throw new NcfException("Early stopping watches the evaluation after each epoch: it needs EvaluateEachEpoch.");
        }

        if (AverageFromEpoch < 0)
        {
            throw new NcfException($"AverageFromEpoch must be 0 (off) or the 1-based epoch weight averaging starts from; got {AverageFromEpoch}.");
        }

        if (TopK < 1)
        {
            throw new NcfException($"K must be at least 1; got {TopK}.");
        }

        if (!Enum.IsDefined(Optimizer))
        {
            throw new NcfException($"Unknown optimizer {(int)Optimizer}; expected one of {string.Join(", ", Enum.GetNames<OptimizerKind>())}.");
        }

        if (!Enum.IsDefined(Ties))
        {
            throw new NcfException($"Unknown tie rule {(int)Ties}; expected one of {string.Join(", ", Enum.GetNames<TieBreaking>())}.");
        }

        if (SamplerThreads < 0)
        {
            throw new NcfException($"SamplerThreads must be 0 (all cores) or more; got {SamplerThreads}.");
        }
    }
}

/// <summary>What one epoch did.</summary>
public sealed record EpochReport
{
    /// <summary>1-based epoch number; 0 for the evaluation before training (<see cref="TrainingOptions.EvaluateBeforeTraining"/>).</summary>
    public int Epoch { get; init; }

    /// <summary>Mean training loss over the epoch's examples (NaN for epoch 0: nothing was trained).</summary>
    public double Loss { get; init; }

    /// <summary>Test metrics after the epoch (null when not evaluated).</summary>
    public RankingMetrics? Test { get; init; }

    /// <summary>Validation metrics after the epoch (null without a validation set).</summary>
    public RankingMetrics? Validation { get; init; }

    /// <summary>
    /// How many epoch ends the evaluated parameters average (<see cref="TrainingOptions.AverageFromEpoch"/>); 0 when
    /// they are the last step's. <see cref="Loss"/> is always the loss of the steps taken, not of the mean.
    /// </summary>
    public int AveragedEpochs { get; init; }

    /// <summary>Examples trained on.</summary>
    public long Samples { get; init; }

    /// <summary>Seconds in the mini-batch loop (forward, loss, backward, update).</summary>
    public double TrainSeconds { get; init; }

    /// <summary>Seconds building the epoch's examples (negative sampling and shuffling).</summary>
    public double PrepSeconds { get; init; }

    /// <summary>Seconds evaluating.</summary>
    public double EvalSeconds { get; init; }

    /// <summary><see cref="Samples"/> / <see cref="TrainSeconds"/>.</summary>
    public double SamplesPerSecond => TrainSeconds > 0 ? Samples / TrainSeconds : 0;
}

/// <summary>Progress inside an epoch, for long epochs.</summary>
public readonly record struct BatchProgress(int Epoch, long SamplesDone, long SamplesTotal, double RunningLoss);

/// <summary>The outcome of <see cref="NcfTrainer.Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/>.</summary>
public sealed record TrainingResult(IReadOnlyList<EpochReport> Epochs, bool Cancelled)
{
    /// <summary>
    /// The epoch chosen by validation HR when there is a validation set, else by test HR (the paper's practice,
    /// which Rendle et al. criticise: report <see cref="Final"/> beside it).
    /// </summary>
    public EpochReport? Best => Epochs.Where(e => (e.Validation ?? e.Test) is not null)
        .OrderByDescending(e => (e.Validation ?? e.Test)!.Value.HitRate).ThenBy(e => e.Epoch).FirstOrDefault();

    /// <summary>The last epoch.</summary>
    public EpochReport? Final => Epochs.Count > 0 ? Epochs[^1] : null;

    /// <summary>
    /// True when training stopped early because an epoch's loss was not a finite number: it diverged (lower the
    /// learning rate). That epoch is the last in <see cref="Epochs"/>; the model's parameters are no longer usable
    /// unless a caller kept an earlier epoch's.
    /// </summary>
    public bool Diverged { get; init; }

    /// <summary>
    /// True when <see cref="TrainingOptions.EarlyStoppingPatience"/> epochs passed without a better HR@K and training
    /// stopped before <see cref="TrainingOptions.Epochs"/>.
    /// </summary>
    public bool StoppedEarly { get; init; }
}
