using System.Net;
using System.Text;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Hostile.HostileGateway;
using ApiHttp = RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Hostile;

/// <summary>How a case goes on the wire.</summary>
internal enum Transport
{
    /// <summary>HttpClient with the body as raw bytes; the test checks that System.Uri left the target as written.</summary>
    HttpClient,
    /// <summary>
    /// A bare socket: for targets System.Uri would normalize (dot segments, escaped unreserved characters), and
    /// for bodies the server refuses before reading them (413), where HttpClient may fail writing the rest.
    /// </summary>
    Raw,
    /// <summary>A bare socket, the body in chunks without a Content-Length.</summary>
    Chunked,
}

/// <summary>
/// One hostile request and the answer it must get. <c>{V}</c> in a body is replaced by a version unique to the
/// case, greater than any seeded one, so a body that wrongly got through would really be applied (and show in
/// the Redis digest) rather than be stale.
/// </summary>
internal sealed record HttpCase(
    string Name,
    string Method,
    string Target,
    byte[]? Body,
    HttpStatusCode Status,
    string Code,
    string? ErrorKey = null,
    string? ApiKey = TestKeys.Writer,
    string? ContentType = "application/json",
    Transport Transport = Transport.HttpClient,
    bool ProblemBody = true)
{
    public override string ToString() => Name;
}

/// <summary>The table of hostile HTTP requests (issue #4). Every one must be refused and change nothing.</summary>
internal static class HttpCases
{
    private const string Api = "/api/v1/collections";
    private static string Rec(string c, string id) => $"{Api}/{c}/records/{id}";

    /// <summary>Hostile writes aim at an existing record (alpha/r2), so "nothing changed" covers the target too.</summary>
    private static readonly string Target = Rec(Alpha, "r2");

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static string Fields(int n, string prefix = "f") =>
        "{" + string.Join(",", Enumerable.Range(0, n).Select(i => $"\"{prefix}{i}\":{i}")) + "}";

    private static string Arrays(int depth) => new string('[', depth) + new string(']', depth);
    private static string Objects(int depth) => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    private static string Item(string id, string extra = "") => $$$"""{"id":"{{{id}}}","op":"put","version":{V},"data":{"x":1}{{{extra}}}}""";
    private static string Batch(IEnumerable<string> items) => "{\"records\":[" + string.Join(",", items) + "]}";
    private static string GoodItems(int n, int badAt, string bad) =>
        Batch(Enumerable.Range(0, n).Select(i => i == badAt ? bad : Item($"new-{i}")));

    private static string Rfc3339(DateTimeOffset t) => ApiHttp.Rfc3339(t);

