using Microsoft.AspNetCore.StaticFiles;

namespace RedisSync.Gateway.Hosting;

/// <summary>The live dashboard at <c>/</c> (CONTRACT §6): the static files under <c>wwwroot/</c>.</summary>
public static partial class DashboardExtensions
{
    // The page loads only its own files and talks only to its own origin (fetch, and the hub's WebSocket:
    // CSP 3's 'self' covers ws:/wss: on the same host).
    private const string ContentSecurityPolicy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Serves <c>wwwroot/</c>, with <c>/</c> answered by <c>index.html</c>. The web root is the content root's
    /// <c>wwwroot</c>: the project folder (<c>./build.sh run</c>, <c>dotnet run</c>) or the publish folder.
    /// </summary>
    public static WebApplication UseDashboard(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RedisSync.Gateway.Dashboard");
        var files = app.Environment.WebRootFileProvider;
        var webRoot = app.Environment.WebRootPath ?? Path.Combine(app.Environment.ContentRootPath, "wwwroot");
        foreach (var required in (string[])["index.html", "lib/signalr/signalr.min.js"])
        {
            if (files.GetFileInfo(required).Exists) continue;
            Log.DashboardFileMissing(logger, required, webRoot);
            break;
        }

        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions { OnPrepareResponse = AddHeaders });
        return app;
    }

    private static void AddHeaders(StaticFileResponseContext context)
    {
        var headers = context.Context.Response.Headers;
        // Revalidated on every load (cheap: ETag and Last-Modified), so a new build shows at once.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        if (context.File.Name.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
        {
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5001, LogLevel.Warning,
            "The dashboard at / is not available: {File} is missing under {WebRoot}. Start the gateway with its project or publish folder as the content root (cd there, or --contentRoot), and build it where npm is installed (the build copies the SignalR client from npm).")]
        public static partial void DashboardFileMissing(ILogger logger, string file, string webRoot);
    }
}
