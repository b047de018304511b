using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;

namespace RedisSync.Gateway.Api;

/// <summary>One write as received (body or query), with what decides its rules: policy and auth.</summary>
public sealed record WriteInput(
    WriteOp? Op,
    string? Id,
    long? Version,
    string? Timestamp,
    string? Source,
    JsonElement? Data,
    MergePolicy Policy,
    bool SourceFromBody);

/// <summary>The rules of CONTRACT §1–2 for one write. Errors name the field (and, in a batch, the item).</summary>
public sealed partial class WriteInputValidator : AbstractValidator<WriteInput>
{
    public WriteInputValidator(IOptions<SyncOptions> options, TimeProvider time)
    {
        var sync = options.Value;

        RuleFor(x => x.Op).NotNull().OverridePropertyName("op").WithMessage("op must be one of put, patch, delete.");
        // Two rules: a When() on a chain guards every validator before it, which would let an empty id through.
        RuleFor(x => x.Id).NotEmpty().OverridePropertyName("id").WithMessage("id is required.");
        RuleFor(x => x.Id).Must(id => Names.RecordId().IsMatch(id!)).When(x => !string.IsNullOrEmpty(x.Id))
            .OverridePropertyName("id").WithMessage(x => $"id '{x.Id}' must match {Names.RecordId()}.");

        RuleFor(x => x.Version).NotNull().When(x => x.Policy == MergePolicy.Version).OverridePropertyName("version")
            .WithMessage("version is required under this collection's version policy.");
        RuleFor(x => x.Version).InclusiveBetween(0, Clock.MaxVersion).When(x => x.Version is not null).OverridePropertyName("version")
            .WithMessage("version must be an integer from 0 to 2^53-1.");

        RuleFor(x => x.Timestamp).Must(ts => ParseTimestamp(ts!) is not null).When(x => x.Timestamp is not null).OverridePropertyName("timestamp")
            .WithMessage("timestamp must be RFC 3339 with an offset, e.g. 2026-11-22T10:00:00.123Z.")
            .Must(ts => ParseTimestamp(ts!) is not { } t || t <= time.GetUtcNow() + sync.MaxClockSkew)
            .When(x => x.Timestamp is not null).OverridePropertyName("timestamp")
            .WithMessage($"timestamp is more than {sync.MaxClockSkew} ahead of the gateway's clock.");

        RuleFor(x => x.Source).NotEmpty().When(x => x.SourceFromBody).OverridePropertyName("source")
            .WithMessage("source is required (auth is off, so the writer names itself).");
        RuleFor(x => x.Source).Must(s => Names.Source().IsMatch(s!)).When(x => !string.IsNullOrEmpty(x.Source)).OverridePropertyName("source")
            .WithMessage(x => $"source '{x.Source}' must match {Names.Source()}.");

        RuleFor(x => x.Data).Custom((data, ctx) =>
        {
            var op = ctx.InstanceToValidate.Op;
            if (op == WriteOp.Delete)
            {
                if (data is { ValueKind: not JsonValueKind.Null }) ctx.AddFailure("data", "A delete carries no data.");
                return;
            }
            if (op is null) return;
            if (data is not { ValueKind: JsonValueKind.Object } obj)
            {
                ctx.AddFailure("data", data is null or { ValueKind: JsonValueKind.Null } ? "data is required." : "data must be a JSON object.");
                return;
            }
            var count = 0;
            foreach (var field in obj.EnumerateObject())
            {
                count++;
                if (!JsonText.IsWellFormed(field.Name))
                    ctx.AddFailure("data", "A field name is not well-formed Unicode (an unpaired surrogate).");
                else if (field.Name.Length == 0 || CodePoints(field.Name) > sync.MaxFieldNameLength)
                    ctx.AddFailure($"data.{field.Name}", $"Field name '{field.Name}' must be 1 to {sync.MaxFieldNameLength} characters.");
                else if (field.Name[0] == '$')
                    ctx.AddFailure($"data.{field.Name}", $"Field name '{field.Name}' must not start with '$'.");
            }
            if (count > sync.MaxFieldsPerRecord)
                ctx.AddFailure("data", $"data has {count} fields; at most {sync.MaxFieldsPerRecord} are allowed.");
            if (count == 0 && op == WriteOp.Patch)
                ctx.AddFailure("data", "A PATCH must name at least one field.");
        });
    }

    // "Characters" are Unicode code points: an emoji is one character, not two UTF-16 units.
    private static int CodePoints(string s)
    {
        var n = s.Length;
        for (var i = 0; i + 1 < s.Length; i++)
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1])) { n--; i++; }
        return n;
    }

    /// <summary>Milliseconds since the epoch for an RFC 3339 timestamp with an offset, or null.</summary>
    public static DateTimeOffset? ParseTimestamp(string text) =>
        Rfc3339().IsMatch(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : null;

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})\z")]
    private static partial Regex Rfc3339();
}

/// <summary>Validates writes and shapes them for the store.</summary>
public sealed class WriteMapper(WriteInputValidator validator)
{
    /// <summary>Validates; on success returns the store's write, else adds errors under <paramref name="prefix"/>.</summary>
    public RecordWrite? Map(WriteInput input, string? keySource, string prefix, IDictionary<string, string[]> errors)
    {
        var result = validator.Validate(input);
        if (!result.IsValid)
        {
            foreach (var group in result.Errors.GroupBy(e => prefix + e.PropertyName))
                errors[group.Key] = group.Select(e => e.ErrorMessage).ToArray();
            return null;
        }
        var fields = new List<KeyValuePair<string, string>>();
        var wellFormed = true;
        if (input.Op != WriteOp.Delete)
            foreach (var field in input.Data!.Value.EnumerateObject())
            {
                if (JsonText.TryCanonical(field.Value) is { } json) fields.Add(KeyValuePair.Create(field.Name, json));
                else
                {
                    errors[$"{prefix}data.{field.Name}"] = ["The value is not well-formed Unicode (an unpaired surrogate escape such as \\ud800)."];
                    wellFormed = false;
                }
            }
        if (!wellFormed) return null;
        long? ts = input.Timestamp is { } text
            ? WriteInputValidator.ParseTimestamp(text)!.Value.ToUnixTimeMilliseconds()
            : input.Policy == MergePolicy.Timestamp ? null : 0; // null: Redis stamps it; version policy: the epoch
        return new RecordWrite(input.Op!.Value, input.Id!, input.Version ?? 0, ts, keySource ?? input.Source!, fields);
    }
}
