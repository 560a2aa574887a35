// What the browser tests run against: a real `vamp serve` (the embedded default: SQLite, memory KV, the process
// driver, the embedded gateway agent driving the real HAProxy) on free ports in a fresh data directory, and a
// headless Debian Chromium driven by playwright-core. Everything started here is stopped by `stop()`:
// deployments are removed through the API, the server gets SIGTERM (SIGKILL after 20 s), and any process still
// running from the data directory is killed before the directory is removed.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../../..');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The `vamp` binary: $VAMP_BIN, else the debug build in $CARGO_TARGET_DIR or the repository's target/. */
export function vampBinary() {
  const bin = process.env.VAMP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target'), 'debug', 'vamp');
  if (!existsSync(bin)) {
    throw new Error(`no vamp binary at ${bin}: build the UI (npm run build) and then \`cargo build -p vamp-server --bin vamp\`, or set VAMP_BIN`);
  }
  return bin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports below the ephemeral range, for the ports HAProxy binds: a port from listen(0)
 * may be handed to another process before HAProxy binds it, and one port HAProxy cannot bind fails its reload.
 */
export async function freeRange(count) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 10000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p);
    if (ok) return [base, base + count - 1];
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

export function sleep(ms) {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Polls `check` (which returns a truthy value when done) every `every` ms until `timeout` ms have passed. */
export async function waitFor(what, check, timeout = 60000, every = 250) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(every);
  }
}

/**
 * One HTTP request; resolves to { status, body } or rejects on a connection error. A body is sent with its
 * Content-Length (Node sends a DELETE's body without framing otherwise, and the server would see none).
 */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) };
    const req = http.request(url, { method, headers: { Connection: 'close', ...length, ...headers }, agent: false, timeout: 5000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Sends `count` requests to the gateway on `port`: how many each demo version answered, and how many failed. */
export async function split(port, count) {
  const out = { '1.0': 0, '2.0': 0, failed: 0 };
  for (let i = 0; i < count; i++) {
    try {
      const r = await request(`http://127.0.0.1:${port}/`);
      if (r.status === 200 && r.body.includes('frontend-1.0')) out['1.0']++;
      else if (r.status === 200 && r.body.includes('frontend-2.0')) out['2.0']++;
      else out.failed++;
    } catch {
      out.failed++;
    }
  }
  return out;
}

/** Every process whose working directory or command line lies in `dir`. */
function processesIn(dir) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cwd = '';
    let cmdline = '';
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      // gone, or not ours to read
    }
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      // gone
    }
    if (cwd.startsWith(dir) || cmdline.includes(dir)) found.push({ pid: Number(entry), cmdline: cmdline.trim() });
  }
  return found;
}

/** Servers not stopped yet: killed, with everything they started, if this process exits early (Ctrl-C, a crash). */
const running = new Set();

