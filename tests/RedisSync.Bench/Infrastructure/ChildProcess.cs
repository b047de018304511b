using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RedisSync.Bench.Infrastructure;

/// <summary>
/// A process this program started and owns: its output goes to a log file, its memory and CPU time are read
/// from /proc, and it is killed (only it, by its own handle) when disposed.
/// </summary>
public class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    // Lines awaited by WaitForOutputAsync; guarded, like the log, by the lock on _log.
    private readonly List<(string Marker, TaskCompletionSource Seen)> _watchers = [];

    protected ChildProcess(ProcessStartInfo start, string logPath)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        _log = new StreamWriter(logPath) { AutoFlush = true };
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Exited += (_, _) =>
        {
            lock (_log)
                foreach (var (marker, seen) in _watchers)
                    seen.TrySetException(new InvalidOperationException($"the process exited before printing '{marker}'"));
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        LogPath = logPath;
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string LogPath { get; }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            _log.WriteLine(line);
            for (var i = _watchers.Count - 1; i >= 0; i--)
            {
                if (!line.Contains(_watchers[i].Marker, StringComparison.Ordinal)) continue;
                _watchers[i].Seen.TrySetResult();
                _watchers.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Waits until the process prints a line containing <paramref name="marker"/> (its own "I am ready"),
    /// failing if it exits first or <paramref name="timeout"/> passes.
    /// </summary>
    protected async Task WaitForOutputAsync(string marker, TimeSpan timeout, CancellationToken ct)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_log)
        {
            // Lines are appended under this lock, so none can slip between this check and the watcher.
            if (LogTail(int.MaxValue).Contains(marker, StringComparison.Ordinal)) return;
            if (_process.HasExited) throw new InvalidOperationException($"the process exited before printing '{marker}':\n" + LogTail());
            _watchers.Add((marker, seen));
        }
        try
        {
            await seen.Task.WaitAsync(timeout, ct);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"waiting for '{marker}': {e.Message}\n" + LogTail(), e);
        }
    }

    /// <summary>Resident set size in KiB (VmRSS of /proc/&lt;pid&gt;/status), or null once it is gone.</summary>
    public long? RssKiB() => StatusField("VmRSS:");

    /// <summary>Threads in the process (each has a stack that counts in RSS once touched).</summary>
    public long? Threads() => StatusField("Threads:");

    private long? StatusField(string name)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line[name.Length..].Trim().Split(' ')[0]);
        }
        catch (IOException) { }
        return null;
    }

    /// <summary>User plus system CPU time used so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
    }

    /// <summary>
    /// CPU clock ticks (USER_HZ) used so far by each live thread, with the thread's name: which of the
    /// process's threads (thread pool, timers, a library's own) the CPU went to.
    /// </summary>
    public Dictionary<int, (string Name, long Ticks)> ThreadTicks()
    {
        var threads = new Dictionary<int, (string, long)>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories($"/proc/{Pid}/task"))
            {
                try
                {
                    // "tid (name) state ..." — the name may hold spaces; utime and stime are fields 14 and 15.
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var open = stat.IndexOf('(');
                    var close = stat.LastIndexOf(')');
                    var rest = stat[(close + 2)..].Split(' ');
                    threads[int.Parse(stat[..open].Trim())] = (stat[(open + 1)..close], long.Parse(rest[11]) + long.Parse(rest[12]));
                }
                catch (IOException) { } // the thread ended meanwhile
            }
        }
        catch (IOException) { }
        return threads;
    }

    /// <summary>The last lines of the process's output, for error messages.</summary>
    public string LogTail(int lines = 30)
    {
        lock (_log)
        {
            _log.Flush();
            try
            {
                using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
                var all = reader.ReadToEnd().Split('\n');
                return string.Join('\n', all.TakeLast(lines));
            }
            catch (IOException) { return ""; }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public virtual async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: false);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
        _process.Dispose();
        lock (_log) _log.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs a short command to completion (bounded) and returns its standard output.</summary>
    public static async Task<string?> RunToEndAsync(string file, string arguments, TimeSpan timeout)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, arguments)
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            });
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            try
            {
                await p.WaitForExitAsync().WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                p.Kill();
                return null;
            }
            return await output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }
    }
}