    /// <summary>The cursor encoding (base64url without padding) of any text, valid or not as an id.</summary>
    private static string Base64Url(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static readonly IReadOnlyDictionary<string, HttpCase> All = Build().ToDictionary(c => c.Name, StringComparer.Ordinal);

    private static IEnumerable<HttpCase> Build()
    {
        const HttpStatusCode Bad = HttpStatusCode.BadRequest;
        const string V = "validation";
        HttpCase Put(string name, string body, string? key = null) => new(name, "PUT", Target, U(body), Bad, V, key);
        HttpCase PutBytes(string name, byte[] body, string? key = null) => new(name, "PUT", Target, body, Bad, V, key);
        HttpCase Patch(string name, string body, string? key = null) => new(name, "PATCH", Target, U(body), Bad, V, key);
        HttpCase Post(string name, string body, string? key = null) => new(name, "POST", $"{Api}/{Alpha}/records", U(body), Bad, V, key);
        HttpCase Get(string name, string target, string? key) => new(name, "GET", target, null, Bad, V, key);
        HttpCase Delete(string name, string query, string? key) => new(name, "DELETE", Target + "?" + query, null, Bad, V, key);

        // --- malformed JSON -------------------------------------------------------------------------
        yield return Put("PUT malformed: truncated object", """{"version":{V},"data":{"a":1}""");
        yield return Put("PUT malformed: unquoted property name", """{version:{V},"data":{"a":1}}""");
        yield return Put("PUT malformed: single-quoted string", """{"version":{V},"data":{"a":'x'}}""");
        yield return Put("PUT malformed: garbage after the document", """{"version":{V},"data":{"a":1}} x""");
        yield return Put("PUT malformed: two documents", """{"version":{V},"data":{"a":1}}{"version":{V},"data":{"a":2}}""");
        yield return Put("PUT malformed: trailing comma", """{"version":{V},"data":{"a":1},}""");
        yield return Put("PUT malformed: comment", """{"version":{V},"data":{"a":1}/* c */}""");
        yield return Put("PUT malformed: NaN literal", """{"version":{V},"data":{"a":NaN}}""");
        yield return Put("PUT malformed: Infinity literal", """{"version":{V},"data":{"a":-Infinity}}""");
        yield return Put("PUT malformed: number with a leading zero", """{"version":{V},"data":{"a":01}}""");
        yield return Put("PUT malformed: raw control character in a string", "{\"version\":{V},\"data\":{\"a\":\"x\u0001y\"}}");
        yield return Put("PUT malformed: invalid escape", """{"version":{V},"data":{"a":"\x41"}}""");
        yield return Put("PUT malformed: empty body", "", "body");
        yield return Put("PUT malformed: whitespace only", "   \r\n ");
        yield return Put("PUT malformed: body is JSON null", "null", "body");
        yield return Put("PUT malformed: body is an empty array", "[]", "$");
        yield return Put("PUT malformed: body is a number", "42", "$");
        yield return Put("PUT malformed: body is a string", "\"x\"", "$");
        yield return Put("PUT malformed: body is true", "true", "$");
        yield return PutBytes("PUT malformed: NUL byte after the document", [.. U("""{"version":{V},"data":{"a":1}}"""), 0]);
        yield return PutBytes("PUT malformed: invalid UTF-8 in a field name", [.. U("{\"version\":{V},\"data\":{\""), 0xFF, .. U("\":1}}")]);
        yield return PutBytes("PUT malformed: invalid UTF-8 in a string value", [.. U("{\"version\":{V},\"data\":{\"a\":\"x"), 0xC3, .. U("\"}}")]);
        yield return PutBytes("PUT malformed: UTF-8-encoded surrogate in a string value", [.. U("{\"version\":{V},\"data\":{\"a\":\""), 0xED, 0xA0, 0x80, .. U("\"}}")]);
        yield return Put("PUT malformed: lone high surrogate escape in a value", """{"version":{V},"data":{"a":"\ud800"}}""");
        yield return Put("PUT malformed: lone low surrogate escape nested in a value", """{"version":{V},"data":{"a":[{"b":"x\udc00"}]}}""");
        yield return Put("PUT malformed: lone surrogate escape in a field name", """{"version":{V},"data":{"\ud800":1}}""");
        yield return Patch("PATCH malformed: truncated object", """{"version":{V},"data":{"a":""");
        yield return Patch("PATCH malformed: body is JSON null", "null", "body");
        yield return Patch("PATCH malformed: lone surrogate escape in a value", """{"version":{V},"data":{"a":"\udfff"}}""");

        // --- wrong types ----------------------------------------------------------------------------
        foreach (var (what, data) in new[] { ("a string", "\"x\""), ("an array", "[1]"), ("a number", "5"), ("null", "null"), ("true", "true") })
        {
            yield return Put($"PUT data is {what}", $$$"""{"version":{V},"data":{{{data}}}}""", "data");
            yield return Patch($"PATCH data is {what}", $$$"""{"version":{V},"data":{{{data}}}}""", "data");
        }
        yield return Put("PUT without data", """{"version":{V}}""", "data");
        yield return Patch("PATCH with an empty data object", """{"version":{V},"data":{}}""", "data");

        foreach (var (what, version, key) in new[]
        {
            ("2^63", "9223372036854775808", "$.version"),
            ("2^64", "18446744073709551616", "$.version"),
            ("1e400", "1e400", "$.version"),
            ("2^53", "9007199254740992", "version"),
            ("-1", "-1", "version"),
            ("-2^63", "-9223372036854775808", "version"),
            ("a JSON string", "\"1\"", "$.version"),
            ("a float", "1.5", "$.version"),
            ("1.0", "1.0", "$.version"),
            ("1e3", "1e3", "$.version"),
            ("true", "true", "$.version"),
            ("an object", "{\"n\":1}", "$.version"),
            ("an array", "[1]", "$.version"),
            ("null", "null", "version"),
        })
            yield return Put($"PUT version is {what}", $$$"""{"version":{{{version}}},"data":{"a":1}}""", key);
        yield return Put("PUT without a version (version policy)", """{"data":{"a":1}}""", "version");
        yield return Patch("PATCH version is -1", """{"version":-1,"data":{"a":1}}""", "version");

        foreach (var (what, ts) in new[]
        {
            ("an impossible date (Feb 30)", "2026-02-30T00:00:00Z"),
            ("year 10000", "10000-01-01T00:00:00Z"),
            ("year 0000", "0000-01-01T00:00:00Z"),
            ("before year 1 once in UTC", "0001-01-01T00:00:00+01:00"),
            ("without seconds", "2026-01-01T00:00Z"),
            ("without an offset", "2026-01-01T00:00:00"),
            ("a date only", "2026-01-01"),
            ("an offset of +24:00", "2026-01-01T00:00:00+24:00"),
            ("ten fraction digits", "2026-01-01T00:00:00.1234567890Z"),
            ("fullwidth digits", "２０２６-01-01T00:00:00Z"),
            ("a trailing newline", "2026-01-01T00:00:00Z\\n"),
            ("empty", ""),
            ("far in the future (9999)", "9999-12-31T23:59:59Z"),
            ("an hour ahead", Rfc3339(DateTimeOffset.UtcNow.AddHours(1))),
        })
            yield return Put($"PUT timestamp is {what}", $$$"""{"version":{V},"timestamp":"{{{ts}}}","data":{"a":1}}""", "timestamp");
        yield return Put("PUT timestamp is a number", """{"version":{V},"timestamp":1735787045000,"data":{"a":1}}""", "$.timestamp");
        yield return Put("PUT timestamp is an object", """{"version":{V},"timestamp":{},"data":{"a":1}}""", "$.timestamp");
        yield return Put("PUT source is a number", """{"version":{V},"source":5,"data":{"a":1}}""", "$.source");
        yield return new("PUT source other than the key's", "PUT", Target, U("""{"version":{V},"source":"other","data":{"a":1}}"""), HttpStatusCode.Forbidden, "forbidden");

        // --- field names and counts -----------------------------------------------------------------
        yield return Put("PUT field name empty", """{"version":{V},"data":{"":1}}""", "data.");
        yield return Put("PUT field name $x", """{"version":{V},"data":{"ok":1,"$x":1}}""", "data.$x");
        yield return Put("PUT field name $ alone", """{"version":{V},"data":{"$":1}}""", "data.$");
        yield return Put("PUT field name $rev (a meta name)", """{"version":{V},"data":{"$rev":99}}""", "data.$rev");
        yield return Put("PUT field name of 201 characters", $$$"""{"version":{V},"data":{"{{{new string('f', 201)}}}":1}}""", "data." + new string('f', 201));
        yield return Patch("PATCH field name $x", """{"version":{V},"data":{"$x":null}}""", "data.$x");
        yield return Put("PUT 257 fields", $$$"""{"version":{V},"data":{{{Fields(257)}}}}""", "data");
        yield return Put("PUT 10,000 fields", $$$"""{"version":{V},"data":{{{Fields(10_000)}}}}""", "data");
        yield return Patch("PATCH 10,000 fields", $$$"""{"version":{V},"data":{{{Fields(10_000)}}}}""", "data");

        // --- nesting (MaxJsonDepth 64 counts the outer object: see DepthBoundaryTests) -----------------
        yield return Put("PUT nesting depth 65 (arrays)", $$$"""{"version":{V},"data":{"a":{{{Arrays(63)}}}}}""", "$.data");
        yield return Put("PUT nesting depth 65 (objects)", $$$"""{"version":{V},"data":{"a":{{{Objects(63)}}}}}""", "$.data");
        yield return Put("PUT nesting depth 10,000", $$$"""{"version":{V},"data":{"a":{{{Arrays(10_000)}}}}}""", "$.data");
        yield return Put("PUT 100,000 unclosed brackets", """{"version":{V},"data":{"a":""" + new string('[', 100_000));

        // --- duplicate keys at every level ------------------------------------------------------------
        yield return Put("PUT duplicate key: version", """{"version":{V},"version":{V},"data":{"a":1}}""", "$.version");
        yield return Put("PUT duplicate key: data", """{"version":{V},"data":{"a":1},"data":{"b":1}}""", "$.data");
        yield return Put("PUT duplicate key: version and Version", """{"version":{V},"Version":{V},"data":{"a":1}}""", "$.Version");
        yield return Put("PUT duplicate key: a field of data", """{"version":{V},"data":{"a":1,"a":2}}""", "$.data");
        yield return Put("PUT duplicate key: a field and its escaped spelling", """{"version":{V},"data":{"a":1,"\u0061":2}}""", "$.data");
        yield return Put("PUT duplicate key: inside a nested value", """{"version":{V},"data":{"a":{"b":1,"b":1}}}""", "$.data");
        yield return Put("PUT duplicate key: inside an array in a value", """{"version":{V},"data":{"a":[{"b":1,"b":2}]}}""", "$.data");
        yield return Patch("PATCH duplicate key: a field of data", """{"version":{V},"data":{"a":1,"a":null}}""", "$.data");
        yield return Post("POST duplicate key: records", Batch([Item("n1")])[..^1] + ",\"records\":[]}", "$.records");
        yield return Post("POST duplicate key: an item's id", Batch([Item("n1", ",\"id\":\"n2\"")]), "$.records[0].id");
        yield return Post("POST duplicate key: an item's data field", Batch(["""{"id":"n1","op":"put","version":{V},"data":{"x":1,"x":2}}"""]), "$.records[0].data");

        // --- size and content type --------------------------------------------------------------------
        yield return new("PUT body over 1 MiB with a Content-Length", "PUT", Target,
            U($$$"""{"version":{V},"data":{"blob":"{{{new string('x', 1100 * 1024)}}}"}}"""), HttpStatusCode.RequestEntityTooLarge, "payload-too-large", Transport: Transport.Raw);
        yield return new("PUT body over 1 MiB, chunked", "PUT", Target,
            U($$$"""{"version":{V},"data":{"blob":"{{{new string('x', 2 * 1024 * 1024)}}}"}}"""), HttpStatusCode.RequestEntityTooLarge, "payload-too-large", Transport: Transport.Chunked);
        yield return new("POST batch over 1 MiB", "POST", $"{Api}/{Alpha}/records",
            U(Batch(Enumerable.Range(0, 1000).Select(i => Item($"big-{i}", $",\"pad\":\"{new string('p', 1100)}\"")))), HttpStatusCode.RequestEntityTooLarge, "payload-too-large", Transport: Transport.Raw);
        yield return new("PUT as text/plain", "PUT", Target, U("""{"version":{V},"data":{"a":1}}"""), HttpStatusCode.UnsupportedMediaType, V, ContentType: "text/plain");
        yield return new("PUT without a content type", "PUT", Target, U("""{"version":{V},"data":{"a":1}}"""), HttpStatusCode.UnsupportedMediaType, V, ContentType: null);
        yield return new("POST as form data", "POST", $"{Api}/{Alpha}/records", U("records=1"), HttpStatusCode.UnsupportedMediaType, V, ContentType: "application/x-www-form-urlencoded");

        // --- authentication and authorization come before the body -------------------------------------
        yield return new("PUT malformed body without a key", "PUT", Target, U("{"), HttpStatusCode.Unauthorized, "unauthorized", ApiKey: null);
        yield return new("PUT malformed body with an unknown key", "PUT", Target, U("{"), HttpStatusCode.Unauthorized, "unauthorized", ApiKey: "not-a-key-0000000000000000");
        yield return new("PUT malformed body with a read-only key", "PUT", Target, U("{"), HttpStatusCode.Forbidden, "forbidden", ApiKey: TestKeys.Reader);
        yield return new("PUT with a key limited to another collection", "PUT", Target, U("""{"version":{V},"data":{"a":1}}"""), HttpStatusCode.Forbidden, "forbidden", ApiKey: TestKeys.OrdersOnly);
        yield return new("GET /collections without a key", "GET", Api, null, HttpStatusCode.Unauthorized, "unauthorized", ApiKey: null);
        yield return new("DELETE /collections (no such method)", "DELETE", Api, null, HttpStatusCode.MethodNotAllowed, "not-found");

        // --- key tricks in collection and id (route values) ----------------------------------------------
        var badCollections = new (string What, string Segment, HttpStatusCode Status, string Code, string? Key, Transport Via, bool Problem)[]
        {
            ("a:b", "a:b", Bad, V, "collection", Transport.HttpClient, true),
            ("{x} (escaped)", "%7Bx%7D", Bad, V, "collection", Transport.HttpClient, true),
            ("{x} (raw braces)", "{x}", Bad, V, "collection", Transport.Raw, true),
            ("alpha} (closing brace)", "alpha%7D", Bad, V, "collection", Transport.HttpClient, true),
            ("*", "*", Bad, V, "collection", Transport.HttpClient, true),
            ("%2A", "%2A", Bad, V, "collection", Transport.HttpClient, true),
            ("trailing newline", "alpha%0A", Bad, V, "collection", Transport.HttpClient, true),
            ("trailing space", "alpha%20", Bad, V, "collection", Transport.HttpClient, true),
            ("Cyrillic lookalike", "%D0%B0lpha", Bad, V, "collection", Transport.HttpClient, true),
            ("zero-width space", "alpha%E2%80%8B", Bad, V, "collection", Transport.HttpClient, true),
            ("RTL override", "%E2%80%AEalpha", Bad, V, "collection", Transport.HttpClient, true),
            ("upper case", "ALPHA", Bad, V, "collection", Transport.HttpClient, true),
            ("65 characters", new string('a', 65), Bad, V, "collection", Transport.HttpClient, true),
            ("escaped slash", "alpha%2Fbeta", Bad, V, "collection", Transport.HttpClient, true),
            ("backslash", "alpha%5Cbeta", Bad, V, "collection", Transport.HttpClient, true),
            ("%25 (an escaped percent)", "alpha%2500", Bad, V, "collection", Transport.HttpClient, true),
            // Dot segments are removed before routing (RFC 3986 §5.2.4): no route is left.
            ("..", "..", HttpStatusCode.NotFound, "not-found", null, Transport.Raw, true),
            ("%2E%2E", "%2E%2E", HttpStatusCode.NotFound, "not-found", null, Transport.Raw, true),
            // Kestrel refuses a NUL in the path while parsing the request line, before the application runs.
            ("%00", "%00", Bad, V, null, Transport.HttpClient, false),
            ("alpha%00", "alpha%00", Bad, V, null, Transport.HttpClient, false),
        };
        foreach (var c in badCollections)
        {
            var item = Batch([Item("n1")]);
            foreach (var (method, target, body) in new (string, string, string?)[]
            {
                ("PUT", $"{Api}/{c.Segment}/records/r2", """{"version":{V},"data":{"a":1}}"""),
                ("DELETE", $"{Api}/{c.Segment}/records/r2?version=999", null),
                ("GET", $"{Api}/{c.Segment}/records/r2", null),
                ("GET", $"{Api}/{c.Segment}/records", null),
                ("GET", $"{Api}/{c.Segment}/changes", null),
                ("POST", $"{Api}/{c.Segment}/records", item),
            })
            {
                var status = c.Status;
                // "/a/../records" leaves "/api/v1/records…": nothing routes there, whatever the method.
                yield return new($"{method} {target.Replace(Api, "…")} (collection {c.What})", method, target, body is null ? null : U(body),
                    status, c.Code, c.Key, Transport: c.Via, ProblemBody: c.Problem);
            }
        }

        var badIds = new (string What, string Segment, HttpStatusCode Status, string Code, string? Key, Transport Via, bool Problem)[]
        {
            ("a:b", "a:b", Bad, V, "id", Transport.HttpClient, true),
            ("{x}", "%7Bx%7D", Bad, V, "id", Transport.HttpClient, true),
            ("r2} (closing brace)", "r2%7D", Bad, V, "id", Transport.HttpClient, true),
            ("*", "*", Bad, V, "id", Transport.HttpClient, true),
            ("r* (a glob)", "r*", Bad, V, "id", Transport.HttpClient, true),
            ("r? (an escaped question mark)", "r%3F", Bad, V, "id", Transport.HttpClient, true),
            ("trailing newline on an existing id", "r2%0A", Bad, V, "id", Transport.HttpClient, true),
            ("trailing CR LF", "r2%0D%0A", Bad, V, "id", Transport.HttpClient, true),
            ("Cyrillic lookalike of an existing id", "%D1%802", Bad, V, "id", Transport.HttpClient, true),
            ("fullwidth r", "%EF%BD%922", Bad, V, "id", Transport.HttpClient, true),
            ("leading dot", ".r2", Bad, V, "id", Transport.HttpClient, true),
            ("129 characters", "r" + new string('x', 128), Bad, V, "id", Transport.HttpClient, true),
            ("escaped slash", "r2%2Fx", Bad, V, "id", Transport.HttpClient, true),
            ("space", "r%202", Bad, V, "id", Transport.HttpClient, true),
            ("..", "..", HttpStatusCode.NotFound, "not-found", null, Transport.Raw, true),
            ("%2E%2E", "%2E%2E", HttpStatusCode.NotFound, "not-found", null, Transport.Raw, true),
            ("%00", "%00", Bad, V, null, Transport.HttpClient, false),
            ("r2%00", "r2%00", Bad, V, null, Transport.HttpClient, false),
        };
        foreach (var c in badIds)
        {
            foreach (var (method, target, body) in new (string, string, string?)[]
            {
                ("PUT", Rec(Alpha, c.Segment), """{"version":{V},"data":{"a":1}}"""),
                ("PATCH", Rec(Alpha, c.Segment), """{"version":{V},"data":{"a":1}}"""),
                ("DELETE", Rec(Alpha, c.Segment) + "?version=999", null),
                ("GET", Rec(Alpha, c.Segment), null),
            })
                yield return new($"{method} {target.Replace(Api, "…")} (id {c.What})", method, target, body is null ? null : U(body),
                    c.Status, c.Code, c.Key, Transport: c.Via, ProblemBody: c.Problem);
        }
        // "/records/." is "/records": PUT, PATCH and DELETE have no route there.
        foreach (var method in new[] { "PUT", "PATCH", "DELETE" })
            yield return new($"{method} …/alpha/records/. (id .)", method, Rec(Alpha, "."), method == "DELETE" ? null : U("""{"version":{V},"data":{"a":1}}"""),
                HttpStatusCode.MethodNotAllowed, "not-found", Transport: Transport.Raw);

        // --- batches ------------------------------------------------------------------------------------
        yield return Post("POST batch of 0 items", """{"records":[]}""", "records");
        yield return Post("POST batch of 1,001 items", Batch(Enumerable.Range(0, 1001).Select(i => Item($"n-{i}"))), "records");
        yield return Post("POST batch with records null", """{"records":null}""", "records");
        yield return Post("POST batch without records", "{}", "records");
        yield return Post("POST batch body JSON null", "null", "body");
        yield return Post("POST batch body an array", "[]", "$");
        yield return Post("POST batch records is an object", """{"records":{}}""", "$.records");
        yield return Post("POST batch records is a string", """{"records":"x"}""", "$.records");
        yield return Post("POST batch item is a number", """{"records":[1]}""", "$.records[0]");
        yield return Post("POST batch item is null", """{"records":[null]}""", "records[0]");
        yield return Post("POST batch: one bad id among good items", GoodItems(5, 2, Item("a:b")), "records[2].id");
        yield return Post("POST batch: bad item at index 999 of 1,000", GoodItems(1000, 999, Item("{x}")), "records[999].id");
        yield return Post("POST batch: first item good, second overwrites seeded r1 badly", Batch([Item("n1"), """{"id":"r1","op":"put","version":{V},"data":{"$x":1}}"""]), "records[1].data.$x");
        yield return Post("POST batch: unknown op", Batch([Item("n1"), """{"id":"n2","op":"upsert","version":{V},"data":{"x":1}}"""]), "records[1].op");
        yield return Post("POST batch: op missing", Batch(["""{"id":"n2","version":{V},"data":{"x":1}}"""]), "records[0].op");
        yield return Post("POST batch: id missing", Batch(["""{"op":"put","version":{V},"data":{"x":1}}"""]), "records[0].id");
        yield return Post("POST batch: delete carrying data", Batch(["""{"id":"r2","op":"delete","version":{V},"data":{"x":1}}"""]), "records[0].data");
        yield return Post("POST batch: id with a trailing newline", Batch([Item("r2\\n")]), "records[0].id");
        yield return Post("POST batch: id with a NUL", Batch([Item("r2\\u0000")]), "records[0].id");
        yield return Post("POST batch: id *", Batch([Item("*")]), "records[0].id");
        yield return Post("POST batch: id ..", Batch([Item("..")]), "records[0].id");
        yield return Post("POST batch: item version 2^63", Batch([Item("n1"), """{"id":"n2","op":"put","version":9223372036854775808,"data":{"x":1}}"""]), "$.records[1].version");
        yield return Post("POST batch: item version a string", Batch(["""{"id":"n2","op":"put","version":"1","data":{"x":1}}"""]), "$.records[0].version");
        yield return Post("POST batch: item version negative", Batch(["""{"id":"n2","op":"put","version":-1,"data":{"x":1}}"""]), "records[0].version");
        yield return Post("POST batch: item timestamp in year 10000", Batch(["""{"id":"n2","op":"put","version":{V},"timestamp":"10000-01-01T00:00:00Z","data":{"x":1}}"""]), "records[0].timestamp");
        yield return Post("POST batch: item with 10,000 fields", Batch([$$$"""{"id":"n2","op":"put","version":{V},"data":{{{Fields(10_000)}}}}"""]), "records[0].data");
        yield return Post("POST batch: item field $x", Batch(["""{"id":"n2","op":"patch","version":{V},"data":{"$x":1}}"""]), "records[0].data.$x");
        yield return Post("POST batch: item nesting depth 65", Batch([$$$"""{"id":"n2","op":"put","version":{V},"data":{"a":{{{Arrays(61)}}}}}"""]));
        yield return Post("POST batch: item data lone surrogate escape", Batch([Item("n1"), """{"id":"n2","op":"put","version":{V},"data":{"x":"\ud800"}}"""]));
        yield return new("POST batch: item source other than the key's", "POST", $"{Api}/{Alpha}/records",
            U(Batch([Item("n1"), """{"id":"n2","op":"put","version":{V},"source":"other","data":{"x":1}}"""])), HttpStatusCode.Forbidden, "forbidden");

        // --- DELETE's query ------------------------------------------------------------------------------
        yield return Delete("DELETE without a version", "", "version");
        foreach (var (what, value) in new[]
        {
            ("-1", "-1"), ("abc", "abc"), ("2^63", "9223372036854775808"), ("2^53", "9007199254740992"), ("1e3", "1e3"),
            ("1.0", "1.0"), ("+1", "%2B1"), (" 1", "%201"), ("empty", ""), ("twice", "1&version=2"), ("0x10", "0x10"),
            ("fullwidth 1", "%EF%BC%91"), ("with a leading NUL", "%00999"),
        })
            yield return Delete($"DELETE version {what}", "version=" + value, "version");
        foreach (var (what, value) in new[]
        {
            ("an impossible date", "2026-02-30T00:00:00Z"), ("year 10000", "10000-01-01T00:00:00Z"), ("empty", ""),
            ("without an offset", "2026-01-01T00:00:00"), ("far in the future", "9999-12-31T23:59:59Z"), ("a number", "1735787045000"),
            ("an hour ahead", Uri.EscapeDataString(Rfc3339(DateTimeOffset.UtcNow.AddHours(1)))),
        })
            yield return Delete($"DELETE timestamp {what}", "version=999&timestamp=" + value, "timestamp");
        // .NET's integer parsing ignores trailing NULs; a version this high would really delete r3 if let through.
        yield return new("DELETE version with a trailing NUL", "DELETE", Rec(Alpha, "r3") + "?version=9007199254740990%00", null, Bad, V, "version");
        yield return new("DELETE source other than the key's", "DELETE", Target + "?version=999&source=other", null, HttpStatusCode.Forbidden, "forbidden");

        // --- reads: include, limit, cursor, after ---------------------------------------------------------
        foreach (var value in new[] { "x", "", "CLOCKS", "clocks,data", "clocks&include=clocks" })
            yield return Get($"GET record include={value}", Rec(Alpha, "r1") + "?include=" + value, "include");
        foreach (var (what, value) in new[]
        {
            ("0", "0"), ("-1", "-1"), ("1001", "1001"), ("abc", "abc"), ("1e2", "1e2"), ("empty", ""), ("2^64", "18446744073709551616"),
            ("+5", "%2B5"), ("1.5", "1.5"), ("twice", "1&limit=2"), ("fullwidth 5", "%EF%BC%95"), ("with a trailing NUL", "5%00"),
        })
        {
            yield return Get($"GET records limit {what}", $"{Api}/{Alpha}/records?limit={value}", "limit");
            yield return Get($"GET changes limit {what}", $"{Api}/{Alpha}/changes?limit={value}", "limit");
        }
        foreach (var (what, value) in new[]
        {
            ("garbage", "!!!"), ("empty", ""), ("base64 of a:b", "YTpi"), ("base64 of {x}", "e3h9"), ("base64 of .", "Lg"),
            ("base64 of a NUL", "AA"), ("base64 of invalid UTF-8", "_w"), ("base64 of a 129-character id", Base64Url("r" + new string('x', 128))),
            ("base64 with bad padding", "YQ===="), ("%00", "%00"),
        })
            yield return Get($"GET records cursor {what}", $"{Api}/{Alpha}/records?cursor={value}", "cursor");
        foreach (var (what, value) in new[]
        {
            ("abc", "abc"), ("-1", "-1"), ("1-", "1-"), ("-1-0", "-1-0"), ("overflow 99999999999999999999-0", "99999999999999999999-0"),
            ("empty", ""), ("trailing newline", "1-0%0A"), ("leading space", "%201-0"), ("three parts", "1-0-0"), ("hex", "0x1-0"),
            ("+", "%2B"), ("$", "%24"), ("twice", "0-0&after=0-1"), ("fullwidth digits", "%EF%BC%91-0"),
            ("Arabic-Indic digits", "%D9%A1-%D9%A0"), ("with a trailing NUL", "0-0%00"),
        })
            yield return Get($"GET changes after {what}", $"{Api}/{Alpha}/changes?after={value}", "after");
        yield return new("GET changes after a seq beyond the log", "GET", $"{Api}/{Alpha}/changes?after=18446744073709551-0", null,
            HttpStatusCode.Gone, "resync-required");
    }
}
