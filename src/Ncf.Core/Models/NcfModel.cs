using Ncf.Backends;
using Ncf.Layers;
using Ncf.Randomness;
using Ncf.Tensors;

namespace Ncf.Models;

/// <summary>
/// GMF, MLP or NeuMF (He et al. 2017) over one flat parameter buffer on one backend.
/// </summary>
/// <remarks>
/// <para>Shapes for a batch of n pairs, factor f, L layers, MLP embedding width e = f·2^(L-1):</para>
/// <code>
/// GMF branch: gmf.user[users, f], gmf.item[items, f] → p_u ⊙ q_i              [n, f]
/// MLP branch: mlp.user[users, e], mlp.item[items, e] → concat                  [n, 2e]
///             mlp.k: Dense(2e/2^k → 2e/2^(k+1)) + ReLU, k = 0..L-1              → [n, f]
/// Head:       out: Dense(h → 1) on the GMF vector, the MLP output, or both concatenated (h = f, f or 2f)
/// </code>
/// <para>Initialisation (as the reference implementations): embeddings N(0, 0.01²); tower weights Glorot
/// (Xavier) uniform, <c>U(±sqrt(6/(in+out)))</c>; output weights Kaiming uniform with gain 1,
/// <c>U(±sqrt(3/in))</c>; biases 0.</para>
/// <para>The forward pass returns logits; probabilities are <c>σ(logit)</c>. Ranking uses logits, which do not
/// saturate to ties the way float probabilities near 1 do.</para>
/// </remarks>
public sealed class NcfModel : IFullCatalogueScorer, IDisposable
{
    private readonly Embedding? _gmfUser, _gmfItem, _mlpUser, _mlpItem;
    private readonly Dense[] _tower;
    private readonly Dense _output;
    private readonly ElementwiseProduct _product;
    private readonly Concat _concat;
    private readonly Relu _relu;
    private Workspace? _workspace;
    private FusedCpuScorer? _fusedScorer;
    private View<int> _lastUsers, _lastItems;

    /// <summary>Creates a model with zero parameters; call <see cref="Initialize"/> or load parameters (an
    /// <see cref="Training.NcfTrainer"/> initialises an all-zero model itself, with its options' seed).</summary>
    public NcfModel(IBackend backend, int userCount, int itemCount, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (userCount < 1 || itemCount < 1)
        {
            throw new NcfException($"A model needs at least one user and one item; got {userCount} users and {itemCount} items.");
        }

        Backend = backend;
        Options = options;
        UserCount = userCount;
        ItemCount = itemCount;
        int f = options.Factors;
        var layout = new ParameterLayout();
        ParameterSlice? gmfUser = null, gmfItem = null, mlpUser = null, mlpItem = null;
        if (HasGmf)
        {
            gmfUser = layout.Add("gmf.user", ParameterRole.Embedding, userCount, f, IdSpace.User);
            gmfItem = layout.Add("gmf.item", ParameterRole.Embedding, itemCount, f, IdSpace.Item);
        }

        var towerSlices = new List<(ParameterSlice Weight, ParameterSlice Bias)>();
        if (HasMlp)
        {
            int e = options.MlpEmbeddingDim;
            mlpUser = layout.Add("mlp.user", ParameterRole.Embedding, userCount, e, IdSpace.User);
            mlpItem = layout.Add("mlp.item", ParameterRole.Embedding, itemCount, e, IdSpace.Item);
            for (int k = 0, width = 2 * e; k < options.Layers; k++, width /= 2)
            {
                towerSlices.Add((layout.Add($"mlp.{k}.weight", ParameterRole.Weight, width / 2, width),
                                 layout.Add($"mlp.{k}.bias", ParameterRole.Bias, width / 2, 1)));
            }
        }

        HeadWidth = options.Kind == ModelKind.NeuMF ? 2 * f : f;
        var outWeight = layout.Add("out.weight", ParameterRole.Weight, 1, HeadWidth);
        var outBias = layout.Add("out.bias", ParameterRole.Bias, 1, 1);

        Parameters = new ParameterSet(backend, layout);
        if (HasGmf)
        {
            _gmfUser = new Embedding(Parameters, gmfUser!);
            _gmfItem = new Embedding(Parameters, gmfItem!);
        }

        if (HasMlp)
        {
            _mlpUser = new Embedding(Parameters, mlpUser!);
            _mlpItem = new Embedding(Parameters, mlpItem!);
        }

        _tower = towerSlices.Select(s => new Dense(Parameters, s.Weight, s.Bias)).ToArray();
        _output = new Dense(Parameters, outWeight, outBias);
        _product = new ElementwiseProduct(backend);
        _concat = new Concat(backend);
        _relu = new Relu(backend);
    }

