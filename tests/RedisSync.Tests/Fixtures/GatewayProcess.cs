using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// The built gateway (<c>src/RedisSync.Gateway/bin/&lt;Configuration&gt;/net10.0/RedisSync.Gateway.dll</c>) as a
/// child process on a free loopback port, with the test API keys and extra settings as environment
/// variables. Unlike an in-process gateway it can die for real: <see cref="Kill"/> sends SIGKILL, so it
/// says nothing to Redis or to anyone on the way out.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _watches = [];

    private GatewayProcess(Process process) => _process = process;

    /// <summary>The gateway's base address, e.g. http://127.0.0.1:43121.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public int ProcessId => _process.Id;

    /// <summary>An HTTP client against this process's address, with <paramref name="apiKey"/>.</summary>
    public HttpClient HttpClient(string? apiKey = TestKeys.Writer)
    {
        var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null) client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    /// <summary>What the process wrote so far (stdout and stderr), for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>
    /// Starts a gateway on <paramref name="redis"/> and waits until it listens. <paramref name="settings"/> are
    /// configuration keys (<c>Realtime:PresenceTimeout</c>), passed as environment variables.
    /// </summary>
    public static Task<GatewayProcess> StartAsync(RedisServer redis, IReadOnlyDictionary<string, string>? settings = null) =>
        StartAsync(redis.ConnectionString, settings);

    /// <summary>
    /// Starts a gateway on the Redis named by <paramref name="redisConnectionString"/>: a cluster's nodes, or sentinels
    /// with <c>serviceName=</c>, exactly as an operator would configure it.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(string redisConnectionString, IReadOnlyDictionary<string, string>? settings = null)
    {
        var project = ProjectDirectory();
        var dll = GatewayDll(project);

        // The content root is the project folder, as with `dotnet run`; port 0 lets Kestrel pick a free port,
        // which it reports on its "Now listening on" line.
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = project, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Testing",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging:LogLevel:RedisSync.Gateway.Realtime.Presence"] = "Information",
            ["Logging:Console:ColorBehavior"] = "Disabled",
            ["Redis:ConnectionString"] = redisConnectionString,
            ["RateLimit:Enabled"] = "false",
        };
        foreach (var (key, value) in TestKeySettings()) environment[key] = value;
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) environment[key] = value;
        foreach (var (key, value) in environment) psi.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;

        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var gateway = new GatewayProcess(process);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            gateway.Record(e.Data);
            if (ListeningLine().Match(e.Data) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups[1].Value));
            if (e.Data.Contains("Application started", StringComparison.Ordinal)) started.TrySetResult();
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) gateway.Record(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var exited = process.WaitForExitAsync();
        try
        {
            var ready = Task.WhenAll(listening.Task, started.Task);
            if (await Task.WhenAny(ready, exited).WaitAsync(StartTimeout) == exited)
                throw new InvalidOperationException($"the gateway exited with {process.ExitCode} at start:\n{gateway.Output}");
        }
        catch (TimeoutException)
        {
            gateway.Kill();
            throw new TimeoutException($"the gateway did not start within {StartTimeout}:\n{gateway.Output}");
        }
        gateway.BaseUrl = listening.Task.Result;
        return gateway;
    }

    /// <summary>
    /// The first output line (earlier ones included) that <paramref name="match"/> accepts: waits for the process to
    /// write it, for at most <paramref name="timeout"/>. For what the gateway only says in its log (event ids).
    /// </summary>
    public async Task<string> LineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_watches)
        {
            if (_output.FirstOrDefault(match) is { } earlier) return earlier;
            _watches.Add((match, seen));
        }
        try { return await seen.Task.WaitAsync(timeout); }
        catch (TimeoutException) { throw new TimeoutException($"the gateway did not log {what} within {timeout.TotalSeconds:0} s:\n{Output}"); }
        finally { lock (_watches) _watches.RemoveAll(w => w.Seen == seen); }
    }

    // Lines are recorded and matched under one lock, so a watch started between the two never misses a line.
    private void Record(string line)
    {
        lock (_watches)
        {
            _output.Enqueue(line);
            foreach (var (match, seen) in _watches) if (match(line)) seen.TrySetResult(line);
        }
    }

    /// <summary>Kills the process with SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>Stops the process gracefully (SIGTERM, as a container runtime does) and waits for it to exit.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process.HasExited) return;
        if (Terminate(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException($"the gateway did not exit within {timeout} of SIGTERM:\n{Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(TimeSpan.FromSeconds(15)); }
        catch (TimeoutException) { } // killed
        _process.Dispose();
    }

    // The same keys as the in-process gateways (GatewayFactory), so tests can use TestKeys with either.
    private static IEnumerable<(string, string)> TestKeySettings()
    {
        var keys = new (string Name, string Key, string Source, string Read, string? Write)[]
        {
            ("writer", TestKeys.Writer, "writer", "*", "*"),
            ("other", TestKeys.Other, "other", "*", "*"),
            ("reader", TestKeys.Reader, "reader", "*", null),
            ("orders", TestKeys.OrdersOnly, "orders-app", "orders", "orders"),
        };
        for (var i = 0; i < keys.Length; i++)
        {
            yield return ($"Auth:Keys:{i}:Name", keys[i].Name);
            yield return ($"Auth:Keys:{i}:Key", keys[i].Key);
            yield return ($"Auth:Keys:{i}:Source", keys[i].Source);
            yield return ($"Auth:Keys:{i}:Read:0", keys[i].Read);
            if (keys[i].Write is { } write) yield return ($"Auth:Keys:{i}:Write:0", write);
        }
    }

    /// <summary>
    /// Runs the gateway's executable as a command (e.g. <c>verify URL KEY URL KEY</c>) and waits for it to exit, for at
    /// most <paramref name="timeout"/>; returns its exit code and everything it printed.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunCommandAsync(TimeSpan timeout, params string[] args)
    {
        var project = ProjectDirectory();
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = project };
        psi.ArgumentList.Add(GatewayDll(project));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return await ChildProcess.RunAsync(psi, timeout, $"RedisSync.Gateway {string.Join(' ', args)}");
    }

    private static string GatewayDll(string project)
    {
        var configuration = typeof(GatewayProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(project, "bin", configuration, "net10.0", "RedisSync.Gateway.dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"{dll} is missing: build the gateway project in {configuration} first.");
        return dll;
    }

    private static string ProjectDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var project = Path.Combine(dir.FullName, "src", "RedisSync.Gateway");
            if (File.Exists(Path.Combine(project, "RedisSync.Gateway.csproj"))) return project;
        }
        throw new InvalidOperationException($"no src/RedisSync.Gateway above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Terminate(int pid, int signal);
}
