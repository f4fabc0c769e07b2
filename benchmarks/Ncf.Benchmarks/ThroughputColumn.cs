using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Ncf.Benchmarks;

/// <summary>A benchmark class that knows how much work one invocation of each of its methods does.</summary>
public interface IWorkload
{
    /// <summary>Work per invocation of <paramref name="benchmarkMethod"/> with the current parameter values.</summary>
    Work WorkPerOperation(string benchmarkMethod);
}

/// <summary>An amount of work: floating-point operations or bytes moved to and from memory.</summary>
public readonly record struct Work(double Amount, bool IsFlops)
{
    public static Work Flops(double flops) => new(flops, true);

    public static Work Bytes(double bytes) => new(bytes, false);
}

/// <summary>
/// Adds "Work/op" (FLOP or bytes per invocation) and "Throughput" (GFLOP/s or GB/s from the median time) columns. The
/// work is asked of a fresh instance of the benchmark class with the case's parameter values set.
/// </summary>
public sealed class ThroughputColumn(bool rate) : IColumn
{
    public string Id => rate ? "Ncf.Throughput" : "Ncf.WorkPerOp";

    public string ColumnName => rate ? "Throughput" : "Work/op";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => rate ? 1 : 0;

    public bool IsNumeric => false;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => rate
        ? "GFLOP/s (compute kernels) or GB/s (memory-bound kernels, bytes read + written) at the median time (robust on a shared machine)"
        : "FLOP or bytes per invocation";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var work = WorkOf(benchmarkCase);
        if (work is null)
        {
            return "-";
        }

        var (amount, isFlops) = work.Value;
        if (!rate)
        {
            return isFlops ? $"{amount:N0} FLOP" : $"{amount:N0} B";
        }

        // The median, not the mean: on a shared machine preempted iterations inflate the mean.
        double? medianNs = summary[benchmarkCase]?.ResultStatistics?.Median;
        if (medianNs is not > 0)
        {
            return "-";
        }

        // amount / ns = G-units per second.
        double perSecond = amount / medianNs.Value;
        return isFlops ? $"{perSecond:F2} GFLOP/s" : $"{perSecond:F2} GB/s";
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public override string ToString() => ColumnName;

    private static Work? WorkOf(BenchmarkCase benchmarkCase)
    {
        var type = benchmarkCase.Descriptor.Type;
        if (!typeof(IWorkload).IsAssignableFrom(type))
        {
            return null;
        }

        var instance = (IWorkload)Activator.CreateInstance(type)!;
        foreach (var parameter in benchmarkCase.Parameters.Items)
        {
            var property = type.GetProperty(parameter.Name);
            if (property is not null)
            {
                property.SetValue(instance, parameter.Value);
            }
            else
            {
                type.GetField(parameter.Name)?.SetValue(instance, parameter.Value);
            }
        }

        return instance.WorkPerOperation(benchmarkCase.Descriptor.WorkloadMethod.Name);
    }
}

/// <summary>The configuration every benchmark class here uses: median, min and the two throughput columns, grouped by category.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig()
    {
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, new ThroughputColumn(rate: false), new ThroughputColumn(rate: true));
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams);
    }
}
