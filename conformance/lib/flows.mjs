// The building blocks every module uses: configure() (discovery, JWKS, client), the authorization
// request played in the browser, processCallback (query or form_post), the code exchange through
// openid-client with the suite's own checks on the raw responses, and the error-response checks.

import * as oidc from 'openid-client';
import * as oauth from 'oauth4webapi';
import { configureChecks, checkIdToken, callUserinfo } from './checks.mjs';
import { randomAlnum, longState, checkErrorCharsets, mimeType, truncate, errMessage, entropyBits, isPrintableAscii } from './util.mjs';

/** configure(): the module's discovery/JWKS checks and an openid-client Configuration. */
export async function setup(m, ctx, clientKey = 'main', authMethod = 'client_secret_basic') {
  const client = ctx.clients[clientKey];
  if (!client) m.stop('configure', `the ${clientKey} client could not be registered`);
  const { meta, jwks } = await configureChecks(m, ctx, authMethod);
  const cap = { last: null, all: [] };
  const capture = async (url, options) => {
    const res = await fetch(url, options);
    const u = String(url);
    if (u === meta.token_endpoint || u === meta.userinfo_endpoint) {
      const copy = res.clone();
      const entry = { url: u, status: res.status, headers: res.headers, text: await copy.text() };
      if (u === meta.token_endpoint) cap.last = entry;
      cap.all.push(entry);
    }
    return res;
  };
  const auth = authMethod === 'client_secret_post' ? oidc.ClientSecretPost(client.client_secret) : oidc.ClientSecretBasic(client.client_secret);
  let config;
  try {
    config = await oidc.discovery(new URL(ctx.issuer), client.client_id, { client_secret: client.client_secret }, auth, {
      execute: ctx.insecure ? [oidc.allowInsecureRequests] : [],
      [oidc.customFetch]: capture,
    });
  } catch (e) {
    m.stop('openid-client discovery', errMessage(e));
  }
  config[oidc.customFetch] = capture;
  oidc.enableNonRepudiationChecks(config);
  const as = { ...meta };
  const oauthClient = { client_id: client.client_id };
  const oauthAuth = authMethod === 'client_secret_post' ? oauth.ClientSecretPost(client.client_secret) : oauth.ClientSecretBasic(client.client_secret);
  return { m, ctx, meta, jwks, config, client, cap, authMethod, as, oauthClient, oauthAuth };
}

/** Options every oauth4webapi request needs here. */
export function oauthOptions(ctx) {
  return ctx.insecure ? { [oauth.allowInsecureRequests]: true } : {};
}

/**
 * Sends the browser to the authorization endpoint. opts.params overrides the base request (a
 * null value removes a parameter); opts.method 'POST' sends it as a form; opts.reorder sends
 * the parameters in reverse alphabetical order; opts.longState uses the 128-character state.
 */
export async function authorize(s, browser, opts = {}) {
  const { ctx, meta, client } = s;
  const params = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: ctx.redirectUri,
    scope: 'openid',
    state: opts.longState ? longState() : randomAlnum(10),
    nonce: randomAlnum(10),
  };
  if (ctx.formPost) params.response_mode = 'form_post';
  for (const [k, v] of Object.entries(opts.params ?? {})) {
    if (v === null) delete params[k];
    else params[k] = v;
  }
  // Request objects: the request carries only some parameters in the query (opts.queryParams
  // builds them from the full set); `params` stays what the client expects back.
  let entries = Object.entries(opts.queryParams ? opts.queryParams(params) : params);
  if (opts.reorder) entries = entries.sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
  const query = new URLSearchParams(entries).toString().replace(/\+/g, '%20');
  const endpoint = meta.authorization_endpoint;
  let outcome;
  if (opts.method === 'POST') {
    outcome = await browser.visit(endpoint, { method: 'POST', body: query, initiator: ctx.rpOrigin, policy: opts.policy });
  } else {
    const url = endpoint + (endpoint.includes('?') ? '&' : '?') + query;
    outcome = await browser.visit(url, { initiator: ctx.rpOrigin, policy: opts.policy });
  }
  return { params, outcome };
}

