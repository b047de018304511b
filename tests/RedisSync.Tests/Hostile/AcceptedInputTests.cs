using System.Net;
using System.Text;
using System.Text.Json;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Hostile;

/// <summary>
/// Issue #4, the other half: input that looks hostile but is valid by the contract — Lua-special and very long
/// strings, odd numbers, odd Unicode and key-like field names — is accepted, stored, and read back exactly
/// (write result, GET, records page, change log), through PUT, PATCH and batch; and nothing outside the written
/// record's collection changes.
/// </summary>
public sealed class AcceptedInputTests(HostileGateway gateway) : IClassFixture<HostileGateway>
{
    private const string Collection = "accepted";
    private static int _n;

    /// <summary>A field name and a value (as compact JSON text) that must both survive untouched.</summary>
    internal sealed record OddField(string Name, string Field, string Json);

    private static string J(string s) => JsonSerializer.Serialize(s); // a JSON string literal for s (escapes as needed)

    private static readonly string LuaSoup = string.Concat(Enumerable.Repeat("%s%d ]] --[[ [==[ redis.call('FLUSHALL') \\ \" \0 \r\n*1\r\n$8\r\nFLUSHALL\r\n ", 4)) ;

    internal static readonly IReadOnlyDictionary<string, OddField> Cases = new OddField[]
    {
        // Strings that mean something to Lua, to Redis or to string formatting are data like any other.
        new("value %s", "v", J("%s")),
        new("value %d%n%x", "v", J("%d%n%x%%")),
        new("value NUL only", "v", J("\0")),
        new("value with NUL inside", "v", J("a\0b\0")),
        new("value ]]", "v", J("]]")),
        new("value --[[", "v", J("--[[")),
        new("value ]]--", "v", J("]]--")),
        new("value [==[ long bracket", "v", J("[==[ x ]==]")),
        new("value redis.call('FLUSHALL')", "v", J("redis.call('FLUSHALL')")),
        new("value return redis.call(\"FLUSHALL\")", "v", J("return redis.call(\"FLUSHALL\")")),
        new("value closing a string then calling", "v", J("\"); redis.call('FLUSHALL'); --")),
        new("value KEYS[1] and ARGV[1]", "v", J("KEYS[1] ARGV[1] cjson.null")),
        new("value RESP injection", "v", J("\r\n*1\r\n$8\r\nFLUSHALL\r\n")),
        new("value like a meta field", "v", J("$rev")),
        new("value like a Redis key", "v", J("rs:{alpha}:r:r1")),
        new("value * and ..", "v", J("* .. %00 ../../")),
        new("value backslashes and quotes", "v", J("\\\"\\\\\"")),
        new("value RTL override", "v", J("\u202Eevil")),
        new("value emoji", "v", J("😀👩‍👩‍👧")),
        new("value BOM and U+FFFF", "v", J("\uFEFF\uFFFF")),
        new("value empty string", "v", J("")),
        new("value 500 KB of Lua-special text", "v", J(string.Concat(Enumerable.Repeat(LuaSoup, 500_000 / LuaSoup.Length + 1))[..500_000])),
        new("value 500 KB of ]]", "v", J(string.Concat(Enumerable.Repeat("]]", 250_000)))),
        // Numbers keep their literal, digit for digit (PITFALLS 1).
        new("value 2^63", "v", "9223372036854775808"),
        new("value 2^64", "v", "18446744073709551616"),
        new("value 1e400", "v", "1e400"),
        new("value -1e400", "v", "-1e400"),
        new("value 0.1e-400", "v", "0.1e-400"),
        new("value -0", "v", "-0"),
        new("value 1E+2", "v", "1E+2"),
        new("value pi", "v", "3.141592653589793"),
        new("value 39 significant digits", "v", "123456789012345678901234567890.123456789"),
        // Shapes cjson would confuse, and nesting that is only a value.
        new("value empty object", "v", "{}"),
        new("value empty array", "v", "[]"),
        new("value array of empty object", "v", "[{}]"),
        new("value null (a PUT value)", "v", "null"),
        new("value false", "v", "false"),
        new("value nested $ and empty keys", "v", """{"$x":1,"":2,"a:b":{"{x}":[]}}"""),
        new("value nested object of 10,000 keys", "v", "{" + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"k{i}\":{i}")) + "}"),
        // Field names: 1-200 characters not starting with '$' are valid, whatever the characters.
        new("field NUL inside", "a\0b", "1"),
        new("field newline", "line\nbreak", "1"),
        new("field tab and CR", "\t\r", "1"),
        new("field RTL override", "\u202Eabc", "1"),
        new("field emoji", "😀", "1"),
        new("field ZWJ sequence", "👩‍👩‍👧", "1"),
        new("field 100 emoji (200 UTF-16 units)", string.Concat(Enumerable.Repeat("😀", 100)), "1"),
        new("field decomposed e-acute", "e\u0301", "1"),
        new("field 200 characters", new string('f', 200), "1"),
        new("field 200 non-ASCII characters", new string('é', 200), "1"),
        new("field like a clock key c:x", "c:x", "1"),
        new("field like a value key v:x", "v:x", "1"),
        new("field colon", ":", "1"),
        new("field space then $", " $", "1"),
        new("field $ not first", "x$", "1"),
        new("field %s", "%s", "1"),
        new("field ]]", "]]", "1"),
        new("field redis.call('FLUSHALL')", "redis.call('FLUSHALL')", "1"),
        new("field like a Redis key", "rs:{alpha}:r:r1", "1"),
        new("field * and ..", "*..", "1"),
        new("field BOM", "\uFEFF", "1"),
        new("field __proto__", "__proto__", "1"),
    }.ToDictionary(c => c.Name, StringComparer.Ordinal);

    public static TheoryData<string, string> CasesByOp()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in Cases.Keys)
            foreach (var op in new[] { "put", "patch", "batch" })
            {
                if (op == "patch" && Cases[name].Json == "null") continue; // a PATCH null removes: not a value
                data.Add(name, op);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(CasesByOp))]
    public async Task AnOddButValidFieldIsStoredAndReadBackExactlyAndNothingElseChanges(string name, string op)
    {
        var c = Cases[name];
        // A collection per case: "nothing else changed" then covers every other case's records too.
        var collection = $"acc-{Interlocked.Increment(ref _n)}";
        var id = $"{op}-record";
        var before = await gateway.SnapshotAsync();
        using var http = gateway.HttpClient();
        var data = "{" + J(c.Field) + ":" + c.Json + "}";

        JsonElement written;
        if (op == "batch")
        {
            var batch = await (await http.PostRawAsync(Records(collection), $$$"""{"records":[{"id":"{{{id}}}","op":"put","version":1,"data":{{{data}}}}]}"""))
                .JsonAsync(HttpStatusCode.OK);
            written = batch.GetProperty("results")[0];
        }
        else
        {
            var body = $$$"""{"version":1,"data":{{{data}}}}""";
            var response = op == "put" ? await http.PutRawAsync(Record(collection, id), body) : await http.PatchRawAsync(Record(collection, id), body);
            written = await response.JsonAsync(HttpStatusCode.Created);
        }
        Assert.Equal("applied", written.GetProperty("outcome").GetString());
        AssertExactly(c, written.GetProperty("record").GetProperty("data"), "write result");

        var read = await (await http.GetAsync(Record(collection, id) + "?include=clocks")).JsonAsync(HttpStatusCode.OK);
        AssertExactly(c, read.GetProperty("data"), "GET");
        Assert.Equal([c.Field], read.GetProperty("fields").EnumerateObject().Select(p => p.Name).ToArray());

        var seq = written.GetProperty("seq").GetString()!;
        var change = Assert.Single(await http.AllChangesAsync(collection));
        Assert.Equal(seq, change.GetProperty("seq").GetString());
        Assert.Equal([c.Field], change.GetProperty("changedFields").Strings());
        AssertExactly(c, change.GetProperty("record").GetProperty("data"), "change log");

        // Only this collection's keys (and the collection set, on the first write) may differ.
        before.AssertUnchanged(await gateway.SnapshotAsync(), name,
            ignore: key => key.StartsWith("rs:{" + collection + "}:", StringComparison.Ordinal) || key.StartsWith("rs:collections #", StringComparison.Ordinal));

        // The page of records serves it too, exactly.
        var page = await (await http.GetAsync(Records(collection))).JsonAsync(HttpStatusCode.OK);
        AssertExactly(c, Assert.Single(page.GetProperty("items").EnumerateArray()).GetProperty("data"), "records page");
    }

    /// <summary>The data holds exactly the one field, its name ordinal-equal and its value the same JSON.</summary>
    internal static void AssertExactly(OddField c, JsonElement data, string where)
    {
        var property = Assert.Single(data.EnumerateObject());
        Assert.True(string.Equals(c.Field, property.Name, StringComparison.Ordinal), $"{where}: field name came back as {J(property.Name)}, sent {J(c.Field)}");
        var sent = JsonDocument.Parse(c.Json, new JsonDocumentOptions { MaxDepth = 256 }).RootElement;
        if (sent.ValueKind == JsonValueKind.String)
            Assert.True(string.Equals(sent.GetString(), property.Value.GetString(), StringComparison.Ordinal), $"{where}: string value changed");
        else
            Assert.Equal(c.Json, property.Value.GetRawText());
    }

    [Fact]
    public async Task PrecomposedAndDecomposedSpellingsAreTwoDifferentFields()
    {
        using var http = gateway.HttpClient();
        var data = "{" + J("\u00e9") + ":1," + J("e\u0301") + ":2}";
        var written = await (await http.PutRawAsync(Record(Collection, "nfc-nfd"), $$$"""{"version":1,"data":{{{data}}}}""")).JsonAsync(HttpStatusCode.Created);
        var names = written.GetProperty("record").GetProperty("data").EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())).ToArray();
        Assert.Equal(2, names.Length);
        Assert.Contains(("\u00e9", 1), names);
        Assert.Contains(("e\u0301", 2), names);
    }

    [Fact]
    public async Task AFieldNameOf200CodePointsOutsideTheBasicPlaneIsAccepted()
    {
        // CONTRACT §1: a field name is 1-200 *characters*. 200 emoji are 200 characters (400 UTF-16 code units).
        using var http = gateway.HttpClient();
        var name = string.Concat(Enumerable.Repeat("😀", 200));
        var response = await http.PutRawAsync(Record(Collection, "astral-200"), $$$"""{"version":1,"data":{{{"{" + J(name) + ":1}"}}}}""");
        var written = await response.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(name, Assert.Single(written.GetProperty("record").GetProperty("data").EnumerateObject()).Name);

        // ...and 201 of them are one too many.
        var tooLong = name + "😀";
        await (await http.PutRawAsync(Record(Collection, "astral-201"), $$$"""{"version":1,"data":{{{"{" + J(tooLong) + ":1}"}}}}""")).ValidationProblemAsync("data." + tooLong);
    }
}
