using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Api;

public sealed class SmokeTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Fact]
    public async Task PutThenGetReturnsTheRecordWrittenUnderTheKeysSource()
    {
        var c = Unique.Collection();
        var client = gateway.ClientWithKey();
        var put = await client.PutAsJsonAsync($"/api/v1/collections/{c}/records/r1", new { version = 1, data = new { name = "John" } });
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var get = await client.GetFromJsonAsync<JsonElement>($"/api/v1/collections/{c}/records/r1");
        Assert.Equal("John", get.GetProperty("data").GetProperty("name").GetString());
        Assert.Equal("writer", get.GetProperty("clock").GetProperty("source").GetString());
    }
}
