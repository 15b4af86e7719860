#!/usr/bin/env node
// Replays the OpenID Foundation OP conformance plans against a fresh Leasify ID.
// Usually started by ./run (which builds the server); see README.md.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { ModuleResult, Stop, Skip } from './lib/result.mjs';
import { Browser } from './lib/browser.mjs';
import { startRp } from './lib/rp.mjs';
import { LeasifyServer, makeCertificate, createClient } from './lib/server.mjs';
import { printReport, summarize } from './lib/report.mjs';
import { BASIC_MODULES } from './modules/basic.mjs';
import { CONFIG_MODULES } from './modules/config.mjs';
import { RP_LOGOUT_MODULES, BACKCHANNEL_MODULES } from './modules/logout.mjs';
import { DPOP_MODULES } from './modules/dpop.mjs';
import { errMessage } from './lib/util.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

export const PLANS = [
  { name: 'oidcc-basic-certification-test-plan', modules: BASIC_MODULES, formPost: false },
  { name: 'oidcc-config-certification-test-plan', modules: CONFIG_MODULES, formPost: false },
  { name: 'oidcc-formpost-basic-certification-test-plan', modules: BASIC_MODULES, formPost: true },
  { name: 'oidcc-rp-initiated-logout-certification-test-plan', modules: RP_LOGOUT_MODULES, formPost: false },
  { name: 'oidcc-backchannel-rp-initiated-logout-certification-test-plan', modules: BACKCHANNEL_MODULES, formPost: false },
  // Our own plan (not an OpenID Foundation plan): RFC 9449 DPoP with PAR and PKCE, see modules/dpop.mjs.
  { name: 'leasify-fapi2-par-dpop-plan', modules: DPOP_MODULES, formPost: false },
];

function usage() {
  return `usage: runner.mjs --bin PATH [--database-url URL] [--only MODULE|PLAN]... [--out FILE]
                  [--insecure-http] [--codereuse-wait SECONDS] [--backchannel-wait SECONDS] [--keep] [--verbose]`;
}

function parseArgs(argv) {
  const o = { only: [], out: join(HERE, 'results.json'), codereuseWait: 30, backchannelWait: 10, insecure: false, keep: false, verbose: false, bin: null, databaseUrl: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value\n${usage()}`);
      return argv[++i];
    };
    switch (a) {
      case '--bin': o.bin = value(); break;
      case '--database-url': o.databaseUrl = value(); break;
      case '--only': o.only.push(...value().split(',').filter(Boolean)); break;
      case '--out': o.out = resolve(value()); break;
      case '--insecure-http': o.insecure = true; break;
      case '--codereuse-wait': o.codereuseWait = Number(value()); break;
      case '--backchannel-wait': o.backchannelWait = Number(value()); break;
      case '--keep': o.keep = true; break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': console.log(usage()); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${usage()}`);
    }
  }
  if (!o.bin) throw new Error(`--bin is required\n${usage()}`);
  if (!Number.isFinite(o.codereuseWait) || o.codereuseWait < 0) throw new Error('--codereuse-wait needs a number of seconds');
  const known = new Set(PLANS.flatMap((p) => [p.name, ...p.modules.map(([n]) => n)]));
  for (const name of o.only) if (!known.has(name)) throw new Error(`--only ${name}: no such module or plan`);
  return o;
}

// The parent process makes the throwaway directory and certificate, then runs the real work in a
// child whose NODE_EXTRA_CA_CERTS trusts that certificate (Node reads it only at start-up).
async function parent() {
  const tmp = mkdtempSync(join(tmpdir(), 'leasify-conformance-'));
  let code = 1;
  try {
    const tls = makeCertificate(tmp);
    code = await new Promise((resolveExit) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.cert, CONFORMANCE_TMP: tmp, CONFORMANCE_CHILD: '1' },
      });
      const forward = (sig) => child.kill(sig);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      child.on('exit', (c, sig) => resolveExit(c ?? (sig ? 130 : 1)));
    });
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(code);
}

async function runModule(plan, name, fn, ctx, verbose) {
  const m = new ModuleResult(plan.name, name);
  // A hung request must not hang the run: every module gets two minutes (plus its own waits).
  const limit = 120_000 + ctx.codereuseWait * 1000 + ctx.backchannelWait * 1000;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`module did not finish within ${limit / 1000} s (a request to the OP hung)`)), limit);
  });
  try {
    await Promise.race([fn(m, ctx), timeout]);
  } catch (e) {
    if (!(e instanceof Stop) && !(e instanceof Skip)) {
      m.fail('runner', `unexpected error: ${errMessage(e)}`);
      if (verbose) console.error(e);
    }
  }
  clearTimeout(timer);
  m.durationMs = Date.now() - m.started;
  return m;
}