    /// <summary>
    /// The number of parameters (floats) a model of this shape holds, without creating it: its parameters take 4 bytes
    /// each, and training keeps as many gradients and, with Adam, twice as many moments beside them.
    /// </summary>
    public static long ParameterCount(int userCount, int itemCount, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        long rows = (long)Math.Max(userCount, 0) + Math.Max(itemCount, 0), count = 0;
        if (options.Kind != ModelKind.Mlp)
        {
            count += rows * options.Factors;
        }

        if (options.Kind != ModelKind.Gmf)
        {
            int e = options.MlpEmbeddingDim;
            count += rows * e;
            for (long k = 0, width = 2L * e; k < options.Layers; k++, width /= 2)
            {
                count += width / 2 * width + width / 2;
            }
        }

        return count + (options.Kind == ModelKind.NeuMF ? 2 * options.Factors : options.Factors) + 1;
    }

    /// <summary>The backend running the model.</summary>
    public IBackend Backend { get; }

    /// <summary>The model's shape.</summary>
    public ModelOptions Options { get; }

    /// <summary>Which model.</summary>
    public ModelKind Kind => Options.Kind;

    /// <inheritdoc />
    public int UserCount { get; }

    /// <inheritdoc />
    public int ItemCount { get; }

    /// <summary>Parameters and gradients, one flat buffer each with named slices.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Width of the output unit's input (f for GMF and MLP, 2f for NeuMF).</summary>
    public int HeadWidth { get; }

    private bool HasGmf => Options.Kind != ModelKind.Mlp;

    private bool HasMlp => Options.Kind != ModelKind.Gmf;

    /// <summary>Initialises every parameter from <paramref name="seed"/> (see the class remarks).</summary>
    public void Initialize(ulong seed)
    {
        var values = new float[Parameters.Layout.Length];
        var rng = new Rng(seed, 0x1A17);
        foreach (var slice in Parameters.Layout.Slices)
        {
            var span = values.AsSpan(slice.Offset, slice.Length);
            switch (slice.Role)
            {
                case ParameterRole.Embedding:
                    for (int i = 0; i < span.Length; i++)
                    {
                        span[i] = (float)(0.01 * rng.NextGaussian());
                    }

                    break;
                case ParameterRole.Weight:
                    double bound = slice.Name == "out.weight"
                        ? Math.Sqrt(3.0 / slice.Columns)
                        : Math.Sqrt(6.0 / (slice.Rows + slice.Columns));
                    for (int i = 0; i < span.Length; i++)
                    {
                        span[i] = (float)((2 * rng.NextDouble() - 1) * bound);
                    }

                    break;
                default:
                    span.Clear();
                    break;
            }
        }

        Parameters.Load(values);
    }

    /// <summary>
    /// Makes sure activations for <paramref name="rows"/> pairs are allocated. Allocation happens only when the
    /// capacity grows, so a training loop with a fixed batch size allocates nothing per step.
    /// </summary>
    public void Reserve(int rows)
    {
        if (_workspace is null || _workspace.Capacity < rows)
        {
            _workspace?.Dispose();
            _workspace = new Workspace(this, Math.Max(rows, _workspace?.Capacity ?? 0));
        }
    }

    /// <summary>Device buffers for the ids of the current batch, <c>[capacity]</c> each; write ids here, then call <see cref="Forward(int)"/>.</summary>
    public (View<int> Users, View<int> Items) InputIds(int rows)
    {
        Reserve(rows);
        return (_workspace!.Users.Take(rows), _workspace.Items.Take(rows));
    }

    /// <summary>Forward pass for host-side ids; returns the logits <c>[n]</c> (a view into the model's workspace).</summary>
    public View<float> Forward(ReadOnlySpan<int> users, ReadOnlySpan<int> items)
    {
        if (users.Length != items.Length)
        {
            throw new ArgumentException("users and items must have the same length.", nameof(items));
        }

        var (u, i) = InputIds(users.Length);
        u.Write(users);
        i.Write(items);
        return Forward(users.Length);
    }

