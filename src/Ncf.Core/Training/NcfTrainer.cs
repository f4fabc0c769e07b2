using System.Diagnostics;
using Ncf.Backends;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.Layers;
using Ncf.Models;

namespace Ncf.Training;

/// <summary>
/// Trains an <see cref="NcfModel"/> on an <see cref="NcfDataset"/>: per-epoch negative sampling, shuffled
/// mini-batches, the fused sigmoid + BCE loss, and an optimizer step per batch. Use <see cref="Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/> for the whole
/// run, or <see cref="TrainEpoch"/> / <see cref="TrainBatch"/> for an explicit loop.
/// </summary>
/// <remarks>After the first batch, a training step allocates nothing: ids, labels and activations live in
/// buffers sized once for the batch. <see cref="SaveState(string, ReadOnlySpan{byte})"/> and <see cref="RestoreState(string)"/> let a run
/// stopped between epochs continue exactly where it stood.</remarks>
public sealed partial class NcfTrainer : IDisposable
{
    private readonly NegativeSampler? _sampler;
    private readonly IEpochSampler? _deviceSampler;
    private readonly FusedCpuStep? _fused;
    private readonly SigmoidBceLoss _loss;
    private readonly DeviceBuffer<float> _labels, _lossAccumulator;
    private readonly DeviceBuffer<int> _uniqueUsers, _uniqueItems;
    private readonly int[] _hostUsers, _hostItems, _hostUniqueUsers, _hostUniqueItems, _userStamp, _itemStamp;
    private readonly float[] _hostLabels;
    private readonly float[] _hostLoss = new float[2];
    private int _stamp;
    private readonly int _batchCapacity;

    // Weight averaging (TrainingOptions.AverageFromEpoch): the running mean of the epoch-end parameters, and the point
    // the optimizer's own steps reached, kept aside while the model holds the mean between epochs.
    private float[]? _average, _trainingPoint;
    private bool _holdingAverage;
    private bool _reportedBeforeTraining;

    // Early stopping: the best HR@K among the epochs Fit evaluated, and its epoch (-1: none yet).
    private double _bestHitRate = double.NegativeInfinity;
    private int _bestEpoch = -1;

    // Set while the model stands part-way through an epoch (a cancelled TrainEpoch): no epoch end to save a state at.
    private bool _epochCutShort;

    // Host sampling, double-buffered: the epoch being trained and, while Fit runs, the next one being built.
    private TrainingSample[]? _epochSamples, _nextEpochSamples;
    private Task? _nextEpochBuild;
    private int _nextEpoch = -1, _lastPlannedEpoch = -1;

    /// <summary>Prepares training of <paramref name="model"/> on <paramref name="data"/>.</summary>
    /// <remarks>A model whose parameters are all zero (never initialised nor loaded) is initialised here with
    /// <see cref="TrainingOptions.Seed"/>: from zeros, GMF's and the tower's gradients vanish and training would
    /// learn nothing. A model initialised or loaded by the caller is trained from where it is.</remarks>
    public NcfTrainer(NcfModel model, NcfDataset data, TrainingOptions? options = null, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        Options = options ?? new TrainingOptions();
        Options.Validate();
        if (model.UserCount != data.UserCount || model.ItemCount != data.ItemCount)
        {
            throw new NcfException($"The model has {model.UserCount} users and {model.ItemCount} items; the data has {data.UserCount} and {data.ItemCount}.");
        }

        Model = model;
        Data = data;
        Optimizer = optimizer ?? CreateOptimizer(model, Options);
        var backend = model.Backend;
        if (backend is IEpochSamplerFactory factory)
        {
            if (Optimizer.IsRowSparse)
            {
                Optimizer.Dispose();
                throw new NcfException($"Row-sparse Adam (lazy or deferred) needs each batch's ids on the host; on the {backend.Name} backend use exact Adam or SGD.");
            }

            _deviceSampler = factory.CreateEpochSampler(data, Options.Negatives, Options.Seed);
        }
        else
        {
            _sampler = new NegativeSampler(data, Options.Negatives, Options.Seed, Options.SamplerThreads);
        }

        // Only now, with every check passed, is the caller's model changed.
        if (model.Parameters.ToArray().AsSpan().IndexOfAnyExcept(0f) < 0)
        {
            model.Initialize(Options.Seed);
        }

        // Buffers for a batch no larger than an epoch (or 65,536, whichever is more, so explicit TrainBatch loops keep
        // their usual sizes): a batch size beyond an epoch changes nothing (one batch an epoch either way) except
        // memory, which at --batch 16,777,216 on a tiny log was 24 GB and the OOM killer.
        long epochSamples = _deviceSampler?.SamplesPerEpoch ?? _sampler!.SamplesPerEpoch;
        int batch = _batchCapacity = (int)Math.Min(Options.BatchSize, Math.Max(epochSamples, 1 << 16));
        model.Reserve(batch);
        _loss = new SigmoidBceLoss(backend);
        _labels = backend.AllocateFloat(batch);
        _lossAccumulator = backend.AllocateFloat(2);
        _uniqueUsers = backend.AllocateInt(batch);
        _uniqueItems = backend.AllocateInt(batch);
        _hostUsers = new int[batch];
        _hostItems = new int[batch];
        _hostLabels = new float[batch];
        _hostUniqueUsers = new int[batch];
        _hostUniqueItems = new int[batch];
        _userStamp = new int[data.UserCount];
        _itemStamp = new int[data.ItemCount];
        if (Options.FusedCpuStep && _deviceSampler is null)
        {
            _fused = FusedCpuStep.TryCreate(model, Optimizer, batch);
        }

        model.ZeroGradients();
    }

