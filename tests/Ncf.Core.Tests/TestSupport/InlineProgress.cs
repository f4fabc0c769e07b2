namespace Ncf.Core.Tests.TestSupport;

/// <summary>Calls back synchronously on the reporting thread (Progress&lt;T&gt; would post to the thread pool, after the call returns).</summary>
public sealed class InlineProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