export function describeOutcome(outcome) {
  if (outcome.kind === 'rp') return `a ${outcome.record?.method ?? '?'} to the client at ${outcome.record?.rawUrl ?? outcome.url}`;
  const what = outcome.pageType === 'login' ? 'the login page' : outcome.pageType === 'consent' ? 'a consent page' : outcome.pageType === 'logout-confirm' ? 'a logout confirmation page' : 'a page';
  const s = outcome.summary ?? {};
  const text = [s.h1, s.message].filter(Boolean).join(' — ');
  return `${what} (HTTP ${outcome.status}${text ? `: "${truncate(text, 140)}"` : ''}) at ${new URL(outcome.url).pathname}`;
}

/**
 * processCallback: where and how the response reached the client. Stops if the browser never got
 * back to the redirect URI. Returns the response parameters as a plain object.
 */
export function processCallback(s, req, outcome) {
  const { m, ctx } = s;
  if (outcome.kind !== 'rp' || !outcome.record) {
    m.stop('processCallback', `the OP did not send the browser back to the client; it showed ${describeOutcome(outcome)}`);
  }
  const record = outcome.record;
  const expected = new URL(req.params.redirect_uri ?? ctx.redirectUri);
  m.expect(record.path === expected.pathname, 'STOP', 'CheckCallbackLocation', `the browser was sent to ${record.path}, not the redirect URI ${expected.pathname}`);
  let params;
  if (ctx.formPost) {
    m.expect(record.method === 'POST', 'FAILURE', 'EnsureResponseIsFormPost', `the authorization response arrived as ${record.method}, not as an HTTP POST (response_mode=form_post)`);
    m.expect(record.contentType === 'application/x-www-form-urlencoded', 'FAILURE', 'EnsureFormPostContentType', `the callback Content-Type is ${JSON.stringify(record.contentType)}, not exactly application/x-www-form-urlencoded`);
    m.expect(!record.query.has('code'), 'FAILURE', 'RejectAuthCodeInUrlQuery', 'code appears in the URL query of a form_post response');
    m.expect(!record.query.has('error'), 'FAILURE', 'RejectErrorInUrlQuery', 'error appears in the URL query of a form_post response');
    params = record.method === 'POST' ? new URLSearchParams(record.body) : record.query;
  } else {
    params = record.query;
  }
  for (const [k, v] of expected.searchParams) {
    m.expect(params.get(k) === v, 'FAILURE', 'CheckMatchingCallbackParameters', `the redirect URI's own query parameter ${k}=${v} was not kept`);
  }
  const obj = {};
  for (const [k, v] of params) obj[k] = v;
  return { params: obj, search: params, record };
}

/** The success half of processCallback: iss, error, state, code. */
export function checkSuccessCallback(s, req, cb) {
  const { m, meta } = s;
  const p = cb.params;
  if ('iss' in p) m.expect(p.iss === meta.issuer, 'FAILURE', 'ValidateIssIfPresentInAuthorizationResponse', `iss ${JSON.stringify(p.iss)} is not the issuer ${meta.issuer}`);
  if ('error' in p) m.stop('CheckIfAuthorizationEndpointError', `the authorization endpoint returned error=${p.error}${p.error_description ? ` (${p.error_description})` : ''}`);
  if (req.params.state !== undefined) m.expect(p.state === req.params.state, 'FAILURE', 'CheckStateInAuthorizationResponse', `state ${JSON.stringify(truncate(p.state, 40))} is not the one sent`);
  else m.expect(!('state' in p), 'FAILURE', 'CheckStateInAuthorizationResponse', 'a state came back although none was sent');
  if (typeof p.code !== 'string' || p.code === '') m.stop('ExtractAuthorizationCodeFromAuthorizationResponse', 'no code in the authorization response');
  return p.code;
}

/** performGenericAuthorizationEndpointErrorResponseValidation. */
export function checkErrorCallback(s, req, cb, { skipState = false } = {}) {
  const { m, meta } = s;
  const p = cb.params;
  const expectedState = req.params.state;
  const stateOptional = ['invalid_request_object', 'invalid_request_uri'].includes(p.error);
  if (!skipState && !(stateOptional && !('state' in p))) {
    m.expect(p.state === expectedState, 'FAILURE', 'CheckStateInAuthorizationResponse', `state ${JSON.stringify(truncate(p.state, 40))} is not the one sent`);
  }
  if ('iss' in p) m.expect(p.iss === meta.issuer, 'FAILURE', 'ValidateIssIfPresentInAuthorizationResponse', `iss ${JSON.stringify(p.iss)} is not the issuer`);
  m.expect(typeof p.error === 'string' && p.error !== '', 'FAILURE', 'EnsureErrorFromAuthorizationEndpointResponse', 'an error was expected but the response has none');
  const record = cb.record;
  const inQuery = record.query.has('code');
  m.expect(!('code' in p) && !inQuery, 'FAILURE', 'RejectAuthCodeInAuthorizationEndpointResponse', 'an error response carries a code');
  const extra = Object.keys(p).filter((k) => !['error', 'error_description', 'error_uri', 'state', 'session_state', 'iss'].includes(k));
  m.expect(extra.length === 0, 'WARNING', 'CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint', `the error response has unexpected parameters: ${extra.join(', ')}`);
  checkErrorCharsets(m, 'AuthorizationEndpointResponseError', p);
  return p.error;
}