    /// <summary>The model being trained.</summary>
    public NcfModel Model { get; }

    /// <summary>The data.</summary>
    public NcfDataset Data { get; }

    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Epochs completed.</summary>
    public int EpochsDone { get; private set; }

    /// <summary>
    /// How many epoch ends the running mean of <see cref="TrainingOptions.AverageFromEpoch"/> holds so far (0: averaging
    /// has not begun, or is off).
    /// </summary>
    public int AveragedEpochs { get; private set; }

    /// <summary>
    /// Embedding parameters from which <see cref="OptimizerKind.Auto"/> takes deferred Adam: 4 M parameters, with their
    /// two moments 48 MB, are past most last-level caches. Below that exact Adam's sweep of every row runs from cache and
    /// the tower can dominate the step (ML-1M, 1.25 M: MLP-32 trains as fast either way, GMF-128 twice as fast
    /// deferred); above it the sweep is the step (GMF-512 on ML-1M, 5 M: 2.4×; NeuMF-8 on an ML-20M-sized log, 6.6 M:
    /// 15×; docs/performance.md).
    /// </summary>
    public const long DeferredAdamThreshold = 4_000_000;

    /// <summary>
    /// The optimizer <paramref name="options"/> give a model of <paramref name="shape"/> for <paramref name="users"/> and
    /// <paramref name="items"/> on <paramref name="backend"/>: <see cref="TrainingOptions.Optimizer"/> itself, or for
    /// <see cref="OptimizerKind.Auto"/> the concrete kind it stands for.
    /// </summary>
    public static OptimizerKind ResolveOptimizer(TrainingOptions options, ModelOptions shape, int users, int items, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(backend);
        if (options.Optimizer != OptimizerKind.Auto)
        {
            return options.Optimizer;
        }

        long embedding = NcfModel.ParameterCount(users, items, shape) - NcfModel.ParameterCount(0, 0, shape);
        return options.L2 == 0 && backend is IDeferredAdamKernels && embedding >= DeferredAdamThreshold ? OptimizerKind.DeferredAdam : OptimizerKind.Adam;
    }

    /// <summary>The optimizer the options ask for (<see cref="OptimizerKind.Auto"/> resolved by <see cref="ResolveOptimizer"/>).</summary>
    public static Optimizer CreateOptimizer(NcfModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        return CreateOptimizer(model, options, ResolveOptimizer(options, model.Options, model.UserCount, model.ItemCount, model.Backend));
    }

