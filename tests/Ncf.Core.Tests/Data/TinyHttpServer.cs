using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ncf.Core.Tests.Data;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (a free port chosen by the OS) that answers GET requests for fixed paths
/// from memory and 404 otherwise, one connection per request. Enough for HttpClient in tests; no real network.
/// </summary>
internal sealed class TinyHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, byte[]> _files;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    public TinyHttpServer(Dictionary<string, byte[]> files)
    {
        _files = files;
        _listener.Start();
        BaseUri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/data/");
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The base URL; files are served at BaseUri + key.</summary>
    public Uri BaseUri { get; }

    /// <summary>Paths whose answer stops half-way through the body, the connection left open: a stalled server.</summary>
    public HashSet<string> StallHalfWay { get; init; } = [];

    /// <summary>Requests answered so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            Interlocked.Increment(ref _requests);
            try
            {
                var stream = client.GetStream();
                string path = await ReadRequestPathAsync(stream, _stop.Token);
                string key = path.StartsWith("/data/", StringComparison.Ordinal) ? path["/data/".Length..] : path;
                bool found = _files.TryGetValue(key, out var body);
                body ??= "not found"u8.ToArray();
                string head = $"HTTP/1.1 {(found ? "200 OK" : "404 Not Found")}\r\nContent-Length: {body.Length}\r\n"
                    + "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
                if (StallHalfWay.Contains(key))
                {
                    await stream.WriteAsync(body.AsMemory(0, body.Length / 2), _stop.Token);
                    await stream.FlushAsync(_stop.Token);
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }

                await stream.WriteAsync(body, _stop.Token);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                // The client hung up (a cancelled download), while asking or while being answered: serve the next one.
            }
        }
    }

    // Reads up to the blank line ending the headers and returns the path of "GET /path HTTP/1.1".
    private static async Task<string> ReadRequestPathAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 16_384 && await stream.ReadAsync(one, cancellationToken) == 1)
        {
            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
            {
                break;
            }
        }

        string[] requestLine = Encoding.ASCII.GetString([.. head]).Split("\r\n")[0].Split(' ');
        return requestLine.Length >= 2 ? requestLine[1] : "/";
    }
}