function killEverything(server) {
  try {
    server.child.kill('SIGKILL');
  } catch {
    // gone
  }
  for (const p of processesIn(server.dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(server.dir, { recursive: true, force: true });
}

process.on('exit', () => running.forEach(killEverything));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(130));

/**
 * Starts `vamp serve` in a new temporary data directory, on free ports. `demo` adds `--demo` on a free port;
 * `tokens` sets admin API tokens; without them the server creates its admin token in the data directory, which
 * becomes `token`. Resolves once `/api/v1/health` answers and the UI is served.
 */
export async function startVamp({ demo = false, tokens = [] } = {}) {
  const bin = vampBinary();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vamp-ui-test-'));
  // one block of ports HAProxy binds: 12 for gateways without a port, then stats, agent HTTP, virtual hosts,
  // the demo gateway and one spare gateway port for the test itself
  const [lower] = await freeRange(17);
  const upper = lower + 11;
  const [stats, agentHttp, vhost, demoPortFree, sparePort] = [12, 13, 14, 15, 16].map((i) => lower + i);
  const listenPort = await freePort();
  const config = path.join(dir, 'vamp.yml');
  writeFileSync(
    config,
    [
      'agent:',
      `  stats-bind: 127.0.0.1:${stats}`,
      `  http-bind: 127.0.0.1:${agentHttp}`,
      'gateways:',
      `  vhost-bind: 127.0.0.1:${vhost}`,
      `  port-range: ${lower}-${upper}`,
      'synchronization:',
      '  period-ms: 2000',
      '',
    ].join('\n'),
  );
  const args = ['serve', '--log-level', 'warn', '--listen', `127.0.0.1:${listenPort}`, '--data-dir', path.join(dir, 'data'), '--config', config];
  const demoPort = demo ? demoPortFree : undefined;
  if (demo) args.push('--demo', '--demo-port', String(demoPort));
  for (const t of tokens) args.push('--api-token', t);
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const output = [];
  const remember = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) output.push(line);
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout.on('data', remember);
  child.stderr.on('data', remember);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));

  const base = `http://127.0.0.1:${listenPort}`;
  const auth = {};
  const server = {
    /** The admin token: the first of `tokens`, or the one the server created in its data directory. */
    token: tokens[0],
    base,
    dir,
    demoPort,
    /** A free port (outside the ephemeral range) for a gateway the test creates. */
    sparePort,
    output,
    child,
    auth,
    /** A JSON API call with the admin token. */
    async api(method, apiPath, body) {
      const r = await request(`${base}/api/v1${apiPath}`, {
        method,
        headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/x-yaml' } : {}), ...auth },
        body,
      });
      if (r.status >= 400) throw new Error(`${method} ${apiPath}: ${r.status} ${r.body}`);
      return r.body ? JSON.parse(r.body) : null;
    },
    /** Waits for a line of the server's output that matches `pattern`. */
    waitForOutput(pattern, timeout = 120000) {
      return waitFor(`server output ${pattern}`, () => output.some((l) => pattern.test(l)), timeout, 200);
    },
    async stop() {
      running.delete(server);
      if (exited === null) {
        try {
          const deployments = await server.api('GET', '/deployments');
          for (const d of deployments) {
            if (d.name === 'demo') continue; // the server removes its demo on shutdown
            const blueprint = await request(`${base}/api/v1/deployments/${encodeURIComponent(d.name)}?as_blueprint=true`, {
              headers: { Accept: 'application/x-yaml', ...auth },
            });
            const r = await request(`${base}/api/v1/deployments/${encodeURIComponent(d.name)}`, {
              method: 'DELETE',
              headers: { 'Content-Type': 'application/x-yaml', ...auth },
              body: blueprint.body,
            });
            if (r.status !== 202) console.error(`clean-up: DELETE ${d.name}: ${r.status} ${r.body}`);
          }
          await waitFor(
            'the test deployments to be removed',
            async () => (await server.api('GET', '/deployments')).every((d) => d.name === 'demo'),
            30000,
          );
        } catch (e) {
          console.error(`clean-up through the API failed: ${e.message}`);
        }
        child.kill('SIGTERM');
        await waitFor('vamp serve to exit', () => exited !== null, 20000).catch(() => child.kill('SIGKILL'));
        await waitFor('vamp serve to exit after SIGKILL', () => exited !== null, 5000).catch(() => {});
      }
      const problems = output.filter((l) => / ERROR |ALERT|panicked/.test(l) && !/no server available|exited with code 143/.test(l));
      if (problems.length) console.log(`vamp serve reported:\n${problems.slice(-10).join('\n')}`);
      const left = processesIn(dir);
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
      return left;
    },
  };
  running.add(server);
  try {
    if (!server.token) {
      const file = path.join(dir, 'data', 'api-token');
      server.token = await waitFor(
        `the admin token in ${file}`,
        () => {
          if (exited) throw new Error(`vamp serve exited (${JSON.stringify(exited)}): ${output.slice(-20).join('\n')}`);
          return existsSync(file) && readFileSync(file, 'utf8').trim();
        },
        60000,
        100,
      );
    }
    auth.Authorization = `Bearer ${server.token}`;
    await waitFor(
      'vamp serve to answer /api/v1/health',
      async () => {
        if (exited) throw new Error(`vamp serve exited (${JSON.stringify(exited)}): ${output.slice(-20).join('\n')}`);
        return (await request(`${base}/api/v1/health`, { headers: auth })).status === 200;
      },
      60000,
    );
    const index = await request(`${base}/`);
    if (!index.body.includes('<script type="module"')) {
      throw new Error(`${bin} was built without the UI: run \`npm run build\` in vamp-server/ui, then build the binary again`);
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/**
 * A headless Chromium with a fresh profile; `close()` ends it and removes the profile. With `token`, every page
 * starts signed in with it (as after the sign-in page); without, pages ask for one.
 */
export async function startBrowser({ token } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'vamp-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS.filter((f) => f !== '--headless'),
    viewport: { width: 1360, height: 860 },
  });
  if (token) {
    await context.addInitScript((t) => {
      // documents without storage (about:blank, error pages) have nothing to sign in
      try {
        sessionStorage.setItem('vamp.token', t);
      } catch {}
    }, token);
  }
  const errors = [];
  context.on('weberror', (e) => errors.push(e.error().message));
  return {
    context,
    errors,
    async page() {
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots go: $VAMP_UI_SCREENSHOTS (e.g. docs/ui), or nowhere. */
export async function screenshot(page, name) {
  const dir = process.env.VAMP_UI_SCREENSHOTS;
  if (!dir) return;
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.resolve(dir, `${name}.png`) });
}
