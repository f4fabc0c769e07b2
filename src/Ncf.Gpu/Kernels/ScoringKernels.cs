using ILGPU;
using ILGPU.Runtime;

namespace Ncf.Gpu.Kernels;

/// <summary>
/// Evaluation on the device, one thread per row of a score matrix <c>[rows, columns]</c> (a user's scores for
/// candidate items): the top k columns of each row, and the rank of a target column among the others.
/// </summary>
internal sealed class ScoringKernels(Accelerator accelerator)
{
    private Action<Index1D, ArrayView<float>, int, int, ArrayView<int>, ArrayView<float>>? _topK;
    private Action<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<int>>? _targetRanks;

    public void TopK(ArrayView<float> scores, int rows, int columns, int k, ArrayView<int> topColumns, ArrayView<float> topScores) =>
        (_topK ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<int>, ArrayView<float>>(TopKKernel))
        (rows, scores, columns, k, topColumns, topScores);

    public void TargetRanks(ArrayView<float> scores, int rows, int columns, ArrayView<int> targetColumns, ArrayView<int> ranks) =>
        (_targetRanks ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<int>>(TargetRanksKernel))
        (rows, scores, columns, targetColumns, ranks);

    // scores is [rows, columns]; topColumns and topScores are [rows, k], kept sorted by descending score (ties:
    // lower column first) by insertion. NaN scores never enter the list.
    private static void TopKKernel(Index1D r, ArrayView<float> scores, int columns, int k, ArrayView<int> topColumns, ArrayView<float> topScores)
    {
        int rowStart = r * columns;
        int outStart = r * k;
        int filled = 0;
        for (int c = 0; c < columns; c++)
        {
            float s = scores[rowStart + c];
            if (float.IsNaN(s) || !(filled < k || s > topScores[outStart + k - 1]))
            {
                continue;
            }

            int position = filled < k ? filled : k - 1;
            while (position > 0 && topScores[outStart + position - 1] < s)
            {
                topScores[outStart + position] = topScores[outStart + position - 1];
                topColumns[outStart + position] = topColumns[outStart + position - 1];
                position--;
            }

            topScores[outStart + position] = s;
            topColumns[outStart + position] = c;
            if (filled < k)
            {
                filled++;
            }
        }

        for (int position = filled; position < k; position++)
        {
            topScores[outStart + position] = float.NegativeInfinity;
            topColumns[outStart + position] = -1;
        }
    }

    // scores is [rows, columns], targetColumns and ranks are [rows]: rank = number of other columns scoring >= the
    // target (ties count against the target, as in the NCF authors' evaluation; a NaN candidate never counts, and a
    // NaN target ranks last, as Evaluator.Rank); -1 for an out-of-range target.
    private static void TargetRanksKernel(Index1D r, ArrayView<float> scores, int columns, ArrayView<int> targetColumns, ArrayView<int> ranks)
    {
        int target = targetColumns[r];
        if ((uint)target >= (uint)columns)
        {
            ranks[r] = -1;
            return;
        }

        int rowStart = r * columns;
        float targetScore = scores[rowStart + target];
        if (float.IsNaN(targetScore))
        {
            ranks[r] = columns - 1;
            return;
        }

        int rank = 0;
        for (int c = 0; c < columns; c++)
        {
            // NaN never counts; explicit, since OpenCL (PoCL) evaluated `NaN >= x` as true here.
            float score = scores[rowStart + c];
            if (c != target && !float.IsNaN(score) && score >= targetScore)
            {
                rank++;
            }
        }

        ranks[r] = rank;
    }
}
