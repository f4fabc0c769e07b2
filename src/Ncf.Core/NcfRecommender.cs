using Ncf.Backends;
using Ncf.Data;
using Ncf.Evaluation;
using Ncf.IO;
using Ncf.Models;

namespace Ncf;

/// <summary>A recommended item in the user's own IDs.</summary>
public readonly record struct ItemRecommendation(string ItemId, int ItemIndex, float Score);

/// <summary>One user's recommendations, best first (<see cref="NcfRecommender.RecommendAll"/>).</summary>
public sealed record UserRecommendations(string UserId, IReadOnlyList<ItemRecommendation> Items);

/// <summary>
/// A trained model bundled with what serving needs: the external user and item IDs and each user's known items
/// (excluded from recommendations). This is what a model file holds. The recommender owns its model: disposing it
/// disposes the model, after which every call throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class NcfRecommender : IDisposable
{
    private bool _disposed;

    /// <summary>Bundles a model with its ID maps and known items.</summary>
    public NcfRecommender(NcfModel model, IdMap userIds, IdMap itemIds, UserItemIndex knownItems, string datasetName = "")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(userIds);
        ArgumentNullException.ThrowIfNull(itemIds);
        ArgumentNullException.ThrowIfNull(knownItems);
        ArgumentNullException.ThrowIfNull(datasetName);
        if (userIds.Count != model.UserCount || itemIds.Count != model.ItemCount || knownItems.UserCount != model.UserCount)
        {
            throw new ArgumentException("ID maps and known items must match the model's users and items.");
        }

        Model = model;
        UserIds = userIds;
        ItemIds = itemIds;
        KnownItems = knownItems;
        DatasetName = datasetName;
    }

    /// <summary>Bundles a model trained on <paramref name="data"/>.</summary>
    public NcfRecommender(NcfModel model, NcfDataset data)
        : this(model, (data ?? throw new ArgumentNullException(nameof(data))).UserIds, data.ItemIds, data.Known, data.Name)
    {
    }

    private readonly Lock _scoring = new();
    private NcfModel? _foldInCopy; // RecommendForHistory's one-user copy of the model, made at its first call

    /// <summary>The model.</summary>
    public NcfModel Model { get; }

    /// <summary>
    /// The seed of the data split the model was trained on (it fixes the sampled test negatives of a raw log), when
    /// known; null for models saved before model format version 2. <c>ncf evaluate</c> uses it by default.
    /// </summary>
    public ulong? DataSeed { get; init; }

    /// <summary>
    /// True when every interaction trained the model, held-out test items included (CLI <c>--holdout none</c>): its
    /// figures on a split of the same data would be inflated, so <c>ncf evaluate</c> refuses it. Kept from model
    /// format version 2 on; false for older files.
    /// </summary>
    public bool TrainedOnEverything { get; init; }

    /// <summary>
    /// <see cref="EvaluationSet.TargetsFingerprint"/> of the test cases held out when the model was trained (null
    /// when unknown: files before model format version 3, or nothing held out). <c>ncf evaluate</c> and pre-training
    /// refuse data whose test cases differ: another split of the same interactions, whose test items the model saw.
    /// </summary>
    public ulong? TestTargetsFingerprint { get; init; }

    /// <summary>The tie rule the training run evaluated with (<c>ncf evaluate</c>'s default, so that it reproduces the
    /// run's figures); pessimistic, the paper's, for files before model format version 3.</summary>
    public Evaluation.TieBreaking Ties { get; init; }

    /// <summary>External user IDs.</summary>
    public IdMap UserIds { get; }

    /// <summary>External item IDs.</summary>
    public IdMap ItemIds { get; }

    /// <summary>Each user's known items: every interaction of the data, held-out ones included (see <see cref="NcfDataset.Known"/>).</summary>
    public UserItemIndex KnownItems { get; }

    /// <summary>Name of the data the model was trained on.</summary>
    public string DatasetName { get; }

    /// <summary>Loads a model file (see <see cref="NcfModelFile"/>) onto <paramref name="backend"/>.</summary>
    public static NcfRecommender Load(string path, IBackend backend) => NcfModelFile.Load(path, backend);

    /// <summary>Saves to <paramref name="path"/> atomically.</summary>
    public void Save(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        NcfModelFile.Save(this, path);
    }

    /// <summary>
    /// The top <paramref name="k"/> items for the user with external ID <paramref name="userId"/>, best first, over
    /// all items or the given candidate item IDs, excluding items the user already has (unless
    /// <paramref name="includeKnown"/>). Safe to call from several threads (calls are serialised; each one already
    /// uses every core for a full-catalogue request).
    /// </summary>
    /// <remarks><paramref name="candidateItemIds"/> null means every item; an empty list means none, so the result is
    /// empty (a filter that leaves nothing, such as "in stock", must not fall back to the whole catalogue). A
    /// candidate named twice counts once.</remarks>
    public IReadOnlyList<ItemRecommendation> Recommend(string userId, int k = 10, IEnumerable<string>? candidateItemIds = null, bool includeKnown = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (!UserIds.TryGetIndex(userId, out int user))
        {
            throw new NcfException($"Unknown user '{userId}': the model knows {UserIds.Count} users.");
        }

        return Recommend(user, k, CandidateIndices(candidateItemIds), includeKnown);
    }

    /// <summary>
    /// The top <paramref name="k"/> items for a user the model was not trained on, from the items they interacted with:
    /// their embeddings are fitted to <paramref name="historyItemIds"/> while everything the model learnt stays fixed (a
    /// fold-in; <see cref="FoldInOptions"/>), then the catalogue, or the candidates, is scored for them, the history's
    /// items left out. The model is not changed: for users who arrive between trainings. The same history and options
    /// give the same result (on a device whose scatter-add uses atomics, ILGPU's CPU accelerator and CUDA, the user
    /// row's gradient is summed in a varying order, so scores can differ in their last bits). The first call makes a
    /// one-user copy of the model (its parameters and their gradients: twice the model's size), which later calls reuse;
    /// it goes with <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="NcfException">The history is empty or names an item the model does not know (the message names
    /// it), a candidate is unknown, an option is out of range, or the fit diverged.</exception>
    public IReadOnlyList<ItemRecommendation> RecommendForHistory(IEnumerable<string> historyItemIds, int k = 10,
        IEnumerable<string>? candidateItemIds = null, FoldInOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(historyItemIds);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        options ??= new FoldInOptions();
        options.Validate();
        int[] history = historyItemIds.Select(id => id is null
            ? throw new ArgumentException("The history holds a null item ID.", nameof(historyItemIds))
            : ItemIds.TryGetIndex(id, out int index)
            ? index
            : throw new NcfException($"Unknown item '{id}' in the history: the model knows {ItemIds.Count} items.")).ToArray();
        if (history.Length == 0)
        {
            throw new NcfException("A fold-in needs at least one item the user interacted with."); // also with no candidates
        }

        int[]? candidates = CandidateIndices(candidateItemIds);
        if (candidates is { Length: 0 })
        {
            return [];
        }

        Recommendation[] top;
        lock (_scoring)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The one-user copy (item tables, tower) is made at the first fold-in and kept: only its user rows change.
            _foldInCopy ??= UserFoldIn.CreateCopy(Model);
            var folded = _foldInCopy;
            UserFoldIn.FitInto(folded, history, options);
            var seen = history.Distinct().Order().ToArray();
            top = TopK.ForUser(folded, 0, k, UserItemIndex.FromSortedRows(1, ItemIds.Count, [0, seen.Length], seen, out _)!, candidates);
        }

        return InExternalIds(top);
    }

    /// <summary>
    /// The top <paramref name="k"/> items of every user, in the model's user order, as <see cref="Recommend(string, int,
    /// IEnumerable{string}?, bool)"/> gives them one by one: for batch serving (a recommendations table). Lazy: each
    /// user is scored when enumerated, so the caller can stream the results and stop early.
    /// </summary>
    /// <exception cref="NcfException">A candidate item ID is unknown (raised before any user is scored).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IEnumerable<UserRecommendations> RecommendAll(int k = 10, IEnumerable<string>? candidateItemIds = null, bool includeKnown = false,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        int[]? candidates = CandidateIndices(candidateItemIds);
        return Enumerate();

        IEnumerable<UserRecommendations> Enumerate()
        {
            if (candidates is not null)
            {
                for (int user = 0; user < UserIds.Count; user++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return new UserRecommendations(UserIds[user], Recommend(user, k, candidates, includeKnown));
                }

                yield break;
            }

            // Over the whole catalogue, users are scored in chunks: one scoring call per chunk shares the item half of
            // the first tower layer (per user it would cost as much as the rest of the model), with at most ~4 M
            // scores (16 MB) held at once.
            int chunk = Math.Clamp((1 << 22) / ItemIds.Count, 1, 256);
            var users = new int[chunk];
            for (int first = 0; first < UserIds.Count; first += chunk)
            {
                int count = Math.Min(chunk, UserIds.Count - first);
                for (int n = 0; n < count; n++)
                {
                    users[n] = first + n;
                }

                cancellationToken.ThrowIfCancellationRequested();
                Recommendation[][] tops;
                lock (_scoring)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    tops = TopK.ForUsers(Model, users.AsSpan(0, count), k, includeKnown ? null : KnownItems);
                }

                for (int n = 0; n < count; n++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return new UserRecommendations(UserIds[first + n], InExternalIds(tops[n]));
                }
            }
        }
    }

    // Null: the whole catalogue. A candidate named twice is one candidate (it would otherwise fill two places of the top K).
    private int[]? CandidateIndices(IEnumerable<string>? candidateItemIds) =>
        candidateItemIds?.Select(id => id is null
            ? throw new ArgumentException("The candidate list holds a null item ID.", nameof(candidateItemIds))
            : ItemIds.TryGetIndex(id, out int index)
            ? index
            : throw new NcfException($"Unknown item '{id}' in the candidate list.")).Distinct().ToArray();

    private ItemRecommendation[] Recommend(int user, int k, int[]? candidates, bool includeKnown)
    {
        if (candidates is { Length: 0 })
        {
            return [];
        }

        // The model scores through per-instance scratch buffers, so requests from several threads take turns here.
        Recommendation[] top;
        lock (_scoring)
        {
            ObjectDisposedException.ThrowIf(_disposed, this); // also for a lazy RecommendAll enumerated after Dispose
            top = TopK.ForUser(Model, user, k, includeKnown ? null : KnownItems, candidates);
        }

        return InExternalIds(top);
    }

    private ItemRecommendation[] InExternalIds(Recommendation[] top) =>
        top.Select(r => new ItemRecommendation(ItemIds[r.Item], r.Item, r.Score)).ToArray();

    /// <summary>Disposes the model; later calls throw <see cref="ObjectDisposedException"/>. Disposing twice is harmless.</summary>
    public void Dispose()
    {
        // Under the scoring lock: a call in progress on another thread finishes before the model is freed.
        lock (_scoring)
        {
            if (!_disposed)
            {
                _disposed = true;
                Model.Dispose();
                _foldInCopy?.Dispose();
            }
        }
    }
}
