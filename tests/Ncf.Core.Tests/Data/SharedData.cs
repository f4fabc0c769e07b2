namespace Ncf.Core.Tests.Data;

/// <summary>
/// Finds the licensed data sets in <c>shared/data</c> (never copied into the repository): the folder named by the
/// NCF_SHARED_DATA environment variable, else the first <c>shared/data</c> found walking up from the test binaries.
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string?> Root = new(Locate);

    /// <summary>The shared data folder, or null when this machine has none.</summary>
    public static string? Folder => Root.Value;

    /// <summary>The path of <paramref name="relative"/> inside the shared data folder, or null when it is absent.</summary>
    public static string? Find(string relative)
    {
        if (Folder is null)
        {
            return null;
        }

        string path = Path.Combine(Folder, relative);
        return File.Exists(path) || Directory.Exists(path) ? path : null;
    }

    private static string? Locate()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("NCF_SHARED_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Directory.Exists(fromEnvironment) ? fromEnvironment : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A fact that is skipped, with a message saying why, when a shared data file or folder is absent.</summary>
internal sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath)
    {
        if (SharedData.Find(relativePath) is null)
        {
            Skip = $"skipped: shared data '{relativePath}' not found (set NCF_SHARED_DATA or place shared/data above the repository)";
        }
    }
}
