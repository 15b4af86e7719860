// leasify-fapi2-par-dpop-plan: our own plan, not an OpenID Foundation plan. RFC 9449 (DPoP) with
// RFC 9126 (PAR) and PKCE, the way a FAPI 2.0 client uses them, with oauth4webapi as the
// independent client: its DPoP handle makes the proofs, remembers server nonces and tells a nonce
// error apart (isDPoPNonceError); its parsers read the token, PAR and UserInfo responses and the
// WWW-Authenticate challenges. The negative cases send what oauth4webapi would never send: a
// proof it already sent (captured through customFetch), and proofs made by hand with jose for the
// wrong URL, method, access token, type or time.
//
// Clients (registered by runner.mjs): dpop-public (public, PKCE, --require-par), dpop-nonce
// (client_secret_basic, --require-dpop --require-dpop-nonce), dpop-required (client_secret_basic,
// --require-dpop).

import * as oauth from 'oauth4webapi';
import * as jose from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { configureChecks, verifyJwsWithJwks, checkUserinfoResponse, isHttpsUrl, isUrl } from '../lib/checks.mjs';
import { authorize, processCallback, oauthOptions } from '../lib/flows.mjs';
import { checkErrorCharsets, decodeJwt, errMessage, mimeType, truncate } from '../lib/util.mjs';

// ---------------------------------------------------------------------------------------------
// Set-up: discovery through oauth4webapi, the client, and every request/response recorded.

async function dpopSetup(m, ctx, clientKey) {
  const reg = ctx.clients[clientKey];
  if (!reg) m.stop('configure', `the ${clientKey} client could not be registered`);
  if (reg.dropped?.length) m.note('configure', `client ${clientKey} was registered without ${reg.dropped.join('; ')}`);
  const { meta, jwks } = await configureChecks(m, ctx, null);
  let as;
  try {
    const issuer = new URL(ctx.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, oauthOptions(ctx)));
  } catch (e) {
    m.stop('oauth4webapi processDiscoveryResponse', errMessage(e));
  }
  const client = { client_id: reg.client_id };
  const auth = reg.client_secret ? oauth.ClientSecretBasic(reg.client_secret) : oauth.None();
  // Every request oauth4webapi sends, with the response as it came (the body read from a clone).
  const log = [];
  const capture = async (url, init) => {
    const res = await fetch(url, init);
    log.push(await record(String(url), init, res.clone()));
    return res;
  };
  const opts = { ...oauthOptions(ctx), [oauth.customFetch]: capture };
  return { m, ctx, meta, jwks, as, client, reg, auth, log, opts };
}

async function record(url, init, res) {
  return {
    url,
    method: init.method ?? 'GET',
    reqHeaders: { ...(init.headers ?? {}) },
    reqBody: init.body === undefined || init.body === null ? null : String(init.body),
    status: res.status,
    headers: res.headers,
    text: await res.text(),
  };
}

/** A request made by hand (replays, hand-made proofs), recorded the same way. */
async function send(url, init) {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  return record(url, init, res);
}

/** A fresh P-256 key, its public JWK, its RFC 7638 thumbprint and an oauth4webapi DPoP handle. */
async function newKey(s, { extractable = false } = {}) {
  const kp = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, extractable, ['sign', 'verify']);
  const jwk = await jose.exportJWK(kp.publicKey);
  const jkt = await jose.calculateJwkThumbprint(jwk, 'sha256');
  const handle = oauth.DPoP(s.client, kp);
  const libJkt = await handle.calculateThumbprint();
  if (libJkt !== jkt) s.m.stop('runner', `jose and oauth4webapi disagree on the key's thumbprint (${jkt} vs ${libJkt})`);
  return { kp, jwk, jkt, handle };
}

/**
 * A proof made by hand with jose (RFC 9449 §4.2). `over` replaces or adds claims, `omit` drops
 * them; `typ`, `alg`, `jwk` and `signWith` replace the header's values and the signing key.
 */
