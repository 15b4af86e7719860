// A fresh Leasify ID for one run: throwaway data directory and certificate, a free loopback port,
// the `serve` process, and the administration CLI with the same environment.

import { execFile, spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './util.mjs';

/** Self-signed certificate for 127.0.0.1 and localhost (valid one day) into `dir`. */
export function makeCertificate(dir) {
  const cert = join(dir, 'tls-cert.pem');
  const key = join(dir, 'tls-key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext', 'extendedKeyUsage=serverAuth',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert, key };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class LeasifyServer {
  /**
   * @param {object} o
   * @param {string} o.bin path of the leasify-id binary
   * @param {string} o.dataDir throwaway data directory
   * @param {boolean} o.https serve TLS with the throwaway certificate
   * @param {string|null} o.databaseUrl PostgreSQL URL (schema already selected) or null for SQLite
   */
  constructor({ bin, dataDir, https, databaseUrl, tls }) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.https = https;
    this.databaseUrl = databaseUrl;
    this.tls = tls;
    this.process = null;
    this.logFile = join(dataDir, 'server.log');
  }

  async init() {
    this.port = await freePort();
    this.issuer = `${this.https ? 'https' : 'http'}://127.0.0.1:${this.port}`;
    this.env = {
      ...process.env,
      LEASIFY_DATA_DIR: this.dataDir,
      LEASIFY_LISTEN: `127.0.0.1:${this.port}`,
      LEASIFY_ISSUER: this.issuer,
      LEASIFY_LOG: process.env.LEASIFY_LOG ?? 'info,sqlx=warn',
    };
    if (this.https) {
      this.env.LEASIFY_TLS__CERT_FILE = this.tls.cert;
      this.env.LEASIFY_TLS__KEY_FILE = this.tls.key;
    }
    if (this.databaseUrl) this.env.LEASIFY_DATABASE_URL = this.databaseUrl;
  }

  /** Runs `leasify-id <args>`; resolves { code, stdout, stderr }. */
  cli(args, { input = null } = {}) {
    return new Promise((resolve) => {
      const child = execFile(this.bin, args, { env: this.env, timeout: 120_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
      });
      if (input !== null) child.stdin.end(input);
      else child.stdin.end();
    });
  }

  async start() {
    const out = openSync(this.logFile, 'a');
    this.process = spawn(this.bin, ['serve'], { env: this.env, stdio: ['ignore', out, out] });
    closeSync(out);
    let exited = null;
    this.process.once('exit', (code, signal) => {
      exited = { code, signal };
    });
    const started = Date.now();
    while (Date.now() - started < 60_000) {
      if (exited) break;
      try {
        const res = await fetch(`${this.issuer}/health/live`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) {
          this.startupMs = Date.now() - started;
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(10);
    }
    const tail = this.logTail();
    await this.stop();
    throw new Error(
      `Leasify ID did not answer GET ${this.issuer}/health/live with 200 ` +
        (exited ? `(it exited: ${JSON.stringify(exited)})` : 'within 60 s') +
        `\n--- ${this.logFile} (last lines) ---\n${tail}`,
    );
  }

  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop() {
    const p = this.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

/**
 * Registers a client with `leasify-id client create`. Options the CLI does not know yet are dropped
 * one by one (and reported), so the modules that need them fail on the behaviour, not on set-up.
 * `options` is a list of [flag, value|null].
 */
export async function createClient(server, name, redirectUris, options) {
  let opts = [...options];
  const dropped = [];
  for (;;) {
    const args = ['client', 'create', '--name', name];
    for (const uri of redirectUris) args.push('--redirect-uri', uri);
    for (const [flag, value] of opts) {
      args.push(flag);
      if (value !== null) args.push(value);
    }
    const res = await server.cli(args);
    if (res.code === 0) {
      let json;
      try {
        json = JSON.parse(res.stdout);
      } catch (e) {
        throw new Error(`client create printed no JSON: ${res.stdout} ${res.stderr}`);
      }
      return { ...json, dropped, requested: options };
    }
    const m = res.stderr.match(/unexpected argument '(--[a-z0-9-]+)'/) ?? res.stderr.match(/invalid value '[^']*' for '(--[a-z0-9-]+)/);
    if (m && opts.some(([flag]) => flag === m[1])) {
      dropped.push(`${m[1]} (${res.stderr.split('\n').find((l) => l.includes('error')) ?? 'refused'})`);
      opts = opts.filter(([flag]) => flag !== m[1]);
      continue;
    }
    throw new Error(`leasify-id client create failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
}