    /// <summary>Forward pass over the first <paramref name="rows"/> ids already in <see cref="InputIds"/>; returns logits <c>[rows]</c>.</summary>
    public View<float> Forward(int rows)
    {
        Reserve(rows);
        return Forward(_workspace!.Users.Take(rows), _workspace.Items.Take(rows), rows);
    }

    /// <summary>
    /// Forward pass over ids already on the backend (e.g. a device-resident batch); returns logits <c>[rows]</c>.
    /// The ids must stay unchanged until <see cref="Backward"/>.
    /// </summary>
    public View<float> Forward(View<int> users, View<int> items, int rows)
    {
        if (users.Length < rows || items.Length < rows)
        {
            throw new ArgumentException($"users and items need {rows} ids.");
        }

        Reserve(rows);
        var w = _workspace!;
        users = users.Take(rows);
        items = items.Take(rows);
        _lastUsers = users;
        _lastItems = items;
        int f = Options.Factors;
        if (HasGmf)
        {
            _gmfUser!.Forward(users, w.GmfUser.Take(rows * f));
            _gmfItem!.Forward(items, w.GmfItem.Take(rows * f));
            _product.Forward(w.GmfUser.Take(rows * f), w.GmfItem.Take(rows * f), w.GmfVector.Take(rows * f));
        }

        if (HasMlp)
        {
            int e = Options.MlpEmbeddingDim;
            _mlpUser!.Forward(users, w.MlpUser.Take(rows * e));
            _mlpItem!.Forward(items, w.MlpItem.Take(rows * e));
            _concat.Forward(w.MlpUser, e, w.TowerInput[0], 2 * e, 0, rows);
            _concat.Forward(w.MlpItem, e, w.TowerInput[0], 2 * e, e, rows);
        }

        return ForwardFromTowerLayer(w, 0, rows);
    }

    /// <summary>
    /// The rest of a forward pass once the GMF vector and the input of tower layer <paramref name="firstLayer"/> are in
    /// the workspace: tower layers from there on (Dense + ReLU), the head's concatenation and the output unit.
    /// </summary>
    private View<float> ForwardFromTowerLayer(Workspace w, int firstLayer, int rows)
    {
        for (int k = firstLayer; k < _tower.Length; k++)
        {
            var y = w.TowerOutput[k].Take(rows * _tower[k].Out);
            _tower[k].Forward(w.TowerInput[k], y, rows);
            _relu.Forward(y, y);
        }

        int f = Options.Factors;
        if (Options.Kind == ModelKind.NeuMF)
        {
            _concat.Forward(w.GmfVector, f, w.Head, HeadWidth, 0, rows);
            _concat.Forward(w.TowerOutput[^1], f, w.Head, HeadWidth, f, rows);
        }

        var logits = w.Logits.Take(rows);
        _output.Forward(w.Head, logits, rows);
        return logits;
    }

    /// <summary>The gradient buffer for the logits of the last forward pass, <c>[capacity]</c>.</summary>
    public View<float> LogitGradients(int rows)
    {
        Reserve(rows);
        return _workspace!.DLogits.Take(rows);
    }

    /// <summary>
    /// Backward pass for the last <see cref="Forward(int)"/> of <paramref name="rows"/> pairs, given
    /// <c>dLoss/dLogits</c> in <paramref name="dLogits"/>; parameter gradients accumulate.
    /// </summary>
    public void Backward(View<float> dLogits, int rows)
    {
        var w = _workspace ?? throw new InvalidOperationException("Backward needs a Forward first.");
        int f = Options.Factors;
        var users = _lastUsers.Take(rows);
        var items = _lastItems.Take(rows);
        _output.Backward(w.Head, dLogits, w.DHead.Take(rows * HeadWidth), rows);
        if (Options.Kind == ModelKind.NeuMF)
        {
            _concat.Backward(w.DHead, HeadWidth, 0, w.DGmfVector.Take(rows * f), f, rows);
            _concat.Backward(w.DHead, HeadWidth, f, w.DTowerOutput[^1].Take(rows * f), f, rows);
        }

        if (HasMlp)
        {
            int e = Options.MlpEmbeddingDim;
            for (int k = _tower.Length - 1; k >= 0; k--)
            {
                var y = w.TowerOutput[k].Take(rows * _tower[k].Out);
                var dy = w.DTowerOutput[k].Take(rows * _tower[k].Out);
                _relu.Backward(y, dy, dy);
                _tower[k].Backward(w.TowerInput[k], dy, w.DTowerInput[k].Take(rows * _tower[k].In), rows);
            }

            _concat.Backward(w.DTowerInput[0], 2 * e, 0, w.DMlpUser.Take(rows * e), e, rows);
            _concat.Backward(w.DTowerInput[0], 2 * e, e, w.DMlpItem.Take(rows * e), e, rows);
            _mlpUser!.Backward(users, w.DMlpUser.Take(rows * e));
            _mlpItem!.Backward(items, w.DMlpItem.Take(rows * e));
        }

        if (HasGmf)
        {
            _product.Backward(w.GmfUser.Take(rows * f), w.GmfItem.Take(rows * f), w.DGmfVector.Take(rows * f),
                w.DGmfUser.Take(rows * f), w.DGmfItem.Take(rows * f));
            _gmfUser!.Backward(users, w.DGmfUser.Take(rows * f));
            _gmfItem!.Backward(items, w.DGmfItem.Take(rows * f));
        }
    }

