namespace Ncf.Backends.Cpu;

/// <summary>A unit of work split into parts; part p of n is run by exactly one thread.</summary>
internal interface IParallelJob
{
    void Execute(int part, int parts);
}

/// <summary>
/// A fixed set of worker threads for the CPU kernels. <see cref="Run"/> hands part 0 to the calling thread and
/// part t to worker t, then waits for all: the split is static, so which thread computes what — and therefore
/// every floating-point result — depends only on the thread count, never on timing. Workers spin briefly before
/// sleeping, because a training step issues dozens of short kernels back to back. Nothing is allocated per call.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 20_000;
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    private readonly CountdownEvent _finished;
    private volatile IParallelJob? _job;
    private volatile int _generation;
    private volatile bool _stopping;
    private int _parts;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        Threads = threads;
        _threads = new Thread[threads - 1];
        _wake = new ManualResetEventSlim[threads - 1];
        _finished = new CountdownEvent(1);
        for (int t = 0; t < _threads.Length; t++)
        {
            int part = t + 1;
            _wake[t] = new ManualResetEventSlim(false, spinCount: 1);
            _threads[t] = new Thread(() => WorkerLoop(part)) { IsBackground = true, Name = $"ncf-worker-{part}" };
            _threads[t].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> split into <paramref name="parts"/> (≤ <see cref="Threads"/>) parts and waits.</summary>
    public void Run(IParallelJob job, int parts)
    {
        parts = Math.Clamp(parts, 1, Threads);
        if (parts == 1)
        {
            job.Execute(0, 1);
            return;
        }

        _job = job;
        _parts = parts;
        _failure = null;
        _finished.Reset(parts - 1);
        Interlocked.Increment(ref _generation);
        for (int t = 0; t < parts - 1; t++)
        {
            _wake[t].Set();
        }

        try
        {
            job.Execute(0, parts);
        }
        finally
        {
            _finished.Wait();
            _job = null;
        }

        if (_failure is { } failure)
        {
            throw new AggregateException("A CPU kernel failed on a worker thread.", failure);
        }
    }

    private void WorkerLoop(int part)
    {
        int seen = 0;
        var wake = _wake[part - 1];
        while (true)
        {
            // Spin for a new generation first: the next kernel usually follows within microseconds.
            int spins = 0;
            while (_generation == seen && !_stopping && spins++ < SpinIterations)
            {
                Thread.SpinWait(8);
            }

            if (_generation == seen && !_stopping)
            {
                wake.Wait();
            }

            wake.Reset();
            if (_stopping)
            {
                return;
            }

            if (_generation == seen)
            {
                continue;
            }

            seen = _generation;
            if (part < _parts && _job is { } job)
            {
                try
                {
                    job.Execute(part, _parts);
                }
                catch (Exception e)
                {
                    _failure = e;
                }

                _finished.Signal();
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var wake in _wake)
        {
            wake.Set();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var wake in _wake)
        {
            wake.Dispose();
        }

        _finished.Dispose();
    }
}
