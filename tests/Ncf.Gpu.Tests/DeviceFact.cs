using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Ncf.Gpu.Tests;

/// <summary>Names the accelerator a test class runs on; <see cref="DeviceFactAttribute"/> reads it.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class AcceleratorAttribute(GpuDeviceKind kind) : Attribute
{
    public GpuDeviceKind Kind { get; } = kind;
}

/// <summary>
/// A fact that is skipped when the accelerator of its (concrete) test class is missing. Written once in the
/// abstract base, each test runs, or skips, per accelerator subclass. OpenCL is required when the environment
/// variable CI is "true": then a missing OpenCL runtime fails the tests instead of hiding behind a skip.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("Ncf.Gpu.Tests.DeviceFactDiscoverer", "Ncf.Gpu.Tests")]
public sealed class DeviceFactAttribute : FactAttribute;

/// <summary>Why tests of an accelerator kind are skipped here (null: they run).</summary>
public static class DeviceAvailability
{
    private static readonly Lazy<IReadOnlyList<GpuDeviceInfo>> Devices = new(IlgpuBackend.ListDevices);

    public static bool RequireOpenCL => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string? SkipReason(GpuDeviceKind kind)
    {
        if (kind == GpuDeviceKind.IlgpuCpu || Devices.Value.Any(d => d.Kind == kind))
        {
            return null;
        }

        return kind switch
        {
            GpuDeviceKind.Cuda => "No CUDA device on this machine.",
            GpuDeviceKind.OpenCL when RequireOpenCL => null, // CI=true: run, and fail in the fixture.
            GpuDeviceKind.OpenCL => "No usable OpenCL device (install PoCL 6 with tools/install-pocl.sh and set OCL_ICD_VENDORS); with CI=true this fails.",
            _ => null,
        };
    }
}

/// <summary>Discovers a <see cref="DeviceFactAttribute"/> test as a normal test case or as one skipped with a reason.</summary>
public sealed class DeviceFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var testClass = testMethod.TestClass.Class.ToRuntimeType();
        var kind = testClass.GetCustomAttribute<AcceleratorAttribute>()?.Kind ?? GpuDeviceKind.IlgpuCpu;
        string? skip = DeviceAvailability.SkipReason(kind);
        var display = discoveryOptions.MethodDisplayOrDefault();
        var displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        yield return skip is null
            ? new XunitTestCase(diagnosticMessageSink, display, displayOptions, testMethod)
            : new SkippedDeviceTestCase(skip, diagnosticMessageSink, display, displayOptions, testMethod);
    }
}

/// <summary>A test case skipped because its device is missing; the reason survives serialization.</summary>
public sealed class SkippedDeviceTestCase : XunitTestCase
{
    private string _reason = "";

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippedDeviceTestCase()
    {
    }

    public SkippedDeviceTestCase(string reason, IMessageSink sink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(sink, display, options, testMethod)
    {
        _reason = reason;
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) => _reason;

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("SkipDeviceReason", _reason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        // Before the base: it may initialise the test case, which reads the skip reason.
        _reason = data.GetValue<string>("SkipDeviceReason");
        base.Deserialize(data);
    }
}
