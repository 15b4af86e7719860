// node-oidc-provider as a peer in Leasify ID's benchmark (`bench --peers`, docs/benchmarks.md).
//
// The benchmark starts this script pinned to the same core as Leasify ID and drives both with the
// same requests. The configuration mirrors what the benchmark asks of Leasify ID: a confidential
// web client (code flow, rotating refresh tokens, client_secret_basic), a machine client with a
// secret and one with a key (client_credentials), introspection, and a login page that checks a
// password against an argon2id hash with Leasify ID's parameters (m=19456 KiB, t=2, p=1).
// Everything else is node-oidc-provider's default: opaque access tokens and the in-memory adapter.
//
// Input, all from the environment: BENCH_PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
// BENCH_REDIRECT_URI, BENCH_MACHINE_ID, BENCH_MACHINE_SECRET, BENCH_KEYED_ID, BENCH_KEYED_JWKS,
// BENCH_EMAIL, BENCH_PASSWORD. The routes are Leasify ID's, so the same requests fit both.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import argon2 from 'argon2';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(env('BENCH_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const email = env('BENCH_EMAIL');
const accountId = 'bench-user';
const passwordHash = await argon2.hash(env('BENCH_PASSWORD'), {
  type: argon2.argon2id,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

// ID tokens are RS256 as Leasify ID's are; the ES256 key is published as Leasify ID's is.
const signingKey = (type, options, alg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`,
});

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('BENCH_CLIENT_ID'),
      client_secret: env('BENCH_CLIENT_SECRET'),
      redirect_uris: [env('BENCH_REDIRECT_URI')],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: env('BENCH_MACHINE_ID'),
      client_secret: env('BENCH_MACHINE_SECRET'),
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'admin:users:read',
    },
    {
      client_id: env('BENCH_KEYED_ID'),
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'admin:users:read',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: JSON.parse(env('BENCH_KEYED_JWKS')),
    },
  ],
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'admin:users:read'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'locale'],
  },
  async findAccount(_ctx, sub) {
    if (sub !== accountId) return undefined;
    return {
      accountId,
      async claims() {
        return { sub: accountId, email, email_verified: true, name: 'Bench User', locale: 'en' };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
  },
  // As Leasify ID: PKCE is not demanded of a confidential client, every refresh rotates the
  // refresh token, and a refresh token does not depend on the browser session.
  pkce: { required: () => false },
  rotateRefreshToken: true,
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async expiresWithSession() {
    return false;
  },
  // The benchmark's user has already agreed to the client's scopes (Leasify ID's bench user logs
  // in to a first-party client without a consent page).
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile offline_access');
    await grant.save();
    return grant;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  routes: {
    authorization: '/authorize',
    jwks: '/jwks.json',
    userinfo: '/userinfo',
    introspection: '/introspect',
    revocation: '/revoke',
    end_session: '/logout',
  },
});

const page = (uid) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in</title></head>
<body><form method="post" action="/interaction/${uid}/login">
<input type="email" name="email" autocomplete="username">
<input type="password" name="password" autocomplete="current-password">
<button>Log in</button></form></body></html>`;

const readForm = async (req) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};

// The login page: the interaction is looked up as node-oidc-provider's examples do.
async function interaction(req, res) {
  const match = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url);
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== match[1]) {
    res.writeHead(400).end('interaction mismatch');
    return;
  }
  if (req.method === 'GET' && !match[2]) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(details.uid));
    return;
  }
  if (req.method === 'POST' && match[2]) {
    const form = await readForm(req);
    const ok =
      form.get('email') === email && (await argon2.verify(passwordHash, form.get('password') ?? ''));
    if (!ok) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(details.uid));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  res.writeHead(405).end();
}

const oidc = provider.callback();
createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      console.error(error);
      if (!res.headersSent) res.writeHead(400);
      res.end();
    });
    return;
  }
  oidc(req, res);
}).listen(port, '127.0.0.1', () => {
  console.error(`node-oidc-provider listening on ${issuer}`);
});
