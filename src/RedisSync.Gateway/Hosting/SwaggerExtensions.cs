using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using RedisSync.Gateway.Contracts;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace RedisSync.Gateway.Hosting;

public static class SwaggerExtensions
{
    /// <summary>OpenAPI document with the API-key scheme, the free-form <c>data</c> object, and examples.</summary>
    public static IServiceCollection AddSyncSwagger(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "RedisSync",
                Version = "v1",
                Description = "Versioned records merged per field (version or timestamp policy), stored in Redis with a change log, pushed over SignalR at /hubs/sync.",
            });
            o.AddSecurityDefinition("ApiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Api-Key",
                Description = "An API key from Auth:Keys (the run command's development key: dev-key-redissync-local-only).",
            });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", doc)] = [] });
            // A record's data is any JSON object; its values are kept exactly as sent.
            o.MapType<RecordData>(() => new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalPropertiesAllowed = true });
            o.MapType<JsonElement>(() => new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalPropertiesAllowed = true, Description = "A JSON object: field name → any JSON value." });
            o.MapType<JsonElement?>(() => new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalPropertiesAllowed = true, Description = "A JSON object: field name → any JSON value." });
            o.OperationFilter<ExampleFilter>();
        });
        return services;
    }

    /// <summary>
    /// The document and the UI under <c>/swagger</c>. Only requests there pass through them: both are async
    /// middleware that every other request (every write) would otherwise enter, and pay for, to be passed on.
    /// </summary>
    public static WebApplication UseSyncSwagger(this WebApplication app)
    {
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/swagger"), swagger => swagger
            .UseSwagger()
            .UseSwaggerUI(o => o.DocumentTitle = "RedisSync API"));
        return app;
    }

    /// <summary>Request and response examples per operation, so Swagger UI's "Try it out" starts from something valid.</summary>
    private sealed class ExampleFilter : IOperationFilter
    {
        private const string Record = """
            { "collection": "customers", "id": "c-42", "revision": 3, "seq": "1732262400000-0", "deleted": false,
              "data": { "name": "John", "age": 30 },
              "clock": { "version": 17, "timestamp": "2026-11-22T10:00:00.123Z", "source": "crm" },
              "updatedAt": "2026-11-22T10:00:00.200Z" }
            """;
        private const string WriteResult = $$"""
            { "collection": "customers", "id": "c-42", "outcome": "applied", "created": false, "revision": 3,
              "seq": "1732262400000-0", "staleFields": [], "record": {{Record}} }
            """;

        private static readonly Dictionary<string, (string? Request, string? Response)> Examples = new()
        {
            ["PutRecord"] = ("""{ "version": 17, "timestamp": "2026-11-22T10:00:00.123Z", "data": { "name": "John", "age": 30 } }""", WriteResult),
            ["PatchRecord"] = ("""{ "version": 18, "data": { "age": 31, "nickname": null } }""", WriteResult),
            ["DeleteRecord"] = (null, WriteResult),
            ["WriteBatch"] = ("""
                { "records": [
                  { "id": "c-42", "op": "put", "version": 17, "data": { "name": "John", "age": 30 } },
                  { "id": "c-43", "op": "patch", "version": 4, "data": { "age": 41 } },
                  { "id": "c-44", "op": "delete", "version": 9 } ] }
                """, $$"""{ "results": [ {{WriteResult}} ] }"""),
            ["GetRecord"] = (null, Record),
            ["ListRecords"] = (null, $$"""{ "items": [ {{Record}} ], "nextCursor": "Yy00Mg", "asOf": "1732262400000-0" }"""),
            ["ListChanges"] = (null, $$"""
                { "items": [ { "collection": "customers", "seq": "1732262400000-0", "id": "c-42", "kind": "upsert",
                  "revision": 3, "source": "crm", "changedFields": ["age"], "record": {{Record}} } ],
                  "next": "1732262400000-0", "hasMore": false }
                """),
            ["ListCollections"] = (null, """[ { "name": "customers", "policy": "version", "records": 1200, "lastSeq": "1732262400000-0" } ]"""),
        };

        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (operation.OperationId is null || !Examples.TryGetValue(operation.OperationId, out var example)) return;
            if (example.Request is not null && operation.RequestBody?.Content?.TryGetValue("application/json", out var request) == true
                && request is OpenApiMediaType requestMedia)
                requestMedia.Example = JsonNode.Parse(example.Request);
            if (example.Response is null || operation.Responses is null) return;
            foreach (var (status, response) in operation.Responses)
                if (status is "200" or "201" && response.Content?.TryGetValue("application/json", out var media) == true
                    && media is OpenApiMediaType responseMedia)
                    responseMedia.Example = JsonNode.Parse(example.Response);
        }
    }
}
