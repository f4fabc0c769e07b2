namespace Ncf.Data;

/// <summary>
/// The front door for data: finds the files behind a path, reads them in the right format and, for raw logs,
/// applies the leave-one-out split (<see cref="LeaveOneOutSplitter"/>).
/// </summary>
/// <remarks>
/// <para>A path may be</para>
/// <list type="bullet">
/// <item>a file: <c>u.data</c>, <c>ratings.dat</c>, <c>ratings.csv</c>, <c>X.train.rating</c> (or <c>X.test.negative</c>,
/// <c>X.test.rating</c>: the NCF prefix <c>X</c>), or any other delimited file (generic reader);</item>
/// <item>a folder holding one of <c>*.train.rating</c> (the NCF split, preferred when present), <c>ratings.dat</c>,
/// <c>ratings.csv</c> or <c>u.data</c>, looked for in that order;</item>
/// <item>an NCF prefix such as <c>data/ml-1m/ml-1m</c>, meaning <c>ml-1m.train.rating</c> + <c>ml-1m.test.negative</c>
/// [+ <c>ml-1m.test.rating</c>].</item>
/// </list>
/// <para><see cref="DataLoadOptions.Format"/> forces the reader; with a folder it also picks which file to look for.</para>
/// <para>Every file may be gzip-compressed: the readers recognise gzip by its first bytes, and a name ending in
/// <c>.gz</c> is matched without it (<c>ratings.csv.gz</c> is MovieLens CSV; a folder may hold <c>ratings.dat.gz</c>).</para>
/// </remarks>
public static class NcfDataLoader
{
    private static readonly (string FileName, DatasetFormat Format)[] KnownFiles =
    [
        ("ratings.dat", DatasetFormat.MovieLens1M),
        ("ratings.csv", DatasetFormat.MovieLensCsv),
        ("u.data", DatasetFormat.MovieLens100K),
    ];

