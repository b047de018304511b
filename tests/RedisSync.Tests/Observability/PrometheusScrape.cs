using System.Globalization;
using System.Text.RegularExpressions;

namespace RedisSync.Tests.Observability;

/// <summary>The samples of one scrape in Prometheus text format.</summary>
internal sealed partial class PrometheusScrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public PrometheusScrape(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a Prometheus sample line: '{line}'");
            var labels = LabelPair().Matches(sample.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
            _samples.Add((sample.Groups["name"].Value, labels, double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
    }

    public string Text { get; }

    /// <summary>The one sample of <paramref name="name"/> carrying these labels (others, such as the scope, are ignored).</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = _samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        Assert.True(matches.Count == 1, $"expected one sample {name}{{{string.Join(",", labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}}, found {matches.Count} in:\n{Text}");
        return matches[0].Value;
    }

    /// <summary>Like <see cref="Value"/>, but null when there is no such sample (a counter never incremented has none).</summary>
    public double? Find(string name, params (string Key, string Value)[] labels)
    {
        var matches = _samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        Assert.True(matches.Count <= 1, $"expected at most one sample {name}, found {matches.Count} in:\n{Text}");
        return matches.Count == 0 ? null : matches[0].Value;
    }

    /// <summary>The metric family's declared type (<c># TYPE name type</c>).</summary>
    public string? TypeOf(string family) =>
        Text.Split('\n').FirstOrDefault(l => l.StartsWith($"# TYPE {family} ", StringComparison.Ordinal))?[$"# TYPE {family} ".Length..];

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(?:[^"\\]|\\.)*)",?""")]
    private static partial Regex LabelPair();
}
