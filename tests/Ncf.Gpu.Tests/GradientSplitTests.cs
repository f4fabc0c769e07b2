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
    public void TheDeviceTestShapesReachEveryGemmPath()
    {
        // The device tests' shapes (OpenCL on PoCL in CI, CUDA on a GPU) must compare the blocked kernel's forward
        // (B transposed), dx (plain) and split dW (A transposed) paths with the reference, and the 16×16 ones too.
        var shapes = IlgpuBackendTests<IlgpuCpuFixture>.DenseShapes(simulator: false).ToArray();
        static bool BlockedDw((int Rows, int In, int Out) s)
        {
            var (splits, _) = DenseKernels.GradientSplit(s.Rows, s.In, s.Out);
            return splits > 1 && DenseKernels.UsesBlockedKernel(s.Out, s.In, splits);
        }

        Assert.Contains(shapes, s => DenseKernels.UsesBlockedKernel(s.Rows, s.Out, 1));
        Assert.Contains(shapes, s => DenseKernels.UsesBlockedKernel(s.Rows, s.In, 1));
        Assert.Contains(shapes, BlockedDw);
        Assert.Contains(shapes, s => s.Rows > 0 && !DenseKernels.UsesBlockedKernel(s.Rows, s.Out, 1));
        Assert.Contains(shapes, s => DenseKernels.GradientSplit(s.Rows, s.In, s.Out).Splits > 1 && !BlockedDw(s));

        // NeuMF-8's narrow layers stay on the 16×16 kernel.
        Assert.False(DenseKernels.UsesBlockedKernel(65536, 32, 1));
    }
}