    /// <summary>Sets all parameter gradients to zero.</summary>
    public void ZeroGradients() => Parameters.ZeroGradients();

    /// <summary>
    /// Scores pairs (logits). On the CPU backend the first layer is split into user and item halves as in
    /// <see cref="ScoreAllItems(ReadOnlySpan{int}, Span{float})"/> (each user's half computed once per run of equal
    /// users, each item's once per call), which equals <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int})"/> up to
    /// the rounding of that reordered sum; elsewhere it runs the forward pass in chunks of the workspace's capacity.
    /// </summary>
    public void Score(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        if (users.Length != items.Length || scores.Length < users.Length)
        {
            throw new ArgumentException("users, items and scores must have matching lengths.");
        }

        if (Backend is Backends.Cpu.CpuBackend { Tier: Backends.Cpu.CpuKernelTier.Simd } cpu)
        {
            // The fused scorer indexes the tables directly: check every id first, as the gather kernels would.
            for (int n = 0; n < users.Length; n++)
            {
                if ((uint)users[n] >= (uint)UserCount || (uint)items[n] >= (uint)ItemCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(users), $"Pair {n} ({users[n]}, {items[n]}) is outside the model's {UserCount} users and {ItemCount} items.");
                }
            }

            (_fusedScorer ??= new FusedCpuScorer(cpu, this)).ScorePairs(users, items, scores[..users.Length]);
            return;
        }

