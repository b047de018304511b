using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// A real redis-server on a free loopback port, in its own temporary directory. Can be killed with
/// SIGKILL and restarted on the same port and data (for durability and outage tests). Cluster nodes
/// (<see cref="RedisCluster"/>) and sentinels (<see cref="RedisSentinel"/>) are built from it too.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const string ServerReadyLine = "Ready to accept connections";

    private readonly string[] _extraArgs;
    private readonly string? _configFile;
    private readonly string _readyLine;
    private Process? _process;

    private RedisServer(int port, string dir, string[] extraArgs, string? configFile = null, string readyLine = ServerReadyLine)
    {
        Port = port;
        Directory = dir;
        _extraArgs = extraArgs;
        _configFile = configFile;
        _readyLine = readyLine;
    }

    public int Port { get; }

    /// <summary>"127.0.0.1:port", as Redis and StackExchange.Redis name this server.</summary>
    public string EndPoint => $"127.0.0.1:{Port}";

    /// <summary>True while the process runs (false after <see cref="Kill"/>, until a restart).</summary>
    public bool IsRunning => _process is { HasExited: false };

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
        var dir = NewDirectory();
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
        var dir = NewDirectory();
        var args = new List<string> { "--save", "", "--appendonly", appendOnly || appendFsyncAlways ? "yes" : "no" };
        if (appendFsyncAlways) args.AddRange(["--appendfsync", "always"]);
        if (password is not null) args.AddRange(["--requirepass", password]);
        var server = new RedisServer(FreePort(), dir, [.. args]) { Password = password };
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>
    /// Starts a server with exactly these arguments after the common ones (port, bind, dir); with
    /// <paramref name="configFile"/>, that text becomes the server's own config file (sentinels rewrite
    /// theirs, so each gets its copy). <paramref name="readyLine"/>: the log line that says it accepts connections.
    /// </summary>
    internal static async Task<RedisServer> StartWithAsync(int port, IEnumerable<string> args, string? configFile = null, string readyLine = ServerReadyLine)
    {
        var dir = NewDirectory();
        string? configPath = null;
        if (configFile is not null)
        {
            configPath = Path.Combine(dir, "redis.conf");
            await File.WriteAllTextAsync(configPath, configFile);
        }
        var server = new RedisServer(port, dir, [.. args], configPath, readyLine);
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Runs one command with redis-cli; returns what it printed (replies, or the error text).</summary>
    public Task<string> CliAsync(params string[] args) => RunCliAsync(args, TimeSpan.FromSeconds(20));

    /// <summary>Runs one command with redis-cli and fails when Redis answers with an error.</summary>
    public async Task<string> CliCheckedAsync(params string[] args)
    {
        var output = await CliAsync(args);
        if (IsErrorReply(output))
            throw new InvalidOperationException($"redis-cli {string.Join(' ', args)} on {EndPoint}: {output.Trim()}");
        return output;
    }

    /// <summary>One INFO section as name → value (e.g. "role" → "master").</summary>
    public async Task<IReadOnlyDictionary<string, string>> InfoAsync(string section = "default") =>
        ParseFields(await CliCheckedAsync("INFO", section));

    /// <summary>Parses "name:value" lines (INFO, CLUSTER INFO); other lines are skipped.</summary>
    public static IReadOnlyDictionary<string, string> ParseFields(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && !line.StartsWith('#')) fields[line[..colon]] = line[(colon + 1)..];
        }
        return fields;
    }

    // redis-cli prints an error reply as its bare text (its exit code is 1 only when it cannot connect), so
    // an error is told from a value by its leading code.
    private static readonly string[] ErrorPrefixes =
    [
        "ERR", "(error)", "Could not connect", "NOAUTH", "WRONGPASS", "NOPERM", "WRONGTYPE", "MOVED", "ASK ", "TRYAGAIN",
        "CLUSTERDOWN", "BUSYKEY", "IOERR", "NOSCRIPT", "LOADING", "READONLY", "MASTERDOWN", "CROSSSLOT",
    ];

    private static bool IsErrorReply(string output) => ErrorPrefixes.Any(p => output.StartsWith(p, StringComparison.Ordinal));

    private async Task<string> RunCliAsync(string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(RedisBinary())!, "redis-cli"));
        foreach (var a in new[] { "-h", "127.0.0.1", "-p", Port.ToString() }) psi.ArgumentList.Add(a);
        if (CaCertificatePath is not null) foreach (var a in new[] { "--tls", "--cacert", CaCertificatePath }) psi.ArgumentList.Add(a);
        if (Password is not null) { psi.ArgumentList.Add("-a"); psi.ArgumentList.Add(Password); psi.ArgumentList.Add("--no-auth-warning"); }
        foreach (var a in args) psi.ArgumentList.Add(a);
        return (await ChildProcess.RunAsync(psi, timeout, $"redis-cli {string.Join(' ', args)} on {EndPoint}")).Output;
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

    /// <summary>Sends SIGKILL without waiting (to stop many servers at once when time is short).</summary>
    internal void KillNow()
    {
        if (_process is { HasExited: false } p) p.Kill();
    }

    /// <summary>
    /// Stops the process with SIGSTOP: its sockets stay open and peers see nothing wrong, but it answers
    /// nothing (a replica that never acknowledges, a hung master). <see cref="Resume"/> continues it.
    /// </summary>
    public void Suspend() => Signal(SigStop);

    /// <summary>Continues a <see cref="Suspend"/>ed process (SIGCONT).</summary>
    public void Resume() => Signal(SigCont);

    private const int SigCont = 18, SigStop = 19; // Linux

    private void Signal(int signal)
    {
        if (_process is not { HasExited: false } p) throw new InvalidOperationException($"redis-server on port {Port} is not running");
        if (Kill(p.Id, signal) != 0) throw new InvalidOperationException($"kill({p.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

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
        // redis-server reads a config file only as its first argument.
        if (_configFile is not null) psi.ArgumentList.Add(_configFile);
        // Later arguments win, so a TLS server's "--port 0" overrides this one.
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", Directory, "--daemonize", "no", "--protected-mode", "no" })
            psi.ArgumentList.Add(a);
        foreach (var a in _extraArgs) psi.ArgumentList.Add(a);
        // redis-server says when it accepts connections (after loading its append-only file, on a restart):
        // wait for that line rather than polling.
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
        await File.WriteAllTextAsync(Path.Combine(Directory, ServerPidFile), _process.Id.ToString(CultureInfo.InvariantCulture));
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            if (e.Data.Contains(_readyLine, StringComparison.Ordinal)) ready.TrySetResult();
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

    private static int FreePort() => FreePorts(1)[0];

    /// <summary>Distinct free loopback ports (all held open until all are found, so none repeats).</summary>
    internal static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }

    private const string DirectoryPrefix = "redissync-test-";
    private const string OwnerPidFile = "test-host.pid", ServerPidFile = "redis-server.pid";
    private static readonly Lazy<int> LeftoversRemoved = new(RemoveLeftovers);

    private static string NewDirectory()
    {
        _ = LeftoversRemoved.Value;
        var dir = Path.Combine(Path.GetTempPath(), DirectoryPrefix + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, OwnerPidFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return dir;
    }

    /// <summary>
    /// A test host that was killed, or whose exit was cut short before the shared cluster was stopped, leaves
    /// servers running and directories behind. Once per test run, those of test hosts no longer alive are
    /// removed: a server only when it still runs in that very directory (a reused pid is left alone).
    /// </summary>
    private static int RemoveLeftovers()
    {
        var removed = 0;
        foreach (var dir in System.IO.Directory.GetDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            try
            {
                if (ReadPid(Path.Combine(dir, OwnerPidFile)) is not { } owner || System.IO.Directory.Exists($"/proc/{owner}")) continue;
                if (ReadPid(Path.Combine(dir, ServerPidFile)) is { } server && System.IO.Directory.Exists($"/proc/{server}")
                    && new DirectoryInfo($"/proc/{server}/cwd").ResolveLinkTarget(false)?.FullName == dir)
                {
                    using var orphan = Process.GetProcessById(server);
                    orphan.Kill();
                    orphan.WaitForExit(5000);
                }
                System.IO.Directory.Delete(dir, recursive: true);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException) { }
        }
        return removed;
    }

    private static int? ReadPid(string file) =>
        File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;

    public ValueTask DisposeAsync()
    {
        Kill();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        return ValueTask.CompletedTask;
    }
}
