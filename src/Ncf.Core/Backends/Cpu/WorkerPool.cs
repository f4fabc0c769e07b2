namespace Ncf.Backends.Cpu;

/// <summary>A unit of work split into parts; each part is run exactly once, by whichever thread claims it.</summary>
internal interface IParallelJob
{
    void Execute(int part, int parts);
}

/// <summary>
/// A fixed set of helper threads for the CPU kernels. <see cref="Run"/> publishes a job split into a fixed number
/// of parts; the calling thread and the helpers claim parts one at a time until none is left. What a part computes
/// depends only on its index, never on which thread runs it, so results do not depend on timing. A helper that is
/// not scheduled (a busy, shared machine) costs nothing: the caller simply claims its part too. Helpers spin
/// briefly before sleeping, because a training step issues dozens of short kernels back to back. Nothing is
/// allocated per call.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle helper spins before it sleeps: longer than a training step, so helpers stay awake
    /// across a training loop (a sleeping helper takes tens of microseconds to wake, longer than most kernels).</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 200; // 5 ms
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);

    // (generation << 32) | next unclaimed part: claiming a part is one compare-and-swap that also checks the generation.
    private long _state;
    private IParallelJob? _job;
    private int _parts;
    private int _remaining;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        Threads = threads;
        _threads = new Thread[threads - 1];
        for (int t = 0; t < _threads.Length; t++)
        {
            _threads[t] = new Thread(WorkerLoop) { IsBackground = true, Name = $"ncf-worker-{t + 1}" };
            _threads[t].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> in <paramref name="parts"/> parts (clamped to 1..<see cref="Threads"/>) and waits for all.</summary>
    public void Run(IParallelJob job, int parts)
    {
        if (_stopping)
        {
            throw new ObjectDisposedException(nameof(CpuBackend), "The CpuBackend was disposed; create a new one.");
        }

        parts = Math.Clamp(parts, 1, Threads);
        if (parts == 1)
        {
            job.Execute(0, 1);
            return;
        }

        _job = job;
        _parts = parts;
        _failure = null;
        Volatile.Write(ref _remaining, parts);
        long generation = (Volatile.Read(ref _state) >> 32) + 1;
        Volatile.Write(ref _state, generation << 32);
        _wake.Set();
        ClaimAndRun(generation);
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _remaining) > 0)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }

        _wake.Reset();
        _job = null;
        if (_failure is { } failure)
        {
            throw new AggregateException("A CPU kernel failed.", failure);
        }
    }

    /// <summary>Claims and runs parts of <paramref name="generation"/> until none is left; false when the generation has passed.</summary>
    private void ClaimAndRun(long generation)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            if (state >> 32 != generation)
            {
                return;
            }

            int part = (int)(state & 0xFFFF_FFFF);
            var job = _job;
            int parts = _parts;
            if (part >= parts || job is null)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _state, state + 1, state) != state)
            {
                continue;
            }

            try
            {
                job.Execute(part, parts);
            }
            catch (Exception e)
            {
                _failure = e;
            }

            Interlocked.Decrement(ref _remaining);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (!_stopping)
        {
            long idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            long generation;
            while ((generation = Volatile.Read(ref _state) >> 32) == seen && !_stopping)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince > SpinTicks)
                {
                    _wake.Wait();
                    idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
                }
                else
                {
                    Thread.SpinWait(8);
                }
            }

            seen = generation;
            ClaimAndRun(generation);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _wake.Dispose();
    }
}
