namespace Ncf.Data;

/// <summary>What a split keeps out of training for evaluation (<see cref="DataLoadOptions.HoldOut"/>).</summary>
public enum HoldOut
{
    /// <summary>Each user's latest interaction is a test case (the paper's leave-one-out); the default.</summary>
    Latest,

    /// <summary>
    /// Nothing: every interaction trains the model and there are no test or validation cases. For the model to serve,
    /// once the settings have been chosen on a split; for NCF files the test items join the training set.
    /// </summary>
    None,
}