/** The callback as openid-client wants it: the URL (query) or a Request (form_post). */
function currentUrlOrRequest(ctx, record) {
  const url = ctx.rpOrigin + record.rawUrl;
  if (record.method === 'POST') {
    return new Request(url, { method: 'POST', headers: { 'content-type': record.contentType ?? '' }, body: record.body });
  }
  return new URL(url);
}

/**
 * Exchanges the code with openid-client (non-repudiation on), then applies the suite's checks to
 * the raw token response and the ID token. opts: { pkceCodeVerifier, maxAge, expiresInWarning,
 * scopes, claimsRequest, expectedState, expectedNonce }.
 */
export async function exchangeCode(s, req, cb, opts = {}) {
  const { m, ctx, config, cap } = s;
  const expectedState = 'expectedState' in opts ? opts.expectedState : req.params.state;
  const expectedNonce = 'expectedNonce' in opts ? opts.expectedNonce : req.params.nonce;
  cap.last = null;
  let tokens = null;
  let libraryError = null;
  try {
    tokens = await oidc.authorizationCodeGrant(config, currentUrlOrRequest(ctx, cb.record), {
      expectedState,
      expectedNonce,
      idTokenExpected: true,
      maxAge: opts.maxAge,
      pkceCodeVerifier: opts.pkceCodeVerifier,
    });
  } catch (e) {
    libraryError = e;
  }
  const raw = cap.last;
  if (!raw) m.stop('openid-client authorizationCodeGrant', `rejected the authorization response before the token request: ${errMessage(libraryError)}`);
  const body = checkTokenSuccess(m, raw, { expiresInWarning: opts.expiresInWarning });
  const idToken = await checkIdToken(m, s, body.id_token, {
    clientId: s.client.client_id,
    nonce: expectedNonce,
    accessToken: body.access_token,
    scopes: opts.scopes ?? (req.params.scope ?? 'openid').split(' '),
    claimsRequest: opts.claimsRequest,
    code: cb.params.code,
  });
  if (libraryError) m.stop('openid-client authorizationCodeGrant', errMessage(libraryError));
  return { tokens, body, idToken, code: cb.params.code, raw };
}

