using System.Text.Json;
using System.Text.Json.Serialization;

namespace RedisSync.Gateway.Contracts;

/// <summary>
/// A record's <c>data</c>: field names with their values as the canonical JSON text the store holds.
/// Written out raw, so what a source wrote is what a reader gets, digit for digit (PITFALLS 1).
/// Fields are kept in ordinal order so equal states serialize to equal bytes.
/// </summary>
[JsonConverter(typeof(RecordDataConverter))]
public sealed class RecordData
{
    public static readonly RecordData Empty = new([]);

    public RecordData(IEnumerable<KeyValuePair<string, string>> fields) =>
        Fields = fields.OrderBy(f => f.Key, StringComparer.Ordinal).ToArray();

    private RecordData(KeyValuePair<string, string>[] sorted) => Fields = sorted;

    /// <summary>Fields already in ordinal order (a record state's), taken as they are.</summary>
    internal static RecordData FromSorted(KeyValuePair<string, string>[] sorted) => new(sorted);

    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; }

    /// <summary>Parses one field's value (tests and tools; the gateway itself never needs to).</summary>
    public JsonElement this[string name] =>
        JsonDocument.Parse(Fields.First(f => f.Key == name).Value).RootElement.Clone();
}

internal sealed class RecordDataConverter : JsonConverter<RecordData>
{
    public override RecordData Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new JsonException("data must be a JSON object");
        return new RecordData(doc.RootElement.EnumerateObject()
            .Select(p => KeyValuePair.Create(p.Name, JsonText.Canonical(p.Value))).ToList());
    }

    public override void Write(Utf8JsonWriter writer, RecordData value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, json) in value.Fields)
        {
            writer.WritePropertyName(name);
            writer.WriteRawValue(json, skipInputValidation: true);
        }
        writer.WriteEndObject();
    }
}
