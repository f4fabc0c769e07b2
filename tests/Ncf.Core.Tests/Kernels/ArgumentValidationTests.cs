using Ncf.Backends;
using Ncf.Kernels;

namespace Ncf.Core.Tests.Kernels;

/// <summary>
/// Every public kernel entry point rejects too-short (or mismatched) buffers and out-of-range ids with an
/// <see cref="ArgumentException"/> (or a subclass) before touching memory, never an IndexOutOfRangeException or a crash
/// from the unchecked SIMD loops. Each case is run for both tiers.
/// </summary>
public class ArgumentValidationTests
{
    private static readonly AdamSettings Settings = new(1e-3f, 0.9f, 0.999f, 1e-8f, 0, 1);

    public static TheoryData<string> Cases() => new(Calls.Keys);

    private static readonly Dictionary<string, Action> Calls = new()
    {
        // Element-wise: destination one short of the 9 inputs (8 would still fill a vector).
        ["relu fwd short y"] = () => ReluKernel.ForwardSimd(new float[9], new float[8]),
        ["relu fwd short y (ref)"] = () => ReluKernel.ForwardReference(new float[9], new float[8]),
        ["relu bwd short dx"] = () => ReluKernel.BackwardSimd(new float[9], new float[9], new float[8]),
        ["relu bwd short dy"] = () => ReluKernel.BackwardSimd(new float[9], new float[8], new float[9]),
        ["sigmoid fwd short y"] = () => SigmoidKernel.ForwardSimd(new float[17], new float[16]),
        ["sigmoid bwd short dx"] = () => SigmoidKernel.BackwardSimd(new float[17], new float[17], new float[16]),
        ["sigmoid bwd short dx (ref)"] = () => SigmoidKernel.BackwardReference(new float[17], new float[17], new float[16]),
        ["multiply short b"] = () => MultiplyKernel.ForwardSimd(new float[9], new float[8], new float[9]),
        ["multiply short y"] = () => MultiplyKernel.ForwardSimd(new float[9], new float[9], new float[8]),
        ["multiply bwd short db"] = () => MultiplyKernel.BackwardSimd(new float[9], new float[9], new float[9], new float[9], new float[8]),
        ["multiply bwd short da (ref)"] = () => MultiplyKernel.BackwardReference(new float[9], new float[9], new float[9], new float[8], new float[9]),
        ["copy-columns short destination"] = () => CopyColumnsKernel.Simd(new float[3 * 8], 8, new float[2 * 16 + 7], 16, 3, 8),
        ["copy-columns short source"] = () => CopyColumnsKernel.Simd(new float[2 * 8 + 7], 8, new float[3 * 16], 16, 3, 8),
        ["copy-columns stride < columns"] = () => CopyColumnsKernel.Simd(new float[64], 4, new float[64], 16, 3, 8),
        ["copy-columns negative rows"] = () => CopyColumnsKernel.Reference(new float[64], 8, new float[64], 8, -1, 8),

        // Embeddings: ids outside the table, negative ids, too-short output or gradient rows, zero dim.
        ["gather id = rows"] = () => GatherKernel.Simd(new float[5 * 8], 8, [0, 5], new float[16]),
        ["gather id < 0"] = () => GatherKernel.Simd(new float[5 * 8], 8, [-1], new float[8]),
        ["gather id = rows (ref)"] = () => GatherKernel.Reference(new float[5 * 8], 8, [5], new float[8]),
        ["gather short output"] = () => GatherKernel.Simd(new float[5 * 8], 8, [0, 1], new float[15]),
        ["gather dim 0"] = () => GatherKernel.Simd(new float[5 * 8], 0, [0], new float[8]),
        ["scatter-add id = rows"] = () => ScatterAddKernel.Simd(new float[16], [0, 5], 8, new float[5 * 8]),
        ["scatter-add id < 0"] = () => ScatterAddKernel.Simd(new float[8], [int.MinValue], 8, new float[5 * 8]),
        ["scatter-add short gradients"] = () => ScatterAddKernel.Simd(new float[15], [0, 1], 8, new float[5 * 8]),
        ["scatter-add id = rows (ref)"] = () => ScatterAddKernel.Reference(new float[8], [5], 8, new float[5 * 8]),

        // Dense: x, y, dx too short; weight or bias of the wrong size.
        ["dense fwd short x"] = () => DenseKernel.ForwardSimd(new float[4 * 9 - 1], new float[3 * 9], new float[3], new float[4 * 3], 4, 9, 3),
        ["dense fwd short y"] = () => DenseKernel.ForwardSimd(new float[4 * 9], new float[3 * 9], new float[3], new float[4 * 3 - 1], 4, 9, 3),
        ["dense fwd wrong weight"] = () => DenseKernel.ForwardSimd(new float[4 * 9], new float[3 * 9 - 1], new float[3], new float[4 * 3], 4, 9, 3),
        ["dense fwd wrong bias"] = () => DenseKernel.ForwardSimd(new float[4 * 9], new float[3 * 9], new float[2], new float[4 * 3], 4, 9, 3),
        ["dense fwd short y (ref)"] = () => DenseKernel.ForwardReference(new float[4 * 9], new float[3 * 9], new float[3], new float[11], 4, 9, 3),
        ["dense bwd short dx"] = () => DenseKernel.BackwardSimd(new float[4 * 9], new float[3 * 9], new float[4 * 3], new float[4 * 9 - 1],
            new float[3 * 9], new float[3], 4, 9, 3),
        ["dense bwd short dy"] = () => DenseKernel.BackwardSimd(new float[4 * 9], new float[3 * 9], new float[4 * 3 - 1], new float[4 * 9],
            new float[3 * 9], new float[3], 4, 9, 3),
        ["dense bwd wrong dW"] = () => DenseKernel.BackwardSimd(new float[4 * 9], new float[3 * 9], new float[4 * 3], new float[4 * 9],
            new float[3 * 9 - 1], new float[3], 4, 9, 3),
        ["dense bwd wrong db"] = () => DenseKernel.BackwardSimd(new float[4 * 9], new float[3 * 9], new float[4 * 3], new float[4 * 9],
            new float[3 * 9], new float[2], 4, 9, 3),
        ["dense bwd short dx (ref)"] = () => DenseKernel.BackwardReference(new float[4 * 9], new float[3 * 9], new float[4 * 3], new float[35],
            new float[3 * 9], new float[3], 4, 9, 3),

        ["dense v2 fwd short y"] = () => DenseKernel.ForwardBlocked(new float[4 * 9], new float[16 * 9], new float[16], new float[4 * 16 - 1], 4, 9, 16),
        ["dense v2 fwd short x"] = () => DenseKernel.ForwardBlocked(new float[4 * 9 - 1], new float[16 * 9], new float[16], new float[4 * 16], 4, 9, 16),
        ["dense v2 bwd short dx"] = () => DenseKernel.BackwardBlocked(new float[4 * 9], new float[16 * 9], new float[4 * 16], new float[4 * 9 - 1],
            new float[16 * 9], new float[16], 4, 9, 16),
        ["dense v2 bwd short dy"] = () => DenseKernel.BackwardBlocked(new float[4 * 9], new float[16 * 9], new float[4 * 16 - 1], new float[4 * 9],
            new float[16 * 9], new float[16], 4, 9, 16),
        ["dense v2 bwd wrong dW"] = () => DenseKernel.BackwardBlocked(new float[4 * 9], new float[16 * 9], new float[4 * 16], new float[4 * 9],
            new float[16 * 9 + 1], new float[16], 4, 9, 16),

        // Losses.
        ["bce short gradient"] = () => BinaryCrossEntropyKernel.Simd(new float[9], new float[9], new float[8], 1),
        ["bce short targets"] = () => BinaryCrossEntropyKernel.Simd(new float[9], new float[8], new float[9], 1),
        ["sbce short gradient"] = () => SigmoidBinaryCrossEntropyKernel.Simd(new float[9], new float[9], new float[8], 1),
        ["sbce short targets (ref)"] = () => SigmoidBinaryCrossEntropyKernel.Reference(new float[9], new float[8], new float[9], 1),

        // Optimisers.
        ["adam short gradients"] = () => AdamKernel.Simd(new float[9], new float[8], new float[9], new float[9], Settings),
        ["adam short moment"] = () => AdamKernel.Simd(new float[9], new float[9], new float[9], new float[8], Settings),
        ["adam step 0"] = () => AdamKernel.Simd(new float[9], new float[9], new float[9], new float[9], Settings with { Step = 0 }),
        ["adam rows row = rows"] = () => AdamKernel.RowsSimd(new float[4 * 9], new float[4 * 9], new float[4 * 9], new float[4 * 9], 9, [1, 4], Settings),
        ["adam rows row < 0"] = () => AdamKernel.RowsSimd(new float[4 * 9], new float[4 * 9], new float[4 * 9], new float[4 * 9], 9, [-1], Settings),
        ["adam rows row = rows (ref)"] = () => AdamKernel.RowsReference(new float[4 * 9], new float[4 * 9], new float[4 * 9], new float[4 * 9], 9, [4], Settings),
        ["sgd short gradients"] = () => SgdKernel.Simd(new float[9], new float[8], 0.1f, 0),
        ["kahan short accumulator"] = () => Ncf.Backends.Cpu.CpuBackend.KahanAdd(new float[1], 1),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void InvalidArguments_ThrowArgumentException(string name)
    {
        var error = Record.Exception(Calls[name]);
        Assert.NotNull(error);
        Assert.IsAssignableFrom<ArgumentException>(error);
    }
}
