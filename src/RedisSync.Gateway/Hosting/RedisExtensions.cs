using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Hosting;

public static class RedisExtensions
{
    /// <summary>One shared multiplexer that never gives up reconnecting, and the store on top of it.</summary>
    public static WebApplicationBuilder AddRedisStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RedisOptions>().BindConfiguration("Redis").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SyncOptions>().BindConfiguration("Sync").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var log = sp.GetRequiredService<ILogger<RecordStore>>();
            var options = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            var config = ConfigurationOptions.Parse(options.ConnectionString!);
            if (options.User is not null) config.User = options.User;
            if (options.Password is not null) config.Password = options.Password;
            if (options.CaCertificatePath is { } caPath)
            {
                var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
                config.CertificateValidation += (_, certificate, _, errors) => IssuedBy(ca, certificate, errors);
            }
            // Start even when Redis is down, and keep reconnecting: requests get 503 meanwhile.
            config.AbortOnConnectFail = false;
            config.ConnectTimeout = Math.Min(config.ConnectTimeout, 5000);
            config.SyncTimeout = Math.Max(config.SyncTimeout, 5000);
            var mux = ConnectionMultiplexer.Connect(config);
            mux.ConnectionFailed += (_, e) => RedisLog.ConnectionFailed(log, e.EndPoint?.ToString(), e.ConnectionType.ToString(), e.FailureType.ToString());
            var metrics = sp.GetRequiredService<SyncMetrics>();
            mux.ConnectionRestored += (_, e) =>
            {
                RedisLog.ConnectionRestored(log, e.EndPoint?.ToString(), e.ConnectionType.ToString());
                metrics.RedisReconnected();
            };
            return mux;
        });
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<SyncMetrics>();
        builder.Services.AddSingleton<RecordStore>();
        return builder;
    }

    // The certificate must chain to the configured CA; name mismatches and other errors still fail.
    private static bool IssuedBy(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}

internal static partial class RedisLog
{
    [LoggerMessage(1001, LogLevel.Warning, "Redis connection to {EndPoint} ({ConnectionType}) failed: {FailureType}")]
    public static partial void ConnectionFailed(ILogger logger, string? endPoint, string connectionType, string failureType);

    [LoggerMessage(1002, LogLevel.Information, "Redis connection to {EndPoint} ({ConnectionType}) restored")]
    public static partial void ConnectionRestored(ILogger logger, string? endPoint, string connectionType);
}
