namespace Ncf.Data;

/// <summary>
/// Leave-one-out evaluation cases: for case c, user <c>Users[c]</c>, held-out item <c>TargetItems[c]</c> and
/// the sampled negatives <c>Negatives[NegativeOffsets[c] .. NegativeOffsets[c+1])</c> it is ranked against
/// (99 in the paper's protocol; none when only full ranking is wanted).
/// </summary>
public sealed class EvaluationSet
{
    /// <summary>Creates the set; arrays are taken as they are (not copied).</summary>
    public EvaluationSet(int[] users, int[] targetItems, int[] negativeOffsets, int[] negatives)
    {
        if (users.Length != targetItems.Length || negativeOffsets.Length != users.Length + 1 || negativeOffsets[^1] != negatives.Length)
        {
            throw new ArgumentException("Evaluation arrays are inconsistent: users, targets, offsets (cases + 1) and negatives must agree.");
        }

        Users = users;
        TargetItems = targetItems;
        NegativeOffsets = negativeOffsets;
        Negatives = negatives;
    }

    /// <summary>Builds a set where every case has the same number of negatives, given as one flat array.</summary>
    public static EvaluationSet WithFixedNegatives(int[] users, int[] targetItems, int[] negatives, int negativesPerCase)
    {
        var offsets = new int[users.Length + 1];
        for (int c = 0; c <= users.Length; c++)
        {
            offsets[c] = c * negativesPerCase;
        }

        return new EvaluationSet(users, targetItems, offsets, negatives);
    }

    /// <summary>The user of each case.</summary>
    public int[] Users { get; }

    /// <summary>The held-out item of each case.</summary>
    public int[] TargetItems { get; }

    /// <summary>Offsets into <see cref="Negatives"/>, length <c>Count + 1</c>.</summary>
    public int[] NegativeOffsets { get; }

    /// <summary>All sampled negatives, concatenated.</summary>
    public int[] Negatives { get; }

    /// <summary>Number of cases.</summary>
    public int Count => Users.Length;

    /// <summary>
    /// A 64-bit fingerprint (FNV-1a) of the cases' (user, target item) pairs in order, negatives aside: two splits of
    /// the same interactions that hold out other items differ here, which a model file uses to refuse being scored
    /// on, or pre-training from, a split whose test items it trained on.
    /// </summary>
    public ulong TargetsFingerprint()
    {
        const ulong Prime = 1099511628211;
        ulong hash = 14695981039346656037;
        Span<byte> bytes = stackalloc byte[8];
        for (int c = 0; c < Users.Length; c++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes, Users[c]);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], TargetItems[c]);
            foreach (byte b in bytes)
            {
                hash = (hash ^ b) * Prime;
            }
        }

        return hash;
    }

    /// <summary>The negatives of case <paramref name="c"/>.</summary>
    public ReadOnlySpan<int> NegativesOf(int c) => Negatives.AsSpan(NegativeOffsets[c], NegativeOffsets[c + 1] - NegativeOffsets[c]);
}
