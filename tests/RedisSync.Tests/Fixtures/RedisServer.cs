using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// A real redis-server on a free loopback port, in its own temporary directory. Can be killed with
/// SIGKILL and restarted on the same port and data (for durability and outage tests).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private Process? _process;

    private RedisServer(int port, string dir, string[] extraArgs)
    {
        Port = port;
        Directory = dir;
        _extraArgs = extraArgs;
    }

    public int Port { get; }

    /// <summary>PEM of the CA that signed the server's certificate, when started with TLS.</summary>
    public string? CaCertificatePath { get; private init; }
    public string Directory { get; }
    public string? Password { get; private init; }

    /// <summary>StackExchange.Redis configuration string for this server.</summary>
    public string ConnectionString =>
        $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,syncTimeout=5000"
        + (Password is null ? "" : $",password={Password}")
        + (CaCertificatePath is null ? "" : ",ssl=true,sslHost=127.0.0.1");

    /// <summary>
    /// Starts a server that only speaks TLS, with a certificate for 127.0.0.1 signed by a throw-away CA
    /// (<see cref="CaCertificatePath"/>), generated here so the test needs no openssl.
    /// </summary>
    public static async Task<RedisServer> StartTlsAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "redissync-test-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        var now = DateTimeOffset.UtcNow;
        using var caKey = System.Security.Cryptography.RSA.Create(2048);
        var caRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=RedisSync test CA", caKey,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        using var serverKey = System.Security.Cryptography.RSA.Create(2048);
        var serverRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=127.0.0.1", serverKey,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(san.Build());
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), Guid.NewGuid().ToByteArray()[..8]);
        var caPath = Path.Combine(dir, "ca.crt");
        await File.WriteAllTextAsync(caPath, ca.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(dir, "server.crt"), server.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(dir, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());

        var port = FreePort();
        var redis = new RedisServer(port, dir,
        [
            "--save", "", "--appendonly", "no", "--port", "0", "--tls-port", port.ToString(),
            "--tls-cert-file", Path.Combine(dir, "server.crt"), "--tls-key-file", Path.Combine(dir, "server.key"),
            "--tls-ca-cert-file", caPath, "--tls-auth-clients", "no",
        ]) { CaCertificatePath = caPath };
        await redis.StartProcessAsync();
        return redis;
    }

    /// <summary>Starts a server. With <paramref name="appendFsyncAlways"/>, every acknowledged write is on disk.</summary>
    public static async Task<RedisServer> StartAsync(bool appendOnly = false, bool appendFsyncAlways = false, string? password = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "redissync-test-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        var args = new List<string> { "--save", "", "--appendonly", appendOnly || appendFsyncAlways ? "yes" : "no" };
        if (appendFsyncAlways) args.AddRange(["--appendfsync", "always"]);
        if (password is not null) args.AddRange(["--requirepass", password]);
        var server = new RedisServer(FreePort(), dir, [.. args]) { Password = password };
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Runs one command with redis-cli (for admin commands StackExchange.Redis 1.2.6 lacks); returns its output.</summary>
    public async Task<string> CliAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(RedisBinary())!, "redis-cli"))
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-h", "127.0.0.1", "-p", Port.ToString() }) psi.ArgumentList.Add(a);
        if (CaCertificatePath is not null) foreach (var a in new[] { "--tls", "--cacert", CaCertificatePath }) psi.ArgumentList.Add(a);
        if (Password is not null) { psi.ArgumentList.Add("-a"); psi.ArgumentList.Add(Password); psi.ArgumentList.Add("--no-auth-warning"); }
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return output;
    }

    /// <summary>Kills the server with SIGKILL: no shutdown, no final fsync.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            p.WaitForExit(10_000);
        }
    }

    /// <summary>Starts the server again on the same port and data directory.</summary>
    public Task RestartAsync() => StartProcessAsync();

    private async Task StartProcessAsync()
    {
        var psi = new ProcessStartInfo(RedisBinary())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        // Later arguments win, so a TLS server's "--port 0" overrides this one.
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", Directory, "--daemonize", "no", "--protected-mode", "no" })
            psi.ArgumentList.Add(a);
        foreach (var a in _extraArgs) psi.ArgumentList.Add(a);
        // redis-server says when it accepts connections (after loading its append-only file, on a restart):
        // wait for that line rather than polling.
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal)) ready.TrySetResult();
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited).WaitAsync(TimeSpan.FromSeconds(20));
        if (first == exited)
            throw new InvalidOperationException($"redis-server exited with {_process.ExitCode} on port {Port}:\n" + string.Join('\n', output));
    }

    private static string RedisBinary()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("redis-server is not installed: run the README's test command (./build.sh test), which installs it.");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        return ValueTask.CompletedTask;
    }
}
