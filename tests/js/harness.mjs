// Starts a real redis-server and the real gateway (the built RedisSync.Gateway.dll) on free loopback
// ports, for tests that use the official SignalR JavaScript client.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const keys = {
  writer: 'js-writer-key-00000000001',
  ordersOnly: 'js-orders-key-00000000002',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function gatewayDll() {
  if (process.env.REDISSYNC_GATEWAY_DLL) return process.env.REDISSYNC_GATEWAY_DLL;
  const candidates = ['Release', 'Debug']
    .map((c) => join(root, 'src', 'RedisSync.Gateway', 'bin', c, 'net10.0', 'RedisSync.Gateway.dll'))
    .filter(existsSync)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (candidates.length > 0) return candidates[0];
  const build = spawnSync('dotnet', ['build', join(root, 'src', 'RedisSync.Gateway'), '-c', 'Release'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building the gateway failed');
  return gatewayDll();
}

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts redis-server + gateway; `settings` are extra environment variables for the gateway. */
export async function startGateway(settings = {}) {
  const redisPort = await freePort();
  const httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redissync-js-'));
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${httpPort}`;
  const env = {
    ...process.env,
    ASPNETCORE_ENVIRONMENT: 'Testing',
    ASPNETCORE_URLS: url,
    Redis__ConnectionString: `127.0.0.1:${redisPort},abortConnect=false`,
    Auth__Keys__0__Name: 'js-writer', Auth__Keys__0__Key: keys.writer, Auth__Keys__0__Source: 'js',
    Auth__Keys__0__Read__0: '*', Auth__Keys__0__Write__0: '*',
    Auth__Keys__1__Name: 'js-orders', Auth__Keys__1__Key: keys.ordersOnly, Auth__Keys__1__Source: 'orders-app',
    Auth__Keys__1__Read__0: 'orders', Auth__Keys__1__Write__0: 'orders',
    Logging__LogLevel__Default: 'Warning',
    RateLimit__Enabled: 'false',
    ...settings,
  };
  const gateway = spawn('dotnet', [gatewayDll()], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(async () => (await fetch(`${url}/health/ready`)).ok, 'the gateway to be ready');

  return {
    url,
    async stop() {
      gateway.kill('SIGTERM');
      redis.kill('SIGKILL');
      await new Promise((r) => (gateway.exitCode !== null ? r() : gateway.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