    private static Optimizer CreateOptimizer(NcfModel model, TrainingOptions options, OptimizerKind kind) => kind switch
    {
        OptimizerKind.Sgd => new Sgd(model.Parameters, options.LearningRate, options.L2),
        OptimizerKind.LazyAdam => new Adam(model.Parameters,
            new AdamOptions { LearningRate = options.LearningRate, L2 = options.L2, Embeddings = AdamEmbeddingUpdate.Lazy }),
        OptimizerKind.DeferredAdam => new Adam(model.Parameters,
            new AdamOptions { LearningRate = options.LearningRate, L2 = options.L2, Embeddings = AdamEmbeddingUpdate.Deferred }),
        _ => new Adam(model.Parameters, new AdamOptions { LearningRate = options.LearningRate, L2 = options.L2 }),
    };

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> epochs, evaluating after each; reports each epoch through
    /// <paramref name="progress"/>, and the running loss through <paramref name="batchProgress"/> every 2^20 (about
    /// a million) examples, so a small data set may finish an epoch without a batch report. Cancellation stops between
    /// batches and returns the epochs completed so far.
    /// </summary>
    /// <remarks>An epoch whose loss is not a finite number ends training early: it is reported, and the result says
    /// <see cref="TrainingResult.Diverged"/> (later epochs could only train on NaN).</remarks>
    public TrainingResult Fit(IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default,
        IProgress<BatchProgress>? batchProgress = null) => Fit(Options.Epochs, progress, cancellationToken, batchProgress);