/** Section 2.2 happy path on a raw token response. Returns the parsed body. */
export function checkTokenSuccess(m, raw, { expiresInWarning = false, refresh = false } = {}) {
  m.expect(raw.status === 200, 'STOP', 'EnsureHttpStatusCodeIs200', `the token endpoint answered HTTP ${raw.status}: ${truncate(raw.text, 300)}`);
  let body;
  try {
    body = JSON.parse(raw.text);
  } catch {
    m.stop('ExtractTokenEndpointResponse', `the token response is not JSON: ${truncate(raw.text, 120)}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) m.stop('ExtractTokenEndpointResponse', 'the token response is not a JSON object');
  m.expect(!('error' in body), 'STOP', 'CheckIfTokenEndpointResponseError', `the token response carries error=${body.error}`);
  m.expect(typeof body.access_token === 'string' && body.access_token !== '', 'STOP', 'CheckForAccessTokenValue', 'access_token is missing or empty');
  m.expect(typeof body.token_type === 'string' && body.token_type !== '', 'STOP', 'ExtractAccessTokenFromTokenResponse', 'token_type is missing or empty');
  if ('expires_in' in body) {
    const e = body.expires_in;
    m.expect(typeof e === 'number' && e > 0 && e <= 31536000, 'FAILURE', 'ValidateExpiresIn', `expires_in must be a JSON number in (0, 31536000], got ${JSON.stringify(e)}`);
  } else if (expiresInWarning || refresh) {
    m.warn('CheckForExpiresIn', 'the token response has no expires_in');
  }
  if (refresh) {
    m.expect(mimeType(raw.headers.get('content-type')) === 'application/json', 'FAILURE', 'CheckTokenEndpointReturnedJsonContentType', `Content-Type is ${JSON.stringify(raw.headers.get('content-type'))}`);
    const cc = raw.headers.get('cache-control') ?? '';
    m.expect(/(^|[\s,])no-store($|[\s,;=])/i.test(cc), 'FAILURE', 'CheckTokenEndpointCacheHeaders', `Cache-Control is ${JSON.stringify(cc)}, without no-store`);
    m.expect(body.token_type.toLowerCase() === 'bearer', 'FAILURE', 'CheckTokenTypeIsBearer', `token_type is ${JSON.stringify(body.token_type)}`);
    m.expect(entropyBits(body.access_token) > 96, 'FAILURE', 'EnsureMinimumAccessTokenEntropy', `the access token's estimated entropy is ${entropyBits(body.access_token).toFixed(1)} bits (need > 96)`);
    m.expect(isPrintableAscii(body.access_token), 'FAILURE', 'ValidateAccessTokenCharset', 'the access token has characters outside 0x20-0x7E');
    if (typeof body.refresh_token === 'string') {
      m.expect(Buffer.byteLength(body.refresh_token) * 8 >= 128, 'FAILURE', 'EnsureMinimumRefreshTokenLength', `the new refresh token is ${Buffer.byteLength(body.refresh_token) * 8} bits (need ≥ 128)`);
      m.expect(entropyBits(body.refresh_token) > 96, 'FAILURE', 'EnsureMinimumRefreshTokenEntropy', `the new refresh token's estimated entropy is ${entropyBits(body.refresh_token).toFixed(1)} bits (need > 96)`);
    }
  } else {
    m.expect(typeof body.id_token === 'string' && body.id_token !== '', 'STOP', 'ExtractIdTokenFromTokenResponse', 'the token response has no id_token');
  }
  return body;
}

/** Section 2.2 error responses: 400, JSON, the exact error, the charsets. */
export async function checkTokenError(m, res, expectedError = 'invalid_grant', { level = 'FAILURE' } = {}) {
  const text = typeof res.text === 'string' ? res.text : await res.text();
  const status = res.status;
  const ct = res.headers.get('content-type');
  m.expect(status === 400, level, 'CheckTokenEndpointHttpStatus400', `the token endpoint answered HTTP ${status}, not 400: ${truncate(text, 200)}`);
  m.expect(mimeType(ct) === 'application/json', level, 'CheckTokenEndpointReturnedJsonContentType', `Content-Type is ${JSON.stringify(ct)}, not application/json`);
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // reported below
  }
  if (body === null || typeof body !== 'object') {
    m.fail('CheckErrorFromTokenEndpointResponseError', 'the error response is not a JSON object');
    return null;
  }
  m.expect(body.error === expectedError, level, 'CheckErrorFromTokenEndpointResponseError', `error is ${JSON.stringify(body.error)}, expected ${expectedError}`);
  checkErrorCharsets(m, 'TokenEndpointResponseError', body);
  return body;
}

/** The code-flow happy path of section 1.2. Returns everything a module may want to look at. */
export async function happyFlow(s, browser, opts = {}) {
  const req = await authorize(s, browser, opts);
  const cb = processCallback(s, req, req.outcome);
  checkSuccessCallback(s, req, cb);
  const ex = await exchangeCode(s, req, cb, opts);
  if (opts.userinfo !== false) {
    const ui = await callUserinfo(s, ex.body.access_token, 'get');
    s.m.expect(ui.status === 200, 'FAILURE', 'EnsureUserInfoResponseIs200', `UserInfo answered HTTP ${ui.status}: ${truncate(ui.text, 200)}`);
    ex.userinfo = ui;
  }
  return { req, cb, ...ex };
}

/** A raw second use of a code (codereuse), through oauth4webapi. */
export async function redeemCodeAgain(s, cb, redirectUri) {
  const params = new URLSearchParams({ code: cb.params.code });
  if (cb.params.iss) params.set('iss', cb.params.iss);
  const validated = oauth.validateAuthResponse(s.as, s.oauthClient, params, oauth.skipStateCheck);
  const res = await oauth.authorizationCodeGrantRequest(s.as, s.oauthClient, s.oauthAuth, validated, redirectUri, oauth.nopkce, oauthOptions(s.ctx));
  return { status: res.status, headers: res.headers, text: await res.text() };
}
