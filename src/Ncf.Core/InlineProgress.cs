namespace Ncf;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its handler on the reporting thread before <see cref="Report"/> returns,
/// so reports arrive in order and none comes after the long operation has returned. <see cref="Progress{T}"/> posts
/// each report to the captured synchronization context, which in a console app or a service is the thread pool:
/// there epoch lines can come out of order, or after <see cref="Training.NcfTrainer.Fit(IProgress{Training.EpochReport}?, CancellationToken, IProgress{Training.BatchProgress}?)"/> has returned.
/// </summary>
/// <typeparam name="T">The report's type (<see cref="Training.EpochReport"/>, or bytes downloaded).</typeparam>
/// <param name="handler">Called with each report, on the thread doing the work; it should be quick.</param>
public sealed class InlineProgress<T>(Action<T> handler) : IProgress<T>
{
    private readonly Action<T> _handler = handler ?? throw new ArgumentNullException(nameof(handler));

    /// <inheritdoc />
    public void Report(T value) => _handler(value);
}