    /// <summary>Reads and splits the data set at <paramref name="path"/>.</summary>
    /// <exception cref="NcfException">The path does not exist, holds no known data file, an option is invalid, or a
    /// hold-out asked for finds no case (no user has enough distinct items).</exception>
    /// <exception cref="DataFormatException">A file is malformed (the message names the file and line).</exception>
    /// <param name="path">A file, a folder holding one, or an NCF prefix.</param>
    /// <param name="options">The split and format; defaults as documented on <see cref="DataLoadOptions"/>.</param>
    /// <param name="cancellationToken">Checked as the files are read (every megabyte or so) and between the split's users.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static NcfDataset Load(string path, DataLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataLoadOptions();
        options.Validate();
        var (resolved, format) = Resolve(path, options.Format);
        string name = DatasetName(path, resolved, format);
        RejectHeaderSetting(resolved, format, options.HasHeader);
        return format == DatasetFormat.Ncf
            ? NcfFileReader.Read(resolved, options, name, cancellationToken)
            : LeaveOneOutSplitter.Split(ReadLog(resolved, format, options.HasHeader, cancellationToken), options, name, cancellationToken);
    }

    /// <summary>Reads the raw interaction log at <paramref name="path"/> without splitting it (not for NCF files, which are pre-split).</summary>
    /// <exception cref="NcfException">As <see cref="Load"/>, or the path is NCF data.</exception>
    /// <param name="path">A file or a folder holding one.</param>
    /// <param name="options">The format; the split options are not used.</param>
    /// <param name="cancellationToken">Checked as the file is read (every megabyte or so).</param>
    public static InteractionLog LoadLog(string path, DataLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataLoadOptions();
        options.Validate();
        var (resolved, format) = Resolve(path, options.Format);
        if (format == DatasetFormat.Ncf)
        {
            throw new NcfException($"{path}: NCF files are already split into training and test; load them with NcfDataLoader.Load.");
        }

        RejectHeaderSetting(resolved, format, options.HasHeader);
        return ReadLog(resolved, format, options.HasHeader, cancellationToken);
    }

    // Only the generic reader has a header to detect; every other format's layout is fixed.
    private static void RejectHeaderSetting(string file, DatasetFormat format, bool? hasHeader)
    {
        if (hasHeader is not null && format != DatasetFormat.Generic)
        {
            throw new NcfException($"{file}: is read as {DatasetFormats.ToName(format)}, whose layout is fixed; a header setting applies to generic CSV/TSV files (format csv).");
        }
    }

    /// <summary>
    /// The file (or, for <see cref="DatasetFormat.Ncf"/>, the prefix) and the format that <paramref name="path"/> stands for.
    /// </summary>
    /// <exception cref="NcfException">Nothing readable is found at the path.</exception>
    public static (string Path, DatasetFormat Format) Resolve(string path, DatasetFormat format = DatasetFormat.Auto)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new NcfException("No data path given.");
        }

        if (Directory.Exists(path))
        {
            try
            {
                return ResolveFolder(path, format);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NcfException($"{path}: cannot list the folder ({e.Message}).", e);
            }
        }

        if (File.Exists(path))
        {
            string? prefix = NcfPrefixOf(path);
            if (format == DatasetFormat.Ncf || (format == DatasetFormat.Auto && prefix is not null))
            {
                return (prefix ?? throw new NcfException($"{path}: an NCF file name ends in .train.rating, .test.negative or .test.rating."), DatasetFormat.Ncf);
            }

            return (path, format == DatasetFormat.Auto ? Sniffed(path, FormatOfFileName(path)) : format);
        }

        if (File.Exists(NcfFileReader.Existing(path + ".train.rating")) && format is DatasetFormat.Auto or DatasetFormat.Ncf)
        {
            return (path, DatasetFormat.Ncf);
        }

        throw new NcfException($"{path}: no such file, folder or NCF prefix (PREFIX.train.rating).");
    }

    private static (string Path, DatasetFormat Format) ResolveFolder(string folder, DatasetFormat format)
    {
        if (format is DatasetFormat.Auto or DatasetFormat.Ncf)
        {
            var trainFiles = Directory.GetFiles(folder, "*.train.rating")
                .Concat(Directory.GetFiles(folder, "*.train.rating.gz").Where(gz => !File.Exists(gz[..^3])))
                .ToArray();
            if (trainFiles.Length > 1)
            {
                Array.Sort(trainFiles, StringComparer.Ordinal);
                throw new NcfException($"{folder}: several NCF training files ({string.Join(", ", trainFiles.Select(Path.GetFileName))}); give the prefix, e.g. {NcfPrefixOf(trainFiles[0])}.");
            }

            if (trainFiles.Length == 1)
            {
                return (NcfPrefixOf(trainFiles[0])!, DatasetFormat.Ncf);
            }
        }

        foreach (var (fileName, fileFormat) in KnownFiles)
        {
            foreach (string candidate in (string[])[Path.Combine(folder, fileName), Path.Combine(folder, fileName + ".gz")])
            {
                if ((format == DatasetFormat.Auto || format == fileFormat) && File.Exists(candidate))
                {
                    return (candidate, format == DatasetFormat.Auto ? Sniffed(candidate, fileFormat) : fileFormat);
                }
            }
        }

        throw new NcfException(format == DatasetFormat.Auto
            ? $"{folder}: no data file found; expected *.train.rating, ratings.dat, ratings.csv or u.data."
            : $"{folder}: no {DatasetFormats.ToName(format)} file found; give the file itself.");
    }

    // A file named ratings.csv is MovieLens's only when its columns are: other exports use the name too (a
    // movieId,userId,... or user,isbn,... file read as MovieLens would swap users and items or drop leading zeros).
    private static DatasetFormat Sniffed(string file, DatasetFormat byName) =>
        byName == DatasetFormat.MovieLensCsv && !MovieLensReader.HasRatingsCsvLayout(file) ? DatasetFormat.Generic : byName;

    private static InteractionLog ReadLog(string file, DatasetFormat format, bool? hasHeader, CancellationToken cancellationToken) => format switch
    {
        DatasetFormat.MovieLens100K => MovieLensReader.ReadUData(file, cancellationToken),
        DatasetFormat.MovieLens1M => MovieLensReader.ReadRatingsDat(file, cancellationToken),
        DatasetFormat.MovieLensCsv => MovieLensReader.ReadRatingsCsv(file, cancellationToken),
        _ => DelimitedInteractionReader.Read(file, hasHeader, cancellationToken),
    };

    // "ratings.csv.gz" is read as "ratings.csv" (the readers decompress gzip whatever the name).
    private static DatasetFormat FormatOfFileName(string file) => StripGz(Path.GetFileName(file).ToLowerInvariant()) switch
    {
        "u.data" => DatasetFormat.MovieLens100K,
        "ratings.dat" => DatasetFormat.MovieLens1M,
        "ratings.csv" => DatasetFormat.MovieLensCsv,
        _ => DatasetFormat.Generic,
    };

    private static string StripGz(string name) => name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? name[..^3] : name;

    private static string? NcfPrefixOf(string file)
    {
        file = StripGz(file);
        foreach (string suffix in (string[])[".train.rating", ".test.negative", ".test.rating"])
        {
            if (file.EndsWith(suffix, StringComparison.Ordinal))
            {
                return file[..^suffix.Length];
            }
        }

        return null;
    }

    // "ml-1m" for data/ml-1m/ml-1m, data/ml-1m/ and data/ml-1m/ratings.dat alike.
    private static string DatasetName(string path, string resolved, DatasetFormat format)
    {
        if (format == DatasetFormat.Ncf)
        {
            return Path.GetFileName(resolved);
        }

        string? folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(resolved));
        string folderName = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder ?? ""));
        return format == DatasetFormat.Generic || string.IsNullOrEmpty(folderName)
            ? Path.GetFileNameWithoutExtension(StripGz(resolved))
            : folderName;
    }
}
