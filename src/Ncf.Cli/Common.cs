using System.Globalization;
using Ncf.Backends;
using Ncf.Backends.Cpu;
using Ncf.Data;
using Ncf.Models;

namespace Ncf.Cli;

/// <summary>Option handling shared by the commands: data, model shape, device.</summary>
internal static class Common
{
    public static readonly IReadOnlySet<string> Flags = new HashSet<string>
    {
        "json", "pretrain", "validation", "full-ranking", "include-known", "help",
    };

    public static NcfDataset LoadData(Arguments args, ulong seed)
    {
        string? path = args.String("data");
        string? format = args.String("format");
        bool validation = args.Flag("validation");
        if (path is null)
        {
            if (format is not null || validation)
            {
                throw new NcfException("--format and --validation need --data; the embedded synthetic data has its own split.");
            }

            return SyntheticData.Generate();
        }

        return DataFiles.Load(path, format, validation, seed);
    }

    public static ModelOptions ModelShape(Arguments args, ModelKind? fallbackKind = null) => new()
    {
        Kind = args.Choice("model", fallbackKind ?? ModelKind.NeuMF, ("gmf", ModelKind.Gmf), ("mlp", ModelKind.Mlp), ("neumf", ModelKind.NeuMF)),
        Factors = args.Int("factors", 8, 1, 4096),
        Layers = args.Int("layers", 3, 1, 10),
    };

    public static IBackend CreateBackend(Arguments args)
    {
        int threads = args.Int("threads", 0, 0, 1024);
        return new CpuBackend(threads: threads);
    }

    public static string Number(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Kind(ModelKind kind) => kind switch
    {
        ModelKind.Gmf => "gmf",
        ModelKind.Mlp => "mlp",
        _ => "neumf",
    };
}
