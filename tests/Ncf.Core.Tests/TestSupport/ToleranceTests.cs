using Xunit.Sdk;

namespace Ncf.Core.Tests.TestSupport;

/// <summary>The checker must be able to fail, or every sweep test is vacuous.</summary>
public class ToleranceTests
{
    [Fact]
    public void AssertClose_FailsOnPlantedError_AndNamesTensorIndexValuesAndDifference()
    {
        float[] expected = TestData.Uniform(1027, seed: 1);
        float[] actual = (float[])expected.Clone();
        actual[613] += 1e-3f;  // planted error, far beyond the tolerance
        actual[100] += 2e-5f;  // smaller error: counted, but not the worst

        var error = Assert.Throws<XunitException>(() => Tolerance.AssertClose(expected, actual, 1e-6, 1e-7, "planted"));

        Assert.Contains("planted", error.Message);
        Assert.Contains("2 of 1027", error.Message);
        Assert.Contains("index 613", error.Message);
        Assert.Contains(expected[613].ToString("G9", System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Contains(actual[613].ToString("G9", System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public void AssertClose_FailsOnNaN_Infinity_AndLengthMismatch()
    {
        Assert.Throws<XunitException>(() => Tolerance.AssertClose([1f, 2f], [1f, float.NaN], 1, 1, "nan"));
        Assert.Throws<XunitException>(() => Tolerance.AssertClose([1f, 2f], [1f, float.PositiveInfinity], 1, 1, "inf"));
        Assert.Throws<XunitException>(() => Tolerance.AssertClose([float.NegativeInfinity], [float.PositiveInfinity], 1, 1, "sign"));
        Assert.Throws<XunitException>(() => Tolerance.AssertClose([1f, 2f], [1f], 1, 1, "length"));
        Assert.Throws<XunitException>(() => Tolerance.AssertClose(1.0, 1.1, 1e-3, 0, "scalar"));
    }

    [Fact]
    public void AssertClose_AcceptsValuesInsideTolerance_AndMatchingNonFinite()
    {
        Tolerance.AssertClose([1f, 0f, float.NaN, float.PositiveInfinity], [1.0000005f, 5e-8f, float.NaN, float.PositiveInfinity],
            1e-6, 1e-7, "ok");
    }

    [Fact]
    public void Guarded_DetectsWritesOutsideTheSpan()
    {
        var guarded = new Guarded(5);
        guarded.Span.Fill(1);
        guarded.AssertCanaries("clean");
        System.Runtime.CompilerServices.Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(guarded.Span), 5) = 0;
        Assert.Throws<XunitException>(() => guarded.AssertCanaries("overrun"));
    }
}
