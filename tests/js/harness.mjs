// Starts a real redis-server and the real gateway (the built RedisSync.Gateway.dll) on free loopback
// ports, for tests that use the official SignalR JavaScript client.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The gateway's project folder: as the content root, its wwwroot (the dashboard) is served at /. */
export const gatewayProject = join(root, 'src', 'RedisSync.Gateway');

export const keys = {
  writer: 'js-writer-key-00000000001',
  ordersOnly: 'js-orders-key-00000000002',
};

/** A free loopback port (for a gateway whose URL another one must know before either starts). */
export function freePort() {
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

/** Stops a child process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function stopProcess(child, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts redis-server + gateway; `settings` are extra environment variables for the gateway.
 * `options.contentRoot` is the gateway's working directory and so its content root (default: this
 * process's); give `gatewayProject` to serve the dashboard. `options.port` is the gateway's port (default:
 * a free one).
 *
 * Besides `url` and `stop()`, the result can stop the gateway and start it again on the same port with
 * Redis kept (`stopGateway()`, `startGateway()`), and start more instances on the same Redis
 * (`startInstance()` → `{ url, stop() }`).
 */
export async function startGateway(settings = {}, options = {}) {
  const redisPort = await freePort();
  const httpPort = options.port ?? await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redissync-js-'));
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const env = {
    ...process.env,
    ASPNETCORE_ENVIRONMENT: 'Testing',
    Redis__ConnectionString: `127.0.0.1:${redisPort},abortConnect=false`,
    Auth__Keys__0__Name: 'js-writer', Auth__Keys__0__Key: keys.writer, Auth__Keys__0__Source: 'js',
    Auth__Keys__0__Read__0: '*', Auth__Keys__0__Write__0: '*',
    Auth__Keys__1__Name: 'js-orders', Auth__Keys__1__Key: keys.ordersOnly, Auth__Keys__1__Source: 'orders-app',
    Auth__Keys__1__Read__0: 'orders', Auth__Keys__1__Write__0: 'orders',
    Logging__LogLevel__Default: 'Warning',
    RateLimit__Enabled: 'false',
    ...settings,
  };
  const dll = gatewayDll();

  async function launch(port) {
    const url = `http://127.0.0.1:${port}`;
    const child = spawn('dotnet', [dll], { env: { ...env, ASPNETCORE_URLS: url }, cwd: options.contentRoot, stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`the gateway exited at start (exit code ${code})`))));
    exited.catch(() => { /* only matters during the start, below */ });
    await Promise.race([waitFor(async () => (await fetch(`${url}/health/ready`)).ok, 'the gateway to be ready'), exited]);
    return { url, child };
  }

  let gateway = (await launch(httpPort)).child;
  const instances = new Set();

  return {
    url: `http://127.0.0.1:${httpPort}`,
    /** Stops the gateway process (SIGTERM); Redis keeps running. */
    async stopGateway() {
      await stopProcess(gateway);
    },
    /** Starts a new gateway process on the same port, after stopGateway(). */
    async startGateway() {
      if (gateway.exitCode === null && gateway.signalCode === null) throw new Error('the gateway is still running');
      gateway = (await launch(httpPort)).child;
    },
    /** Starts another gateway instance on the same Redis, on a port of its own. */
    async startInstance() {
      const instance = await launch(await freePort());
      instances.add(instance.child);
      return {
        url: instance.url,
        stop: async () => {
          instances.delete(instance.child);
          await stopProcess(instance.child);
        },
      };
    },
    async stop() {
      await Promise.all([gateway, ...instances].map((child) => stopProcess(child)));
      redis.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