async function child() {
  const o = parseArgs(process.argv.slice(2));
  const tmp = process.env.CONFORMANCE_TMP;
  const dataDir = join(tmp, 'data');
  mkdirSync(dataDir);
  const tls = { cert: join(tmp, 'tls-cert.pem'), key: join(tmp, 'tls-key.pem') };
  const rp = await startRp();
  const server = new LeasifyServer({ bin: o.bin, dataDir, https: !o.insecure, databaseUrl: o.databaseUrl, tls });
  await server.init();
  const started = new Date();
  console.log(`Leasify ID ${server.issuer} (${o.databaseUrl ? 'PostgreSQL' : 'SQLite'}), RP ${rp.origin}, code-reuse wait ${o.codereuseWait} s${o.insecure ? ', INSECURE plain http' : ''}`);
  let results = [];
  let setupNotes = [];
  try {
    // Clients and the user exist before the server starts; the CLI runs the migrations itself.
    const user = { email: 'anna.conformance@example.se', password: `Konformans-${randomBytes(9).toString('base64url')}-häst` };
    const created = await server.cli(['user', 'create', '--email', user.email, '--name', 'Anna Conformance', '--lang', 'sv', '--password-stdin'], { input: `${user.password}\n` });
    if (created.code !== 0) throw new Error(`leasify-id user create failed: ${created.stderr.trim()}`);
    const callback = `${rp.origin}/callback`;
    const postLogoutUri = `${rp.origin}/post_logout_redirect`;
    const clients = {};
    const specs = {
      main: ['Conformance client (client_secret_basic)', [['--token-endpoint-auth-method', 'client_secret_basic']]],
      client2: ['Conformance client 2 (refresh cross-client)', [['--token-endpoint-auth-method', 'client_secret_basic']]],
      post: ['Conformance client (client_secret_post)', [['--token-endpoint-auth-method', 'client_secret_post']]],
      logout: ['Conformance RP-initiated logout', [['--token-endpoint-auth-method', 'client_secret_basic'], ['--post-logout-redirect-uri', postLogoutUri]]],
      backchannel: ['Conformance back-channel logout', [
        ['--token-endpoint-auth-method', 'client_secret_basic'], ['--post-logout-redirect-uri', postLogoutUri],
        ['--backchannel-logout-uri', `${rp.origin}/backchannel_logout`], ['--backchannel-logout-session-required', null],
      ]],
      'dpop-public': ['Conformance DPoP public client (PAR, PKCE)', [
        ['--public', null], ['--token-endpoint-auth-method', 'none'], ['--require-par', null],
      ]],
      'dpop-nonce': ['Conformance DPoP client (nonce required)', [
        ['--token-endpoint-auth-method', 'client_secret_basic'], ['--require-dpop', null], ['--require-dpop-nonce', null],
      ]],
      'dpop-required': ['Conformance DPoP client (DPoP required)', [
        ['--token-endpoint-auth-method', 'client_secret_basic'], ['--require-dpop', null],
      ]],
    };
    for (const [key, [name, options]] of Object.entries(specs)) {
      clients[key] = await createClient(server, name, [callback], options);
      if (clients[key].dropped.length) {
        const msg = `client ${key}: the CLI refused ${clients[key].dropped.join('; ')}; registered without it`;
        setupNotes.push(msg);
        console.log(`note: ${msg}`);
      }
    }
    await server.start();
    console.log(`server answered /health/live ${server.startupMs} ms after start`);

    const base = {
      issuer: server.issuer,
      discoveryUrl: `${server.issuer}/.well-known/openid-configuration`,
      insecure: o.insecure,
      rp,
      rpOrigin: rp.origin,
      redirectUri: callback,
      postLogoutUri,
      clients,
      user,
      codereuseWait: o.codereuseWait,
      backchannelWait: o.backchannelWait,
    };
    base.browser = () => new Browser({ rpOrigin: rp.origin, opOrigin: new URL(server.issuer).origin, rpRecord: rp.record, insecureLoopback: o.insecure, user });

    for (const plan of PLANS) {
      const selected = plan.modules.filter(([name]) => o.only.length === 0 || o.only.includes(name) || o.only.includes(plan.name));
      if (selected.length === 0) continue;
      console.log(`\n== ${plan.name}`);
      const ctx = { ...base, formPost: plan.formPost };
      for (const [name, fn] of selected) {
        process.stdout.write(`   ${name} … `);
        const r = await runModule(plan, name, fn, ctx, o.verbose);
        console.log(`${r.status} (${(r.durationMs / 1000).toFixed(1)} s)`);
        if (o.verbose) for (const line of [...r.failures, ...r.warnings, ...r.notes]) console.log(`      ${line}`);
        results.push(r);
      }
    }
  } finally {
    await server.stop();
    await rp.close();
  }
  const report = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    issuer: server.issuer,
    backend: o.databaseUrl ? 'postgres' : 'sqlite',
    tls: !o.insecure,
    codereuse_wait_seconds: o.codereuseWait,
    setup_notes: setupNotes,
    summary: summarize(results),
    modules: results.map((r) => r.toJSON()),
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  printReport(results, PLANS);
  console.log(`\nJSON: ${o.out}`);
  if (results.some((r) => r.status === 'FAILURE')) process.exit(1);
  if (results.length === 0) {
    console.log('no module selected');
    process.exit(2);
  }
}

if (process.env.CONFORMANCE_CHILD === '1') {
  child().catch((e) => {
    console.error(`conformance runner: ${e.message}`);
    process.exit(2);
  });
} else {
  parent().catch((e) => {
    console.error(`conformance runner: ${e.message}`);
    process.exit(2);
  });
}
