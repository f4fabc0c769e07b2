using Ncf.Backends;
using Ncf.Randomness;

namespace Ncf.Models;

/// <summary>
/// Settings of a fold-in (<see cref="NcfRecommender.RecommendForHistory"/>): a user the model was not trained on gets
/// embeddings of their own, fitted to the items they interacted with while everything the model learnt stays fixed.
/// </summary>
public sealed record FoldInOptions
{
    /// <summary>Full-batch Adam steps on the new user's embeddings. Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Adam's learning rate. Default 0.05: a few hundred parameters fitted from scratch, not a table shared by
    /// thousands of rows, take larger steps than training's 0.001.</summary>
    public float LearningRate { get; init; } = 0.05f;

    /// <summary>Negatives drawn per history item at every step, uniformly from the items outside the history. Default 4.</summary>
    public int Negatives { get; init; } = 4;

    /// <summary>L2 penalty on the new user's embeddings (added to the mean loss as <c>L2·‖e‖²/2</c>): it keeps a
    /// short history from pushing them far from where trained users sit. Default 1e-4.</summary>
    public float L2 { get; init; } = 1e-4f;

    /// <summary>Seed of the embeddings' start and of the negatives. Default 42.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Throws <see cref="NcfException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Steps < 1 || Steps > 100_000)
        {
            throw new NcfException($"Fold-in steps must be between 1 and 100,000; got {Steps}.");
        }

        if (!(LearningRate > 0) || !float.IsFinite(LearningRate))
        {
            throw new NcfException($"Fold-in learning rate must be a positive number; got {LearningRate}.");
        }

        if (Negatives < 0 || Negatives > 1_000)
        {
            throw new NcfException($"Fold-in negatives must be between 0 and 1,000; got {Negatives}.");
        }

        if (!(L2 >= 0) || !float.IsFinite(L2))
        {
            throw new NcfException($"Fold-in L2 must be 0 or a positive number; got {L2}.");
        }
    }
}