    /// <summary>
    /// As <see cref="Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/>, for
    /// <paramref name="epochs"/> epochs instead of <see cref="TrainingOptions.Epochs"/>: a run restored with
    /// <see cref="RestoreState(string)"/> after <see cref="EpochsDone"/> epochs finishes with
    /// <c>Options.Epochs - EpochsDone</c> more.
    /// </summary>
    public TrainingResult Fit(int epochs, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default,
        IProgress<BatchProgress>? batchProgress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        var reports = new List<EpochReport>();
        if (PatienceRunOut)
        {
            // Stopped already (a run restored after its stop): the rule that ended it still holds.
            return new TrainingResult(reports, false) { StoppedEarly = epochs > 0 };
        }

        _lastPlannedEpoch = EpochsDone + epochs - 1;
        try
        {
            // Only a model no step has touched is "before training" (a cancelled first Fit may have taken some).
            if (Options.EvaluateBeforeTraining && !_reportedBeforeTraining && Optimizer.StepCount == 0)
            {
                _reportedBeforeTraining = true;
                var initial = Evaluate(new EpochReport { Epoch = 0, Loss = double.NaN }, cancellationToken);
                TrackBest(initial);
                reports.Add(initial);
                progress?.Report(initial);
            }

            for (int e = 0; e < epochs; e++)
            {
                var report = TrainEpoch(cancellationToken, batchProgress);
                if (Options.EvaluateEachEpoch)
                {
                    report = Evaluate(report, cancellationToken);
                    TrackBest(report);
                }

                reports.Add(report);
                progress?.Report(report);
                if (!double.IsFinite(report.Loss))
                {
                    return new TrainingResult(reports, false) { Diverged = true };
                }

                if (PatienceRunOut && e < epochs - 1)
                {
                    return new TrainingResult(reports, false) { StoppedEarly = true };
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new TrainingResult(reports, true);
        }
        finally
        {
            _lastPlannedEpoch = -1;
            FinishNextEpochBuild();
        }

        return new TrainingResult(reports, false);
    }

    /// <summary>True when <see cref="TrainingOptions.EarlyStoppingPatience"/> epochs have passed since the best evaluated one.</summary>
    private bool PatienceRunOut => Options.EarlyStoppingPatience > 0 && _bestEpoch >= 0 && EpochsDone - _bestEpoch >= Options.EarlyStoppingPatience;

    /// <summary>Early stopping's record: the best HR@K so far, by the rule of <see cref="TrainingResult.Best"/> (earliest on ties).</summary>
    private void TrackBest(EpochReport report)
    {
        if ((report.Validation ?? report.Test) is { } metrics && metrics.HitRate > _bestHitRate)
        {
            _bestHitRate = metrics.HitRate;
            _bestEpoch = report.Epoch;
        }
    }

    /// <summary>Evaluates the model now and returns <paramref name="report"/> with the metrics filled in.</summary>
    public EpochReport Evaluate(EpochReport report, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        Optimizer.CatchUp();
        RankingMetrics? test = Data.Test is null ? null : Sampled(Data.Test, cancellationToken);
        RankingMetrics? validation = Data.Validation is null ? null : Sampled(Data.Validation, cancellationToken);
        return report with { Test = test, Validation = validation, EvalSeconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>On the device when the backend can (only the metrics come back), else through the host evaluator.</summary>
    private RankingMetrics Sampled(EvaluationSet cases, CancellationToken cancellationToken) =>
        (Model.Backend as ISampledRankingEvaluator)?.TryEvaluateSampled(Model, cases, Options.TopK, Options.Ties)
        ?? Evaluator.SampledRanking(Model, cases, Options.TopK, Options.Ties, cancellationToken);

    /// <summary>One epoch: sample negatives, shuffle, and train every mini-batch. Returns its loss and timing.</summary>
    /// <remarks>With <see cref="TrainingOptions.AverageFromEpoch"/>, the epoch trains from where the optimizer's steps
    /// left off; once averaging has begun, it ends with the model holding the mean, also when cancelled.</remarks>
    public EpochReport TrainEpoch(CancellationToken cancellationToken = default, IProgress<BatchProgress>? batchProgress = null)
    {
        var prepClock = Stopwatch.StartNew();
        ReadOnlySpan<TrainingSample> samples = default;
        long total;
        if (_deviceSampler is not null)
        {
            _deviceSampler.BuildEpoch(EpochsDone);
            Model.Backend.Synchronize();
            total = _deviceSampler.SamplesPerEpoch;
        }
        else
        {
            samples = HostEpoch(EpochsDone);
            total = samples.Length;
        }

        double prepSeconds = prepClock.Elapsed.TotalSeconds;
        Model.Backend.Fill(_lossAccumulator.All, 0f);
        var clock = Stopwatch.StartNew();
        const long ReportEvery = 1 << 20;
        long nextReport = ReportEvery;
        int batch = Options.BatchSize;
        bool completed = false;
        // Here, not before the epoch's preparation: a failed build must leave the model holding the mean it held.
        ResumeTrainingPoint();
        try
        {
            for (long start = 0; start < total; start += batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = (int)Math.Min(batch, total - start);
                if (_deviceSampler is not null)
                {
                    var (users, items, labels) = _deviceSampler.Batch((int)start, n);
                    Step(users, items, labels, n, default);
                }
                else
                {
                    var chunk = samples.Slice((int)start, n);
                    for (int k = 0; k < n; k++)
                    {
                        _hostUsers[k] = chunk[k].User;
                        _hostItems[k] = chunk[k].Item;
                        _hostLabels[k] = chunk[k].Label;
                    }

                    StepFromHost(n);
                }

                if (batchProgress is not null && start + n >= nextReport)
                {
                    nextReport += ReportEvery;
                    _lossAccumulator.Read(0, _hostLoss);
                    batchProgress.Report(new BatchProgress(EpochsDone + 1, start + n, total, _hostLoss[0] / (start + n)));
                }
            }

            completed = true;
            _epochCutShort = false;
        }
        finally
        {
            _epochCutShort |= !completed;
            // Deferred Adam's untouched rows catch up here, inside the timed epoch, so the model is exact Adam's between
            // epochs, and also when the epoch is cancelled (whoever saves the model next must find it current).
            Optimizer.CatchUp();
            Model.Backend.Synchronize();
            if (!completed && _average is not null)
            {
                // A cancelled epoch's steps are kept as the training point; the model goes back to the mean.
                HoldAverage(foldIn: false);
            }
        }

        double seconds = clock.Elapsed.TotalSeconds;
        _lossAccumulator.Read(0, _hostLoss);
        EpochsDone++;
        if (Options.AverageFromEpoch > 0 && EpochsDone >= Options.AverageFromEpoch)
        {
            HoldAverage(foldIn: true);
        }

        return new EpochReport
        {
            Epoch = EpochsDone,
            Loss = total == 0 ? 0 : _hostLoss[0] / total,
            Samples = total,
            TrainSeconds = seconds,
            PrepSeconds = prepSeconds,
            AveragedEpochs = AveragedEpochs,
        };
    }

    /// <summary>
    /// Sets the parameters the optimizer's steps reached aside as the training point, folds them into the running mean
    /// when <paramref name="foldIn"/>, and lets the model hold the mean.
    /// </summary>
    private void HoldAverage(bool foldIn)
    {
        var values = Model.Parameters.Values;
        _trainingPoint ??= new float[values.Length];
        values.Read(0, _trainingPoint);
        if (_average is null)
        {
            _average = (float[])_trainingPoint.Clone();
            AveragedEpochs = 1;
        }
        else if (foldIn)
        {
            // mean_n = mean_{n-1} + (x - mean_{n-1}) / n: no growing sum to lose float precision over long runs.
            float weight = 1f / ++AveragedEpochs;
            var mean = _average.AsSpan();
            ReadOnlySpan<float> point = _trainingPoint;
            for (int i = 0; i < mean.Length; i++)
            {
                mean[i] += (point[i] - mean[i]) * weight;
            }
        }

        values.Write(0, _average);
        _holdingAverage = true;
    }

    /// <summary>Before the optimizer steps again: swaps the model back from the mean to the point its steps reached.</summary>
    private void ResumeTrainingPoint()
    {
        if (_holdingAverage)
        {
            Model.Parameters.Values.Write(0, _trainingPoint);
            _holdingAverage = false;
        }
    }

    /// <summary>
    /// Epoch <paramref name="epoch"/>'s examples: taken from the background build when it made them, else built now;
    /// then, inside <see cref="Fit(IProgress{EpochReport}?, CancellationToken, IProgress{BatchProgress}?)"/> with epochs still to come, the next epoch's build starts in the background on
    /// the cores the sampler may use less one (the training loop keeps one).
    /// </summary>
    private ReadOnlySpan<TrainingSample> HostEpoch(int epoch)
    {
        var sampler = _sampler!;
        int threads = Options.SamplerThreads == 0 ? Environment.ProcessorCount : Options.SamplerThreads;
        _epochSamples ??= sampler.AllocateEpoch();
        if (_nextEpochBuild is not null && _nextEpoch == epoch)
        {
            FinishNextEpochBuild();
            (_epochSamples, _nextEpochSamples) = (_nextEpochSamples!, _epochSamples);
        }
        else
        {
            FinishNextEpochBuild();
            sampler.Build(epoch, _epochSamples, threads);
        }

        if (Options.PrefetchNextEpoch && epoch < _lastPlannedEpoch)
        {
            var next = _nextEpochSamples ??= sampler.AllocateEpoch();
            int nextEpoch = _nextEpoch = epoch + 1;
            int background = Math.Max(1, threads - 1);
            _nextEpochBuild = Task.Factory.StartNew(() => sampler.Build(nextEpoch, next, background), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        return _epochSamples;
    }

    /// <summary>Waits for a background epoch build, if any, and surfaces its failure.</summary>
    private void FinishNextEpochBuild()
    {
        var build = _nextEpochBuild;
        if (build is null)
        {
            return;
        }

        try
        {
            build.GetAwaiter().GetResult();
        }
        finally
        {
            _nextEpochBuild = null;
        }
    }

    /// <summary>
    /// One optimisation step on the given examples (the explicit loop: forward, loss, backward, update).
    /// Returns the batch's mean loss. At most <see cref="TrainingOptions.BatchSize"/> examples, and, when that is over
    /// 65,536, at most an epoch's (the trainer's buffers are sized to the smaller). With deferred Adam (which
    /// the default <see cref="OptimizerKind.Auto"/> builds for large tables on the CPU: see <see cref="ResolveOptimizer"/>),
    /// call <see cref="Optimizer.CatchUp"/> before reading the parameters between or after such steps (disposing the
    /// trainer does it too). Weight averaging happens
    /// at epoch ends only: a model holding the mean is put back to the training point first, and this step leaves it
    /// holding the step's result.
    /// </summary>
    public double TrainBatch(ReadOnlySpan<int> users, ReadOnlySpan<int> items, ReadOnlySpan<float> labels)
    {
        int n = users.Length;
        if (items.Length != n || labels.Length != n || n > _batchCapacity || n == 0)
        {
            throw new ArgumentException($"A batch needs 1..{_batchCapacity} users, items and labels of equal length.");
        }

        for (int i = 0; i < n; i++)
        {
            if ((uint)users[i] >= (uint)Model.UserCount || (uint)items[i] >= (uint)Model.ItemCount || !(labels[i] is >= 0 and <= 1))
            {
                throw new ArgumentException($"Example {i} (user {users[i]}, item {items[i]}, label {labels[i]}) is outside the model's "
                    + $"{Model.UserCount} users, {Model.ItemCount} items or labels 0..1.");
            }
        }

        ResumeTrainingPoint();
        users.CopyTo(_hostUsers);
        items.CopyTo(_hostItems);
        labels.CopyTo(_hostLabels);
        Model.Backend.Fill(_lossAccumulator.All, 0f);
        StepFromHost(n);
        _lossAccumulator.Read(0, _hostLoss);
        return _hostLoss[0] / n;
    }

    /// <summary>A step on the examples staged in the host arrays: upload, then <see cref="Step"/>.</summary>
    private void StepFromHost(int n)
    {
        if (_fused is not null)
        {
            var (userCount, itemCount) = CollectDistinctRows(n);
            _fused.Step(_hostUsers, _hostItems, _hostLabels, n, _hostUniqueUsers, userCount, _hostUniqueItems, itemCount,
                ((Backends.Cpu.CpuBackend)Model.Backend).Span(_lossAccumulator.All));
            return;
        }

        var (users, items) = Model.InputIds(n);
        users.Write(_hostUsers.AsSpan(0, n));
        items.Write(_hostItems.AsSpan(0, n));
        var labels = _labels.Slice(0, n);
        labels.Write(_hostLabels.AsSpan(0, n));
        Step(users, items, labels, n, Optimizer.IsRowSparse ? DistinctRows(n) : default);
    }

    private void Step(View<int> users, View<int> items, View<float> labels, int n, BatchRows rows)
    {
        Optimizer.BeforeForward(rows);
        var logits = Model.Forward(users, items, n);
        var dLogits = Model.LogitGradients(n);
        _loss.ForwardBackward(logits, labels, dLogits, _lossAccumulator.All);
        Model.Backward(dLogits, n);
        Optimizer.Step(rows);
        Optimizer.ZeroGradients(rows);
    }

    /// <summary>The distinct users and items of the staged batch, uploaded for the row-sparse optimizer.</summary>
    private BatchRows DistinctRows(int n)
    {
        var (userCount, itemCount) = CollectDistinctRows(n);
        _uniqueUsers.Write(0, _hostUniqueUsers.AsSpan(0, userCount));
        _uniqueItems.Write(0, _hostUniqueItems.AsSpan(0, itemCount));
        return new BatchRows(_uniqueUsers.Slice(0, userCount), _uniqueItems.Slice(0, itemCount));
    }

    /// <summary>Writes the staged batch's distinct users and items, in first-seen order, to the host arrays; returns their counts.</summary>
    private (int Users, int Items) CollectDistinctRows(int n)
    {
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_userStamp);
            Array.Clear(_itemStamp);
            _stamp = 1;
        }

        int userCount = 0, itemCount = 0;
        for (int k = 0; k < n; k++)
        {
            int u = _hostUsers[k], i = _hostItems[k];
            if (_userStamp[u] != _stamp)
            {
                _userStamp[u] = _stamp;
                _hostUniqueUsers[userCount++] = u;
            }

            if (_itemStamp[i] != _stamp)
            {
                _itemStamp[i] = _stamp;
                _hostUniqueItems[itemCount++] = i;
            }
        }

        return (userCount, itemCount);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            FinishNextEpochBuild();
        }
        catch (Exception)
        {
            // A failed background build has nothing left to release; Fit already reported it.
        }

        // After an explicit TrainBatch loop deferred Adam (which OptimizerKind.Auto builds for large tables) may still owe
        // rows the steps they sat out: the model is left as exact Adam would have left it, whether or not the caller
        // remembered Optimizer.CatchUp. After Fit or TrainEpoch every row is current and this is a pass over the step
        // counts. A model disposed first has nothing left to bring up to date.
        try
        {
            Optimizer.CatchUp();
        }
        catch (ObjectDisposedException)
        {
        }

        _deviceSampler?.Dispose();
        Optimizer.Dispose();
        _labels.Dispose();
        _lossAccumulator.Dispose();
        _uniqueUsers.Dispose();
        _uniqueItems.Dispose();
    }
}