async function handProof(key, { htm, htu, accessToken = null, nonce = null, typ = 'dpop+jwt', over = {}, omit = [], alg = 'ES256', jwk = key.jwk, signWith = key.kp.privateKey }) {
  const claims = { jti: randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (accessToken !== null) claims.ath = createHash('sha256').update(accessToken, 'ascii').digest('base64url');
  if (nonce !== null) claims.nonce = nonce;
  Object.assign(claims, over);
  for (const name of omit) delete claims[name];
  return new jose.SignJWT(claims).setProtectedHeader({ typ, alg, jwk }).sign(signWith);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function proofClaims(raw) {
  const proof = raw.reqHeaders.dpop;
  if (typeof proof !== 'string') return null;
  try {
    return decodeJwt(proof).payload;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The flows.

/**
 * PAR (with `key`'s proof, RFC 9449 §10.1) + PKCE, then the browser brings client_id and
 * request_uri to /authorize and logs in. Returns what the code exchange needs.
 */
async function parAuthorize(s, browser, key, { scope = 'openid email' } = {}) {
  const { m, ctx, as, client } = s;
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const params = {
    response_type: 'code',
    redirect_uri: ctx.redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (typeof as.pushed_authorization_request_endpoint !== 'string') m.stop('PushedAuthorizationRequest', 'discovery has no pushed_authorization_request_endpoint');
  const res = await oauth.pushedAuthorizationRequest(as, client, s.auth, params, { ...s.opts, DPoP: key.handle });
  const raw = s.log.at(-1);
  let par;
  try {
    par = await oauth.processPushedAuthorizationResponse(as, client, res);
  } catch (e) {
    m.stop('PushedAuthorizationRequest', `the PAR endpoint answered HTTP ${raw.status}: ${errMessage(e)} ${truncate(raw.text, 200)}`);
  }
  m.expect(typeof proofClaims(raw)?.jti === 'string', 'STOP', 'runner', 'oauth4webapi sent no DPoP proof to the PAR endpoint');
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('request_uri', par.request_uri);
  const outcome = await browser.visit(url.href, { initiator: ctx.rpOrigin });
  const cb = processCallback(s, { params: { redirect_uri: ctx.redirectUri } }, outcome);
  let callback;
  try {
    callback = oauth.validateAuthResponse(as, client, cb.search, state);
  } catch (e) {
    m.stop('oauth4webapi validateAuthResponse', errMessage(e));
  }
  return { callback, verifier, nonce, state };
}

/** The same without PAR: the request in the browser's query (the clients that need no PAR). */
async function plainAuthorize(s, browser) {
  const { m, as, client } = s;
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const req = await authorize(s, browser, { params: { scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256' } });
  const cb = processCallback(s, req, req.outcome);
  let callback;
  try {
    callback = oauth.validateAuthResponse(as, client, cb.search, req.params.state);
  } catch (e) {
    m.stop('oauth4webapi validateAuthResponse', errMessage(e));
  }
  return { callback, verifier, nonce: req.params.nonce, state: req.params.state };
}

/** The code exchange through oauth4webapi, with `key`'s proof (or none). Does not stop. */
async function codeGrant(s, authz, key) {
  const res = await oauth.authorizationCodeGrantRequest(s.as, s.client, s.auth, authz.callback, s.ctx.redirectUri, authz.verifier, {
    ...s.opts,
    ...(key ? { DPoP: key.handle } : {}),
  });
  const raw = s.log.at(-1);
  let tokens = null;
  let error = null;
  try {
    tokens = await oauth.processAuthorizationCodeResponse(s.as, s.client, res, { expectedNonce: authz.nonce, requireIdToken: true });
  } catch (e) {
    error = e;
  }
  return { raw, tokens, error };
}

/** A refresh through oauth4webapi: with `key`'s handle, with a hand-made `proof`, or with neither. */
async function refresh(s, refreshToken, { key = null, proof = null } = {}) {
  const options = { ...s.opts };
  if (key) options.DPoP = key.handle;
  if (proof) options.headers = { dpop: proof };
  const res = await oauth.refreshTokenGrantRequest(s.as, s.client, s.auth, refreshToken, options);
  const raw = s.log.at(-1);
  let tokens = null;
  let error = null;
  try {
    tokens = await oauth.processRefreshTokenResponse(s.as, s.client, res);
  } catch (e) {
    error = e;
  }
  return { raw, tokens, error };
}

async function userinfo(s, accessToken, handle) {
  const res = await oauth.userInfoRequest(s.as, s.client, accessToken, { ...s.opts, DPoP: handle });
  await res.arrayBuffer().catch(() => null);
  return s.log.at(-1);
}

/**
 * A successful token response bound to `key`: 200, token_type DPoP (RFC 9449 §5.1), the access
 * token a JWT signed by the OP whose cnf.jkt is the key's RFC 7638 thumbprint (§6.1).
 */
async function checkBound(m, s, raw, key, what) {
  const body = parseJson(raw.text);
  m.expect(raw.status === 200 && body?.access_token, 'STOP', 'EnsureTokenResponseIs200', `${what}: the token endpoint answered HTTP ${raw.status}: ${truncate(raw.text, 300)}`);
  m.expect(
    typeof body.token_type === 'string' && body.token_type.toLowerCase() === 'dpop',
    'FAILURE',
    'CheckTokenTypeIsDPoP',
    `${what}: token_type is ${JSON.stringify(body.token_type)}, not DPoP (RFC 9449 §5.1)`,
  );
  let at;
  try {
    at = decodeJwt(body.access_token).payload;
  } catch (e) {
    m.fail('CheckAccessTokenCnfJkt', `${what}: the access token is not a JWT (${e.message}), so its cnf.jkt cannot be read`);
    return body;
  }
  await verifyJwsWithJwks(m, 'ValidateAccessTokenSignature', body.access_token, s.jwks, `${what}: the access token`);
  m.expect(
    at.cnf !== null && typeof at.cnf === 'object' && at.cnf.jkt === key.jkt,
    'FAILURE',
    'CheckAccessTokenCnfJkt',
    `${what}: the access token's cnf is ${JSON.stringify(at.cnf)}, expected {"jkt":"${key.jkt}"} (the RFC 7638 thumbprint of the proof's key, RFC 9449 §6.1)`,
  );
  return body;
}

/** PAR + PKCE + DPoP for dpop-public, checked; stops unless the OP issues tokens bound to `key`. */
async function boundFlow(s, browser, key, what = 'the code exchange') {
  const { m } = s;
  const authz = await parAuthorize(s, browser, key);
  const ex = await codeGrant(s, authz, key);
  const body = await checkBound(m, s, ex.raw, key, what);
  if (ex.error) m.stop('oauth4webapi processAuthorizationCodeResponse', errMessage(ex.error));
  if (ex.raw.reqHeaders.dpop === undefined) m.stop('runner', 'oauth4webapi sent no DPoP proof with the code');
  const claims = oauth.getValidatedIdTokenClaims(ex.tokens);
  return { authz, body, tokens: ex.tokens, raw: ex.raw, sub: claims?.sub };
}

// ---------------------------------------------------------------------------------------------
// Error checks.

/** A token-endpoint refusal: 400 (RFC 6749 §5.2), JSON, `expected` (one error or a list). */
function expectTokenError(m, check, raw, expected, what) {
  const list = Array.isArray(expected) ? expected : [expected];
  const body = parseJson(raw.text);
  if (raw.status === 200) {
    m.fail(check, `${what}: the token endpoint accepted it (HTTP 200) instead of refusing it with ${list.join(' or ')}`);
    return null;
  }
  m.expect(raw.status === 400, 'FAILURE', check, `${what}: HTTP ${raw.status}, not 400: ${truncate(raw.text, 200)}`);
  m.expect(mimeType(raw.headers.get('content-type')) === 'application/json', 'FAILURE', check, `${what}: Content-Type is ${JSON.stringify(raw.headers.get('content-type'))}, not application/json`);
  if (body === null || typeof body !== 'object') {
    m.fail(check, `${what}: the error response is not a JSON object: ${truncate(raw.text, 120)}`);
    return null;
  }
  m.note(check, `${what}: HTTP ${raw.status} error=${body.error}${body.error_description ? ` (${JSON.stringify(body.error_description)})` : ''}${raw.headers.get('dpop-nonce') ? ' with DPoP-Nonce' : ''}`);
  m.expect(list.includes(body.error), 'FAILURE', check, `${what}: error is ${JSON.stringify(body.error)}, expected ${list.join(' or ')}${body.error_description ? ` (error_description ${JSON.stringify(body.error_description)})` : ''}`);
  checkErrorCharsets(m, 'TokenEndpointResponseError', body);
  return body;
}

/**
 * A UserInfo refusal: 401 with a `DPoP` challenge carrying `expected` (RFC 9449 §7.1), as
 * oauth4webapi's own WWW-Authenticate parser reads it.
 */
async function expectChallenge(m, s, check, raw, expected, what) {
  const www = raw.headers.get('www-authenticate');
  m.note(check, `${what}: HTTP ${raw.status}, WWW-Authenticate: ${www}${raw.headers.get('dpop-nonce') ? ' (with DPoP-Nonce)' : ''}`);
  if (raw.status === 200) {
    m.fail(check, `${what}: UserInfo answered 200 with the claims instead of refusing with ${expected}`);
    return null;
  }
  m.expect(raw.status === 401, 'FAILURE', check, `${what}: UserInfo answered HTTP ${raw.status}, not 401 (WWW-Authenticate ${JSON.stringify(www)}): ${truncate(raw.text, 200)}`);
  let challenges = null;
  let error = null;
  try {
    await oauth.processUserInfoResponse(s.as, s.client, oauth.skipSubjectCheck, new Response(raw.text, { status: raw.status, headers: raw.headers }));
  } catch (e) {
    error = e;
    if (e instanceof oauth.WWWAuthenticateChallengeError) challenges = e.cause;
  }
  if (!challenges) {
    m.fail(check, `${what}: no WWW-Authenticate challenge oauth4webapi can parse (${JSON.stringify(www)})`);
    return null;
  }
  const dpop = challenges.find((c) => c.scheme === 'dpop');
  if (!dpop) {
    m.fail(check, `${what}: WWW-Authenticate ${JSON.stringify(www)} has no DPoP challenge (RFC 9449 §7.1)`);
    return { challenges, dpop: null, error, www };
  }
  m.expect(dpop.parameters.error === expected, 'FAILURE', check, `${what}: the DPoP challenge's error is ${JSON.stringify(dpop.parameters.error)}, expected ${expected} (WWW-Authenticate: ${www})`);
  return { challenges, dpop, error, www };
}

function expectNonceHeader(m, check, raw, what) {
  const nonce = raw.headers.get('dpop-nonce');
  m.expect(typeof nonce === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(nonce), 'FAILURE', check, `${what}: the DPoP-Nonce header is ${JSON.stringify(nonce)}; RFC 9449 §8/§9 require a nonce (NQCHAR) with use_dpop_nonce`);
  return nonce;
}

// ---------------------------------------------------------------------------------------------
// The modules.

export const DPOP_MODULES = [
  // Discovery (RFC 9449 §5.1, RFC 9126 §5).
  ['leasify-dpop-discovery', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const algs = s.meta.dpop_signing_alg_values_supported;
    const C = 'CheckDiscDpopSigningAlgValuesSupported';
    if (m.expect(Array.isArray(algs) && algs.length > 0 && algs.every((a) => typeof a === 'string'), 'FAILURE', C, `dpop_signing_alg_values_supported is ${JSON.stringify(algs)}, not a non-empty array of strings`)) {
      m.expect(algs.includes('ES256'), 'FAILURE', C, `dpop_signing_alg_values_supported ${JSON.stringify(algs)} does not list ES256`);
      const bad = algs.filter((a) => a === 'none' || /^HS/i.test(a));
      m.expect(bad.length === 0, 'FAILURE', C, `dpop_signing_alg_values_supported lists ${bad.join(', ')} (proofs need an asymmetric algorithm, RFC 9449 §4.2)`);
    }
    const par = s.meta.pushed_authorization_request_endpoint;
    const urlOk = ctx.insecure ? isUrl(par) : isHttpsUrl(par);
    m.expect(urlOk, 'FAILURE', 'CheckDiscParEndpoint', `pushed_authorization_request_endpoint is ${JSON.stringify(par)}, not an ${ctx.insecure ? '' : 'https '}URL`);
  }],

  // PAR + PKCE + DPoP: the code exchange gives a DPoP token bound to the key.
  ['leasify-dpop-par-code-flow', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s);
    const f = await boundFlow(s, ctx.browser(), key);
    m.expect(typeof f.sub === 'string', 'FAILURE', 'ExtractIdTokenFromTokenResponse', 'the token response has no ID token with a sub');
    await verifyJwsWithJwks(m, 'ValidateIdTokenSignature', f.body.id_token, s.jwks, 'the ID token');
  }],

  // RFC 9449 §10.1: the proof at /par binds the code to its key; another key cannot redeem it.
  ['leasify-dpop-par-binds-code', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const keyA = await newKey(s);
    const keyB = await newKey(s);
    const authz = await parAuthorize(s, ctx.browser(), keyA);
    const ex = await codeGrant(s, authz, keyB);
    expectTokenError(m, 'CheckCodeBoundToParProofKey', ex.raw, ['invalid_dpop_proof', 'invalid_grant'], 'the code pushed with key A, redeemed with a proof of key B');
  }],

  // RFC 9449 §5: a public client's refresh token is bound to the key.
  ['leasify-dpop-refresh-bound', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s);
    const other = await newKey(s);
    const f = await boundFlow(s, ctx.browser(), key);
    const rt0 = f.body.refresh_token;
    if (typeof rt0 !== 'string') m.stop('ExtractRefreshTokenFromTokenResponse', 'the public client got no refresh token, so there is nothing to bind');
    const good = await refresh(s, rt0, { key });
    const body = await checkBound(m, s, good.raw, key, 'the refresh with the same key');
    if (good.error) m.fail('oauth4webapi processRefreshTokenResponse', errMessage(good.error));
    const rt1 = body.refresh_token ?? rt0;
    if (body.refresh_token === undefined) m.note('refresh', 'the refresh response has no new refresh token; the old one is presented again');
    const wrong = await refresh(s, rt1, { key: other });
    expectTokenError(m, 'CheckRefreshTokenBoundToKey', wrong.raw, 'invalid_grant', 'the bound refresh token with a proof of another key');
    const none = await refresh(s, rt1);
    expectTokenError(m, 'CheckRefreshTokenBoundToKey', none.raw, 'invalid_grant', 'the bound refresh token with no proof');
    // Not an RFC requirement: the refused attempts should not have used the token up.
    const again = await refresh(s, rt1, { key });
    m.expect(again.raw.status === 200, 'INFO', 'refresh', `the refresh token no longer worked with the right key after the refused attempts (HTTP ${again.raw.status}: ${truncate(again.raw.text, 160)})`);
  }],

  // RFC 9449 §7: UserInfo with the DPoP scheme and a proof (with ath).
  ['leasify-dpop-userinfo', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s);
    const f = await boundFlow(s, ctx.browser(), key);
    const raw = await userinfo(s, f.body.access_token, key.handle);
    m.expect(/^DPoP /.test(raw.reqHeaders.authorization ?? '') && typeof raw.reqHeaders.dpop === 'string', 'STOP', 'runner', 'oauth4webapi did not send the DPoP scheme and a proof');
    const ui = { status: raw.status, headers: raw.headers, text: raw.text, json: parseJson(raw.text) };
    const claims = checkUserinfoResponse(m, ui, f.sub);
    if (claims) {
      m.expect(typeof claims.email === 'string', 'FAILURE', 'CheckUserInfoContainsEmailClaims', 'UserInfo has no email although the scope was openid email');
      try {
        await oauth.processUserInfoResponse(s.as, s.client, f.sub, new Response(raw.text, { status: raw.status, headers: raw.headers }));
      } catch (e) {
        m.fail('oauth4webapi processUserInfoResponse', errMessage(e));
      }
    }
    // UserInfo also answers POST (OpenID Connect Core §5.3.1): the proof's htm is then POST.
    let post;
    try {
      const res = await oauth.protectedResourceRequest(f.body.access_token, 'POST', new URL(s.as.userinfo_endpoint), new Headers({ accept: 'application/json' }), null, { ...s.opts, DPoP: key.handle });
      await res.arrayBuffer().catch(() => null);
      post = s.log.at(-1);
    } catch (e) {
      post = s.log.at(-1);
      m.fail('EnsureUserInfoPostResponseIs200', `UserInfo by POST with a proof for POST: ${errMessage(e)} (WWW-Authenticate ${JSON.stringify(post?.headers.get('www-authenticate'))})`);
    }
    if (post && post.status === 200) {
      checkUserinfoResponse(m, { status: post.status, headers: post.headers, text: post.text, json: parseJson(post.text) }, f.sub);
    } else if (post) {
      m.fail('EnsureUserInfoPostResponseIs200', `UserInfo by POST with a proof for POST answered HTTP ${post.status}: ${truncate(post.text, 200)}`);
    }
  }],

  // RFC 9449 §11.1: a proof is good once (jti), at the token endpoint and at UserInfo.
  ['leasify-dpop-proof-replay', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s);
    const f = await boundFlow(s, ctx.browser(), key);
    // UserInfo: the same request, DPoP header and all, sent again.
    const first = await userinfo(s, f.body.access_token, key.handle);
    m.expect(first.status === 200, 'STOP', 'EnsureUserInfoResponseIs200', `UserInfo with a fresh proof answered HTTP ${first.status}: ${truncate(first.text, 200)}`);
    const replayUi = await send(first.url, { method: first.method, headers: first.reqHeaders });
    await expectChallenge(m, s, 'CheckUserInfoRejectsReplayedProof', replayUi, 'invalid_dpop_proof', 'the UserInfo request replayed with its proof');
    // Token endpoint: a refresh that worked; its proof with the next (unused) refresh token, then
    // the whole request again.
    const r1 = await refresh(s, f.body.refresh_token, { key });
    const b1 = await checkBound(m, s, r1.raw, key, 'the refresh with a fresh proof');
    const proof = r1.raw.reqHeaders.dpop;
    if (typeof b1.refresh_token === 'string') {
      const r2 = await refresh(s, b1.refresh_token, { proof });
      expectTokenError(m, 'CheckTokenEndpointRejectsReplayedProof', r2.raw, 'invalid_dpop_proof', "the last refresh's proof with the new refresh token");
    } else {
      m.note('CheckTokenEndpointRejectsReplayedProof', 'no new refresh token: only the whole request is replayed');
    }
    const replayToken = await send(r1.raw.url, { method: r1.raw.method, headers: r1.raw.reqHeaders, body: r1.raw.reqBody });
    expectTokenError(m, 'CheckTokenEndpointRejectsReplayedProof', replayToken, 'invalid_dpop_proof', 'the refresh request replayed with its proof');
  }],

  // RFC 9449 §4.3: htm, htu, ath, typ and iat must fit; each wrong one is invalid_dpop_proof.
  ['leasify-dpop-proof-mismatch', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s, { extractable: true });
    const other = await newKey(s);
    const privateJwk = await jose.exportJWK(key.kp.privateKey);
    const hmacSecret = randomBytes(32);
    const hmacJwk = { kty: 'oct', k: hmacSecret.toString('base64url') };
    const f = await boundFlow(s, ctx.browser(), key);
    const at = f.body.access_token;
    const uiUrl = s.as.userinfo_endpoint;
    const tokenUrl = s.as.token_endpoint;
    const getUi = async (proof) => send(uiUrl, { method: 'GET', headers: { authorization: `DPoP ${at}`, dpop: proof, accept: 'application/json' } });
    // Control: a correct hand-made proof works, so the refusals below are about what was changed.
    const control = await getUi(await handProof(key, { htm: 'GET', htu: uiUrl, accessToken: at }));
    m.expect(control.status === 200, 'STOP', 'CheckHandMadeProofAccepted', `UserInfo refused a correct hand-made proof (HTTP ${control.status}, WWW-Authenticate ${JSON.stringify(control.headers.get('www-authenticate'))}): ${truncate(control.text, 200)}`);
    const C = 'CheckUserInfoRejectsMismatchedProof';
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      ['a proof for the token endpoint URL', { htm: 'GET', htu: tokenUrl, accessToken: at }],
      ['a proof for POST on a GET', { htm: 'POST', htu: uiUrl, accessToken: at }],
      ['a proof whose ath is for another token', { htm: 'GET', htu: uiUrl, accessToken: `${at}x` }],
      ['a proof without ath', { htm: 'GET', htu: uiUrl }],
      ['a proof with typ JWT', { htm: 'GET', htu: uiUrl, accessToken: at, typ: 'JWT' }],
      ['a proof made 5 minutes ago', { htm: 'GET', htu: uiUrl, accessToken: at, over: { iat: now - 300 } }],
      ['a proof dated 5 minutes ahead', { htm: 'GET', htu: uiUrl, accessToken: at, over: { iat: now + 300 } }],
      ['a proof signed by another key than its jwk', { htm: 'GET', htu: uiUrl, accessToken: at, signWith: other.kp.privateKey }],
      ['a proof whose jwk carries the private key (d)', { htm: 'GET', htu: uiUrl, accessToken: at, jwk: privateJwk }],
      ['a proof signed with HS256 (a symmetric key in jwk)', { htm: 'GET', htu: uiUrl, accessToken: at, alg: 'HS256', jwk: hmacJwk, signWith: hmacSecret }],
    ];
    for (const [what, spec] of cases) {
      await expectChallenge(m, s, C, await getUi(await handProof(key, spec)), 'invalid_dpop_proof', `UserInfo with ${what}`);
    }
    // Token endpoint: a correct hand-made proof refreshes; then each wrong one is refused.
    const ok = await refresh(s, f.body.refresh_token, { proof: await handProof(key, { htm: 'POST', htu: tokenUrl }) });
    const body = await checkBound(m, s, ok.raw, key, 'the refresh with a correct hand-made proof');
    const rt = body.refresh_token ?? f.body.refresh_token;
    const T = 'CheckTokenEndpointRejectsMismatchedProof';
    const tokenCases = [
      ['a proof for the UserInfo URL', { htm: 'POST', htu: uiUrl }],
      ['a proof for GET on a POST', { htm: 'GET', htu: tokenUrl }],
      ['a proof with typ JWT', { htm: 'POST', htu: tokenUrl, typ: 'JWT' }],
      ['a proof made 5 minutes ago', { htm: 'POST', htu: tokenUrl, over: { iat: now - 300 } }],
      ['a proof without jti', { htm: 'POST', htu: tokenUrl, omit: ['jti'] }],
      ['a proof whose jwk carries the private key (d)', { htm: 'POST', htu: tokenUrl, jwk: privateJwk }],
      ['a proof signed by another key than its jwk', { htm: 'POST', htu: tokenUrl, signWith: other.kp.privateKey }],
    ];
    for (const [what, spec] of tokenCases) {
      const r = await refresh(s, rt, { proof: await handProof(key, spec) });
      expectTokenError(m, T, r.raw, 'invalid_dpop_proof', `a refresh with ${what}`);
    }
  }],

  // RFC 9449 §7.2: a DPoP-bound token is not a bearer token.
  ['leasify-dpop-bound-token-as-bearer', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-public');
    const key = await newKey(s);
    const f = await boundFlow(s, ctx.browser(), key);
    const raw = await send(s.as.userinfo_endpoint, { method: 'GET', headers: { authorization: `Bearer ${f.body.access_token}`, accept: 'application/json' } });
    await expectChallenge(m, s, 'CheckUserInfoRejectsBoundTokenAsBearer', raw, 'invalid_token', 'the DPoP-bound access token as Authorization: Bearer');
  }],

  // RFC 9449 §8 and §9: a client that must use server nonces is told so, and the retry works.
  ['leasify-dpop-nonce', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-nonce');
    const key = await newKey(s);
    const authz = await plainAuthorize(s, ctx.browser());
    // Token endpoint: the first proof has no nonce.
    const first = await codeGrant(s, authz, key);
    const C = 'CheckTokenEndpointUseDpopNonce';
    expectTokenError(m, C, first.raw, 'use_dpop_nonce', 'the first token request (a proof without a nonce)');
    const nonce = expectNonceHeader(m, C, first.raw, 'the use_dpop_nonce answer of the token endpoint');
    m.expect(first.error !== null && oauth.isDPoPNonceError(first.error), 'FAILURE', C, `oauth4webapi does not see a DPoP nonce error (isDPoPNonceError false; ${first.error ? errMessage(first.error) : 'no error'})`);
    if (first.raw.status === 200) m.stop(C, 'the code was redeemed without a nonce; nothing left to retry');
    const second = await codeGrant(s, authz, key);
    m.expect(proofClaims(second.raw)?.nonce === nonce, 'FAILURE', 'runner', "oauth4webapi's retry did not carry the nonce the OP gave");
    const body = await checkBound(m, s, second.raw, key, 'the token request retried with the nonce');
    if (second.error) m.fail('oauth4webapi processAuthorizationCodeResponse', `the retry: ${errMessage(second.error)}`);
    const sub = second.tokens ? oauth.getValidatedIdTokenClaims(second.tokens)?.sub : undefined;
    // UserInfo: a new handle (same key) has no nonce yet.
    const fresh = oauth.DPoP(s.client, key.kp);
    const u1 = await userinfo(s, body.access_token, fresh);
    const U = 'CheckUserInfoUseDpopNonce';
    const ch = await expectChallenge(m, s, U, u1, 'use_dpop_nonce', 'UserInfo with a proof without a nonce');
    expectNonceHeader(m, U, u1, 'the use_dpop_nonce answer of UserInfo');
    if (ch) m.expect(oauth.isDPoPNonceError(ch.error), 'FAILURE', U, 'oauth4webapi does not see a DPoP nonce error at UserInfo (isDPoPNonceError false)');
    const u2 = await userinfo(s, body.access_token, fresh);
    m.expect(typeof proofClaims(u2)?.nonce === 'string', 'FAILURE', 'runner', "oauth4webapi's UserInfo retry carried no nonce");
    checkUserinfoResponse(m, { status: u2.status, headers: u2.headers, text: u2.text, json: parseJson(u2.text) }, sub);
    // A nonce the OP never gave is a missing nonce too.
    if (typeof body.refresh_token === 'string') {
      const proof = await handProof(key, { htm: 'POST', htu: s.as.token_endpoint, nonce: 'not-a-nonce-from-this-server' });
      const r = await refresh(s, body.refresh_token, { proof });
      expectTokenError(m, C, r.raw, 'use_dpop_nonce', 'a refresh whose proof carries a nonce the OP never gave');
      expectNonceHeader(m, C, r.raw, 'the use_dpop_nonce answer to the made-up nonce');
    }
  }],

  // RFC 9449 §5.2 (dpop_bound_access_tokens): a client that must use DPoP cannot get bearer tokens.
  ['leasify-dpop-required', async (m, ctx) => {
    const s = await dpopSetup(m, ctx, 'dpop-required');
    const browser = ctx.browser();
    const a1 = await plainAuthorize(s, browser);
    const without = await codeGrant(s, a1, null);
    expectTokenError(m, 'CheckDpopRequiredClientNeedsProof', without.raw, 'invalid_request', 'the token request of a DPoP-required client without a proof');
    const key = await newKey(s);
    const a2 = await plainAuthorize(s, browser);
    const ex = await codeGrant(s, a2, key);
    const body = await checkBound(m, s, ex.raw, key, 'the token request of the DPoP-required client with a proof');
    if (ex.error) m.fail('oauth4webapi processAuthorizationCodeResponse', errMessage(ex.error));
    if (typeof body.refresh_token !== 'string') return;
    const plain = await refresh(s, body.refresh_token);
    expectTokenError(m, 'CheckDpopRequiredClientNeedsProof', plain.raw, 'invalid_request', 'the refresh of a DPoP-required client without a proof');
    // §5: a confidential client's refresh token is not bound to the key; the new access token is
    // bound to the key of the refresh request's proof.
    const next = await newKey(s);
    const r = await refresh(s, body.refresh_token, { key: next });
    await checkBound(m, s, r.raw, next, "the confidential client's refresh with a proof of a new key");
  }],
];
