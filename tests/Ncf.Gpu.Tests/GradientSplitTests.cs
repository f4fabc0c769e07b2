using Ncf.Gpu.Kernels;

namespace Ncf.Gpu.Tests;

/// <summary>
/// The row split of the dense weight gradient (<see cref="DenseKernels.GradientSplit"/>): pure arithmetic, checked
/// without a device. The device tests check the split's sums against the scalar reference.
/// </summary>
public sealed class GradientSplitTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 0, 8, 8 }, { 1, 1, 1 }, { 63, 64, 32 }, { 130, 17, 7 }, { 256, 64, 32 }, { 1027, 33, 16 },
        { 65536, 64, 32 }, { 1 << 20, 64, 32 }, { 1 << 20, 512, 256 }, { 1 << 20, 1024, 1024 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ChunksCoverEveryRowOnceAndScratchStaysBounded(int rows, int inDim, int outDim)
    {
        var (splits, chunk) = DenseKernels.GradientSplit(rows, inDim, outDim);
        Assert.True(splits >= 1);
        if (splits == 1)
        {
            Assert.Equal(0, DenseKernels.BackwardScratchLength(rows, inDim, outDim));
            return;
        }

        // Chunks are whole tiles, the last one is non-empty, and together they cover the rows exactly once.
        Assert.Equal(0, chunk % DenseKernels.Tile);
        Assert.True((long)(splits - 1) * chunk < rows, $"split {splits - 1} would be empty");
        Assert.True((long)splits * chunk >= rows, "rows left uncovered");
        Assert.True(chunk >= 64, $"chunk {chunk} below the 64-row minimum");
        int scratch = DenseKernels.BackwardScratchLength(rows, inDim, outDim);
        Assert.Equal(splits * outDim * (inDim + 1), scratch);
        Assert.True(scratch <= 1 << 24, $"scratch {scratch} floats over 64 MiB");
    }

    [Fact]
    public void LongBatchesOfSmallLayersSplitIntoEnoughBlocks()
    {
        // The H100 case that ran at 83 GFLOP/s: [65536, 64 -> 32] is 8 output tiles; split, it is ≥ 1024 blocks.
        var (splits, _) = DenseKernels.GradientSplit(65536, 64, 32);
        Assert.True(splits * 8 >= 1024, $"{splits} splits");
        // Short batches and big layers stay whole: nothing to gain.
        Assert.Equal(1, DenseKernels.GradientSplit(100, 64, 32).Splits);
        Assert.Equal(1, DenseKernels.GradientSplit(4096, 2048, 2048).Splits);
        // The MLPerf tower's first layer: 32 blocked blocks, split into ≥ 1024 blocks in all.
        var (wide, _) = DenseKernels.GradientSplit(65536, 512, 256);
        Assert.True(wide * 32 >= 1024 && DenseKernels.UsesBlockedKernel(256, 512, wide), $"{wide} splits");
    }

    [Fact]
    public void TheDeviceTestShapesReachTheBlockedKernelInEveryGemm()
    {
        // IlgpuBackendTests.DenseShapes (on a real device) lists these so that the blocked kernel's forward
        // (B transposed), dx (plain) and split dW (A transposed) paths are all compared with the reference.
        foreach (var (rows, inDim, outDim) in new[] { (3000, 70, 130), (8192, 128, 128) })
        {
            Assert.True(DenseKernels.UsesBlockedKernel(rows, outDim, 1), $"forward [{rows}, {inDim} -> {outDim}]");
            Assert.True(DenseKernels.UsesBlockedKernel(rows, inDim, 1), $"dx [{rows}, {inDim} -> {outDim}]");
            var (splits, _) = DenseKernels.GradientSplit(rows, inDim, outDim);
            Assert.True(splits > 1 && DenseKernels.UsesBlockedKernel(outDim, inDim, splits), $"dW [{rows}, {inDim} -> {outDim}]");
        }

        // NeuMF-8's narrow layers stay on the 16×16 kernel.
        Assert.False(DenseKernels.UsesBlockedKernel(65536, 32, 1));
    }
}
