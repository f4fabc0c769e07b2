namespace Ncf.Data;

/// <summary>
/// A MovieLens archive the downloader knows, with its pinned checksums (null when not known).
/// </summary>
/// <param name="Name">The archive's name without ".zip" (e.g. "ml-1m"); also the folder it extracts to.</param>
/// <param name="Sha256">SHA-256 of the official zip as lowercase hex, or null when not known.</param>
/// <param name="Md5">MD5 of the official zip as lowercase hex (as in GroupLens' <c>NAME.zip.md5</c>), or null when not known.</param>
/// <param name="Description">What it holds.</param>
public sealed record KnownArchive(string Name, string? Sha256, string? Md5, string Description);