/// <summary>
/// Fits a new user's embeddings against a trained model whose other parameters stay fixed: a one-user copy of the
/// model (the item tables, the tower and the output layer copied, the user rows started as training starts them,
/// N(0, 0.01²)) is trained on the user's history as positives and fresh uniform negatives at every step, by full-batch
/// Adam on the user rows alone. Shape: GMF has one user row of f, MLP one of the tower's embedding width, NeuMF both.
/// </summary>
internal static class UserFoldIn
{
    /// <summary>A new one-user copy of <paramref name="trained"/> fitted to <paramref name="history"/> (user index 0), and
    /// the mean loss of each step (before the L2 term).</summary>
    public static NcfModel Fit(NcfModel trained, ReadOnlySpan<int> history, FoldInOptions options, out double[] losses)
    {
        var copy = CreateCopy(trained);
        try
        {
            losses = FitInto(copy, history, options);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A one-user model holding <paramref name="trained"/>'s item tables, tower and output layer; its user rows are set by
    /// <see cref="FitInto"/>, which only reads the rest, so one copy serves any number of fold-ins.
    /// </summary>
    public static NcfModel CreateCopy(NcfModel trained)
    {
        var copy = new NcfModel(trained.Backend, 1, trained.ItemCount, trained.Options);
        try
        {
            // Through a bounded host buffer: a large catalogue's item tables are hundreds of MB.
            var chunk = new float[Math.Min(1 << 18, copy.Parameters.Layout.Length)];
            foreach (var slice in copy.Parameters.Layout.Slices.Where(slice => slice.RowIds != Tensors.IdSpace.User))
            {
                int from = trained.Parameters.Layout[slice.Name].Offset;
                for (int done = 0; done < slice.Length; done += chunk.Length)
                {
                    var part = chunk.AsSpan(0, Math.Min(chunk.Length, slice.Length - done));
                    trained.Parameters.Values.Read(from + done, part);
                    copy.Parameters.Values.Write(slice.Offset + done, part);
                }
            }

            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Fits the user rows of <paramref name="copy"/> (from <see cref="CreateCopy"/>) to <paramref name="history"/>,
    /// from their seeded start: nothing of an earlier fit carries over. Returns the mean loss of each step.</summary>
    public static double[] FitInto(NcfModel copy, ReadOnlySpan<int> history, FoldInOptions options)
    {
        options.Validate();
        int itemCount = copy.ItemCount;
        int[] positives = history.ToArray().Distinct().Order().ToArray();
        if (positives.Length == 0)
        {
            throw new NcfException("A fold-in needs at least one item the user interacted with.");
        }

        if (positives.Length + (options.Negatives > 0 ? 1 : 0) > itemCount)
        {
            throw new NcfException($"The history holds {positives.Length} of the model's {itemCount} items, which leaves no item to draw negatives from.");
        }

        var rng = new Rng(options.Seed, stream: 0x466F6C64496EUL); // "FoldIn": its own stream, apart from training's draws
        var userSlices = copy.Parameters.Layout.Slices.Where(slice => slice.RowIds == Tensors.IdSpace.User).ToList();
        var values = new float[userSlices.Count][];
        for (int s = 0; s < userSlices.Count; s++)
        {
            values[s] = new float[userSlices[s].Length];
            for (int n = 0; n < values[s].Length; n++)
            {
                values[s][n] = (float)(0.01 * rng.NextGaussian());
            }

            copy.Parameters.Values.Write(userSlices[s].Offset, values[s]);
        }

        // Only the user rows' gradients are read, and each step clears just those; the rest of the buffer (the item
        // tables' share is most of it) accumulates unread, cleared here so that it holds one fit's sums at most.
        copy.ZeroGradients();
        return Train(copy, positives, userSlices, values, options, rng);
    }

    /// <summary>Adam on the user rows, whose current <paramref name="values"/> (one array per slice) it updates.</summary>
    private static double[] Train(NcfModel model, int[] positives, List<Tensors.ParameterSlice> userSlices, float[][] values, FoldInOptions options, Rng rng)
    {
        int h = positives.Length, n = h * (1 + options.Negatives), itemCount = model.ItemCount;
        var users = new int[n];
        var items = new int[n];
        var labels = new float[n];
        positives.CopyTo(items, 0);
        labels.AsSpan(0, h).Fill(1f);
        var logits = new float[n];
        var dLogits = new float[n];
        // The items outside the history, to draw negatives from directly: rejection sampling would take
        // itemCount/(itemCount - h) draws a negative, minutes (under the recommender's lock) for a history that covers
        // nearly every item.
        int[] free = [.. Enumerable.Range(0, itemCount).Where(item => Array.BinarySearch(positives, item) < 0)];

        // Adam over the user rows only, on the host: they are a few hundred floats.
        var gradients = userSlices.Select(s => new float[s.Length]).ToArray();
        var m = userSlices.Select(s => new float[s.Length]).ToArray();
        var v = userSlices.Select(s => new float[s.Length]).ToArray();

        const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
        var losses = new double[options.Steps];
        for (int step = 1; step <= options.Steps; step++)
        {
            // Fresh negatives each step, as training redraws them each epoch: uniform over the items outside the history.
            for (int j = h; j < n; j++)
            {
                items[j] = free[rng.NextInt(free.Length)];
            }

            var forward = model.Forward(users, items);
            forward.Buffer.Read(forward.Offset, logits);
            double loss = 0;
            for (int j = 0; j < n; j++)
            {
                // Sigmoid cross-entropy and its gradient, from the logit (stable for either sign).
                double x = logits[j], y = labels[j];
                loss += Math.Max(x, 0) - x * y + Math.Log(1 + Math.Exp(-Math.Abs(x)));
                dLogits[j] = (float)((1 / (1 + Math.Exp(-x)) - y) / n);
            }

            losses[step - 1] = loss / n;
            var dView = model.LogitGradients(n);
            dView.Write(dLogits);
            foreach (var slice in userSlices)
            {
                model.Backend.Fill(model.Parameters.Gradient(slice), 0f);
            }

            model.Backward(dView, n);
            double correction1 = 1 - Math.Pow(Beta1, step), correction2 = 1 - Math.Pow(Beta2, step);
            for (int s = 0; s < userSlices.Count; s++)
            {
                model.Parameters.Gradients.Read(userSlices[s].Offset, gradients[s]);
                var (p, g, ms, vs) = (values[s], gradients[s], m[s], v[s]);
                for (int k = 0; k < p.Length; k++)
                {
                    double grad = g[k] + options.L2 * p[k];
                    ms[k] = (float)(Beta1 * ms[k] + (1 - Beta1) * grad);
                    vs[k] = (float)(Beta2 * vs[k] + (1 - Beta2) * grad * grad);
                    p[k] -= (float)(options.LearningRate * (ms[k] / correction1) / (Math.Sqrt(vs[k] / correction2) + Epsilon));
                }

                model.Parameters.Values.Write(userSlices[s].Offset, p);
            }

            if (!double.IsFinite(losses[step - 1]))
            {
                throw new NcfException($"The fold-in diverged at step {step} (loss {losses[step - 1]}); lower its learning rate.");
            }
        }

        return losses;
    }
}