        Reserve(Math.Min(users.Length, 4096));
        int chunk = _workspace!.Capacity;
        for (int start = 0; start < users.Length; start += chunk)
        {
            int n = Math.Min(chunk, users.Length - start);
            var logits = Forward(users.Slice(start, n), items.Slice(start, n));
            logits.Buffer.Read(logits.Offset, scores.Slice(start, n));
        }
    }

    /// <summary>Scores every item for one user into <paramref name="scores"/> <c>[ItemCount]</c>.</summary>
    public void ScoreAllItems(int user, Span<float> scores) => ScoreAllItems([user], scores);

    /// <summary>
    /// Scores every item for each of <paramref name="users"/>: <c>scores[u·ItemCount + i]</c>. Faster than pair
    /// scoring: the first tower layer is split as <c>W·[p_u; q_i] + b = W_user·p_u + (W_item·q_i + b)</c>, the item half
    /// is computed once per call for the whole catalogue and the user half once per user, so each pair costs an
    /// addition there instead of <c>2e × h</c> multiply-adds. Equal to <see cref="Score"/> up to float rounding of the
    /// reordered sum. On the CPU backend each (user, block of 256 items) then runs the whole rest of the model in one
    /// pass on one core, blocks spread over all cores.
    /// </summary>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        int itemCount = ItemCount;
        if (scores.Length < (long)users.Length * itemCount)
        {
            throw new ArgumentException($"scores needs {users.Length} × {itemCount} elements.", nameof(scores));
        }

        foreach (int user in users)
        {
            if ((uint)user >= (uint)UserCount)
            {
                throw new ArgumentOutOfRangeException(nameof(users), $"User {user} is outside the model's {UserCount} users.");
            }
        }

        if (users.IsEmpty)
        {
            return;
        }

        if (Backend is Backends.Cpu.CpuBackend { Tier: Backends.Cpu.CpuKernelTier.Simd } cpu)
        {
            (_fusedScorer ??= new FusedCpuScorer(cpu, this)).Score(users, scores);
            return;
        }

        Reserve(itemCount);
        var w = _workspace!;
        var backend = Backend;
        int f = Options.Factors;
        var hostIds = new int[itemCount];
        using var userIds = backend.AllocateInt(itemCount);
        using var itemIds = backend.AllocateInt(itemCount);
        for (int i = 0; i < itemCount; i++)
        {
            hostIds[i] = i;
        }

        itemIds.Write(0, hostIds);
        using var zeroIds = backend.AllocateInt(itemCount);

        // MLP: the item half of the first layer for the whole catalogue, bias included: itemPart [items, h].
        int e = HasMlp ? Options.MlpEmbeddingDim : 0, h = HasMlp ? _tower[0].Out : 0;
        using var itemPart = backend.AllocateFloat(Math.Max(1, itemCount * h));
        using var userWeight = backend.AllocateFloat(Math.Max(1, h * e));
        using var itemWeight = backend.AllocateFloat(Math.Max(1, h * e));
        using var userPart = backend.AllocateFloat(Math.Max(1, h));
        using var zeroBias = backend.AllocateFloat(Math.Max(1, h));
        if (HasMlp)
        {
            var weight = Parameters.Value(_tower[0].Weight); // [h, 2e]: user columns first, then item columns
            backend.CopyColumns(weight, 2 * e, userWeight.All, e, h, e);
            backend.CopyColumns(weight.Slice(e, weight.Length - e), 2 * e, itemWeight.All, e, h, e);
            backend.DenseForward(Parameters.Value(_mlpItem!.Table), itemWeight.All, Parameters.Value(_tower[0].Bias), itemPart.All, itemCount, e, h);
        }

        for (int u = 0; u < users.Length; u++)
        {
            Array.Fill(hostIds, users[u]);
            userIds.Write(0, hostIds);
            if (HasGmf)
            {
                var gmfUser = w.GmfUser.Take(itemCount * f);
                _gmfUser!.Forward(userIds.All, gmfUser);
                _product.Forward(gmfUser, Parameters.Value(_gmfItem!.Table), w.GmfVector.Take(itemCount * f));
            }

            if (HasMlp)
            {
                _mlpUser!.Forward(userIds.Slice(0, 1), w.MlpUser.Take(e));
                backend.DenseForward(w.MlpUser.Take(e), userWeight.All, zeroBias.All, userPart.All, 1, e, h);

                // Pre-activation of the first layer: the user half replicated to every item (a gather of row 0), plus the
                // item half (a scatter-add with identity ids, i.e. an element-wise add).
                var first = w.TowerOutput[0].Take(itemCount * h);
                backend.Gather(userPart.All, h, zeroIds.All, first);
                backend.ScatterAdd(itemPart.Slice(0, itemCount * h), itemIds.All, h, first);
                _relu.Forward(first, first);
            }

            var logits = ForwardFromTowerLayer(w, 1, itemCount);
            logits.Buffer.Read(logits.Offset, scores.Slice(u * itemCount, itemCount));
        }
    }

    /// <summary>
    /// NeuMF initialised from a trained GMF and a trained MLP of the same factor (paper §3.4.1): embeddings and
    /// tower copied, output weights <c>[α·h_GMF, (1-α)·h_MLP]</c>, bias <c>α·b_GMF + (1-α)·b_MLP</c>.
    /// </summary>
    public static NcfModel FromPretrained(NcfModel gmf, NcfModel mlp, float alpha = 0.5f)
    {
        if (gmf.Kind != ModelKind.Gmf || mlp.Kind != ModelKind.Mlp)
        {
            throw new NcfException("Pre-training needs a GMF model and an MLP model.");
        }

        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new NcfException($"The pre-training trade-off alpha must lie in [0, 1]; got {alpha}.");
        }

        if (gmf.Options.Factors != mlp.Options.Factors || gmf.UserCount != mlp.UserCount || gmf.ItemCount != mlp.ItemCount)
        {
            throw new NcfException("The GMF and MLP models must have the same factor, users and items.");
        }

        var model = new NcfModel(gmf.Backend, gmf.UserCount, gmf.ItemCount,
            new ModelOptions { Kind = ModelKind.NeuMF, Factors = gmf.Options.Factors, Layers = mlp.Options.Layers });
        var target = new float[model.Parameters.Layout.Length];
        var gmfValues = gmf.Parameters.ToArray();
        var mlpValues = mlp.Parameters.ToArray();
        foreach (var (source, values) in new[] { (gmf, gmfValues), (mlp, mlpValues) })
        {
            foreach (var slice in source.Parameters.Layout.Slices.Where(s => !s.Name.StartsWith("out.", StringComparison.Ordinal)))
            {
                values.AsSpan(slice.Offset, slice.Length).CopyTo(target.AsSpan(model.Parameters.Layout[slice.Name].Offset));
            }
        }

        int f = gmf.Options.Factors;
        var outWeight = model.Parameters.Layout["out.weight"];
        var gmfOut = gmf.Parameters.Layout["out.weight"];
        var mlpOut = mlp.Parameters.Layout["out.weight"];
        for (int k = 0; k < f; k++)
        {
            target[outWeight.Offset + k] = alpha * gmfValues[gmfOut.Offset + k];
            target[outWeight.Offset + f + k] = (1 - alpha) * mlpValues[mlpOut.Offset + k];
        }

        target[model.Parameters.Layout["out.bias"].Offset] =
            alpha * gmfValues[gmf.Parameters.Layout["out.bias"].Offset] + (1 - alpha) * mlpValues[mlp.Parameters.Layout["out.bias"].Offset];
        model.Parameters.Load(target);
        return model;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _workspace?.Dispose();
        Parameters.Dispose();
    }

    /// <summary>Activations and their gradients for up to <see cref="Capacity"/> rows.</summary>
    private sealed class Workspace : IDisposable
    {
        private readonly List<IDisposable> _owned = [];

        public Workspace(NcfModel model, int capacity)
        {
            Capacity = capacity;
            var backend = model.Backend;
            int f = model.Options.Factors;
            Users = Own(backend.AllocateInt(capacity)).All;
            Items = Own(backend.AllocateInt(capacity)).All;
            Logits = Float(1);
            DLogits = Float(1);
            if (model.HasGmf)
            {
                GmfUser = Float(f);
                GmfItem = Float(f);
                GmfVector = Float(f);
                DGmfUser = Float(f);
                DGmfItem = Float(f);
                DGmfVector = Float(f);
            }

            int layers = model._tower.Length;
            TowerInput = new View<float>[layers];
            TowerOutput = new View<float>[layers];
            DTowerInput = new View<float>[layers];
            DTowerOutput = new View<float>[layers];
            if (model.HasMlp)
            {
                int e = model.Options.MlpEmbeddingDim;
                MlpUser = Float(e);
                MlpItem = Float(e);
                DMlpUser = Float(e);
                DMlpItem = Float(e);
                for (int k = 0; k < layers; k++)
                {
                    TowerInput[k] = k == 0 ? Float(2 * e) : TowerOutput[k - 1];
                    DTowerInput[k] = k == 0 ? Float(2 * e) : DTowerOutput[k - 1];
                    TowerOutput[k] = Float(model._tower[k].Out);
                    DTowerOutput[k] = Float(model._tower[k].Out);
                }
            }

            // The head reads the GMF vector (GMF), the tower output (MLP) or a concatenation of both (NeuMF), and the
            // head's input gradient is where the branch gradients start.
            switch (model.Kind)
            {
                case ModelKind.Gmf:
                    Head = GmfVector;
                    DHead = DGmfVector;
                    break;
                case ModelKind.Mlp:
                    Head = TowerOutput[^1];
                    DHead = DTowerOutput[^1];
                    break;
                default:
                    Head = Float(2 * f);
                    DHead = Float(2 * f);
                    break;
            }

            View<float> Float(int width) => Own(backend.AllocateFloat(capacity * width)).All;
        }

        public int Capacity { get; }

        public View<int> Users { get; }

        public View<int> Items { get; }

        public View<float> Logits { get; }

        public View<float> DLogits { get; }

        public View<float> GmfUser { get; }

        public View<float> GmfItem { get; }

        public View<float> GmfVector { get; }

        public View<float> DGmfUser { get; }

        public View<float> DGmfItem { get; }

        public View<float> DGmfVector { get; }

        public View<float> MlpUser { get; }

        public View<float> MlpItem { get; }

        public View<float> DMlpUser { get; }

        public View<float> DMlpItem { get; }

        public View<float>[] TowerInput { get; }

        public View<float>[] TowerOutput { get; }

        public View<float>[] DTowerInput { get; }

        public View<float>[] DTowerOutput { get; }

        public View<float> Head { get; }

        public View<float> DHead { get; }

        public void Dispose()
        {
            foreach (var buffer in _owned)
            {
                buffer.Dispose();
            }
        }

        private T Own<T>(T buffer) where T : IDisposable
        {
            _owned.Add(buffer);
            return buffer;
        }
    }
}
