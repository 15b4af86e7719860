// oidcc-basic-certification-test-plan (and, with ctx.formPost, the Form Post plan): every module
// of section 1.3, in the plan's order.

import * as oidc from 'openid-client';
import * as oauth from 'oauth4webapi';
import { setup, authorize, processCallback, checkSuccessCallback, checkErrorCallback, exchangeCode, happyFlow, checkTokenError, checkTokenSuccess, redeemCodeAgain, describeOutcome, oauthOptions } from '../lib/flows.mjs';
import { callUserinfo, checkUserinfoResponse, checkScopeClaims, verifyJwsWithJwks } from '../lib/checks.mjs';
import { sleep, randomAlnum, entropyBits, isPrintableAscii, errMessage, truncate, decodeJwt } from '../lib/util.mjs';

const DYNAMIC_ONLY = 'dynamic client registration only: the official suite does not run it with a static client';
const PROMPT_NONE_ERRORS = ['login_required', 'interaction_required', 'account_selection_required', 'consent_required'];

/** An error page (the suite's screenshot): HTML shown to the user, not a server error. */
function expectErrorPage(m, outcome, check, what) {
  if (outcome.kind === 'rp') return false;
  if (outcome.status >= 500) {
    m.fail(check, `${what}: the OP answered with a server error, ${describeOutcome(outcome)}`);
  } else if (outcome.pageType === 'login') {
    m.fail(check, `${what}: the OP showed the login page instead of an error page`);
  } else {
    m.note(check, `error page shown: ${describeOutcome(outcome)}`);
  }
  return true;
}

function scopeSkip(m, s, scopes) {
  const supported = s.meta.scopes_supported;
  if (!Array.isArray(supported)) m.skip('discovery has no scopes_supported');
  const missing = scopes.filter((x) => !supported.includes(x));
  if (missing.length) m.skip(`scopes_supported does not list ${missing.join(', ')}`);
}

async function userinfoModule(m, ctx, how) {
  const s = await setup(m, ctx);
  const f = await happyFlow(s, ctx.browser(), { userinfo: false });
  const sub = f.idToken.claims.sub;
  const ui = await callUserinfo(s, f.body.access_token, how);
  if (how === 'post-body' && (ui.status < 200 || ui.status > 299)) {
    m.warn('CallUserInfoEndpointWithBearerTokenInBody', `UserInfo refused the access token in a form body: HTTP ${ui.status} ${truncate(ui.text, 120)}`);
    return;
  }
  checkUserinfoResponse(m, ui, sub);
  if (how === 'get') {
    try {
      await oidc.fetchUserInfo(s.config, f.body.access_token, sub);
    } catch (e) {
      m.fail('openid-client fetchUserInfo', errMessage(e));
    }
  }
}

async function scopeModule(m, ctx, scopes, { reorder = false } = {}) {
  const s = await setup(m, ctx);
  scopeSkip(m, s, scopes);
  const scope = reorder ? [...scopes, 'openid'].join(' ') : ['openid', ...scopes].join(' ');
  const f = await happyFlow(s, ctx.browser(), { params: { scope }, reorder, userinfo: false });
  const ui = await callUserinfo(s, f.body.access_token, 'get');
  const claims = checkUserinfoResponse(m, ui, f.idToken.claims.sub);
  if (claims) checkScopeClaims(m, claims, scopes);
  if (scopes.length === 1 && scopes[0] === 'email') {
    m.expect(!('email' in f.idToken.claims), 'WARNING', 'EnsureIdTokenDoesNotContainEmailForScopeEmail', 'the id_token contains email; with an access token it belongs in UserInfo');
    if (claims) m.expect(!('name' in claims), 'WARNING', 'EnsureUserInfoDoesNotContainName', 'UserInfo returns name although only the email scope was requested');
  }
}

/** Two logins in one browser; returns both flows. */
async function twoFlows(m, ctx, first, second, { wait = 0 } = {}) {
  const s = await setup(m, ctx);
  const browser = ctx.browser();
  const f1 = await happyFlow(s, browser, first);
  if (wait) await sleep(wait);
  const f2 = await happyFlow(s, browser, second);
  return { s, f1, f2 };
}

function sameSubAndAuthTime(m, f1, f2) {
  m.expect(f2.idToken.claims.sub === f1.idToken.claims.sub, 'FAILURE', 'CheckIdTokenSubConsistentHybridFlow', `sub changed between the logins (${f1.idToken.claims.sub} → ${f2.idToken.claims.sub})`);
  const a1 = f1.idToken.claims.auth_time, a2 = f2.idToken.claims.auth_time;
  if (a1 !== undefined && a2 !== undefined) m.expect(a1 === a2, 'FAILURE', 'CheckIdTokenAuthTimeConsistent', `auth_time changed without a new login (${a1} → ${a2})`);
}

function requestObject(params) {
  const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(params)).toString('base64url');
  return `${header}.${payload}.`;
}

function requestObjectSkip(m, s) {
  const list = s.meta.request_object_signing_alg_values_supported;
  if (Array.isArray(list) && !list.includes('none')) m.skip(`request_object_signing_alg_values_supported ${JSON.stringify(list)} does not list none`);
}

export const BASIC_MODULES = [
  ['oidcc-server', async (m, ctx) => {
    const s = await setup(m, ctx);
    const req = await authorize(s, ctx.browser());
    const cb = processCallback(s, req, req.outcome);
    const code = checkSuccessCallback(s, req, cb);
    const bits = Buffer.byteLength(code) * 8;
    m.expect(bits >= 128, 'FAILURE', 'EnsureMinimumAuthorizationCodeLength', `the code is ${bits} bits long (need ≥ 128)`);
    m.expect(entropyBits(code) > 96, 'FAILURE', 'EnsureMinimumAuthorizationCodeEntropy', `the code's estimated entropy is ${entropyBits(code).toFixed(1)} bits (need > 96)`);
    const ex = await exchangeCode(s, req, cb, { expiresInWarning: true });
    const ui = await callUserinfo(s, ex.body.access_token, 'get');
    m.expect(ui.status === 200, 'FAILURE', 'EnsureUserInfoResponseIs200', `UserInfo answered HTTP ${ui.status}`);
  }],
  ['oidcc-response-type-missing', async (m, ctx) => {
    const s = await setup(m, ctx);
    const req = await authorize(s, ctx.browser(), { params: { response_type: null } });
    if (expectErrorPage(m, req.outcome, 'ExpectResponseTypeMissingErrorPage', 'request without response_type')) return;
    const cb = processCallback(s, req, req.outcome);
    const error = checkErrorCallback(s, req, cb);
    m.expect(['invalid_request', 'unsupported_response_type'].includes(error), 'FAILURE', 'CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrUnsupportedResponseType', `error is ${JSON.stringify(error)}, expected invalid_request or unsupported_response_type`);
  }],
  ['oidcc-idtoken-signature', async (m) => m.skip(DYNAMIC_ONLY)],
  ['oidcc-idtoken-unsigned', async (m) => m.skip(DYNAMIC_ONLY)],
  ['oidcc-userinfo-get', (m, ctx) => userinfoModule(m, ctx, 'get')],
  ['oidcc-userinfo-post-header', (m, ctx) => userinfoModule(m, ctx, 'post-header')],
  ['oidcc-userinfo-post-body', (m, ctx) => userinfoModule(m, ctx, 'post-body')],
  ['oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async (m, ctx) => {
    const s = await setup(m, ctx);
    const req = await authorize(s, ctx.browser(), { params: { nonce: null } });
    const cb = processCallback(s, req, req.outcome);
    checkSuccessCallback(s, req, cb);
  }],
  ['oidcc-scope-profile', (m, ctx) => scopeModule(m, ctx, ['profile'])],
  ['oidcc-scope-email', (m, ctx) => scopeModule(m, ctx, ['email'])],
  ['oidcc-scope-address', (m, ctx) => scopeModule(m, ctx, ['address'])],
  ['oidcc-scope-phone', (m, ctx) => scopeModule(m, ctx, ['phone'])],
  ['oidcc-scope-all', (m, ctx) => scopeModule(m, ctx, ['profile', 'email', 'address', 'phone'])],
  ['oidcc-alternate-happy-flow', (m, ctx) => scopeModule(m, ctx, ['email'], { reorder: true })],
  ['oidcc-display-page', async (m, ctx) => {
    await happyFlow(await setup(m, ctx), ctx.browser(), { params: { display: 'page' } });
  }],
  ['oidcc-display-popup', async (m, ctx) => {
    await happyFlow(await setup(m, ctx), ctx.browser(), { params: { display: 'popup' } });
  }],
  ['oidcc-prompt-login', async (m, ctx) => {
    const { f1, f2 } = await twoFlows(m, ctx, {}, { params: { prompt: 'login' } }, { wait: 1000 });
    m.expect(f2.req.outcome.logins > 0, 'FAILURE', 'ExpectSecondLoginPage', 'prompt=login: the OP did not ask the user to log in a second time (the suite wants a screenshot of the second login)');
    const a1 = f1.idToken.claims.auth_time, a2 = f2.idToken.claims.auth_time;
    if (a1 !== undefined && a2 !== undefined) m.expect(a2 > a1, 'FAILURE', 'CheckSecondIdTokenAuthTimeIsLaterIfPresent', `auth_time of the second login (${a2}) is not later than the first (${a1})`);
  }],
  ['oidcc-prompt-none-not-logged-in', async (m, ctx) => {
    const s = await setup(m, ctx);
    const req = await authorize(s, ctx.browser(), { params: { prompt: 'none' }, longState: true, policy: { login: false, consent: false } });
    if (req.outcome.kind !== 'rp') m.stop('CheckErrorFromAuthorizationEndpoint', `prompt=none without a session must redirect with login_required; the OP showed ${describeOutcome(req.outcome)}`);
    const cb = processCallback(s, req, req.outcome);
    const error = checkErrorCallback(s, req, cb);
    m.expect(PROMPT_NONE_ERRORS.includes(error), 'FAILURE', 'CheckErrorFromAuthorizationEndpointErrorIsOneOfLoginRequired', `error is ${JSON.stringify(error)}${cb.params.code ? ' (a code was issued)' : ''}, expected one of ${PROMPT_NONE_ERRORS.join(', ')}`);
  }],
  ['oidcc-prompt-none-logged-in', async (m, ctx) => {
    const { f1, f2 } = await twoFlows(m, ctx, {}, { params: { prompt: 'none' }, policy: { login: false, consent: false } });
    sameSubAndAuthTime(m, f1, f2);
  }],
  ['oidcc-max-age-1', async (m, ctx) => {
    const { f1, f2 } = await twoFlows(m, ctx, {}, { params: { max_age: '1' }, maxAge: 1 }, { wait: 2000 });
    m.expect(f2.req.outcome.logins > 0, 'FAILURE', 'ExpectMaxAgeLoginPage', 'max_age=1 after 2 s: the OP did not make the user log in again (the suite wants a screenshot of the second login)');
    const a1 = f1.idToken.claims.auth_time, a2 = f2.idToken.claims.auth_time;
    if (m.expect(a2 !== undefined, 'FAILURE', 'CheckIdTokenAuthTimeIsPresentIfRequested', 'the second id_token has no auth_time although max_age was sent')) {
      if (a1 !== undefined) m.expect(a2 > a1, 'FAILURE', 'CheckSecondIdTokenAuthTimeIsLaterIfPresent', `auth_time after re-authentication (${a2}) is not later than the first (${a1})`);
      const now = Math.floor(Date.now() / 1000);
      m.expect(Math.abs(now - a2) <= 301 + 5, 'FAILURE', 'CheckIdTokenAuthTimeIsRecentIfPresent', `auth_time ${a2} is not within a few seconds of now (${now}), allowing 5 min skew`);
    }
  }],
  ['oidcc-max-age-10000', async (m, ctx) => {
    const { f1, f2 } = await twoFlows(m, ctx, { params: { max_age: '15000' }, maxAge: 15000 }, { params: { max_age: '10000' }, maxAge: 10000, policy: { login: false } });
    const a1 = f1.idToken.claims.auth_time, a2 = f2.idToken.claims.auth_time;
    m.expect(a1 !== undefined, 'FAILURE', 'CheckIdTokenAuthTimeIsPresentIfRequested', 'the first id_token has no auth_time although max_age was sent');
    m.expect(a2 !== undefined, 'FAILURE', 'CheckIdTokenAuthTimeIsPresentIfRequested', 'the second id_token has no auth_time although max_age was sent');
    sameSubAndAuthTime(m, f1, f2);
  }],
  ['oidcc-ensure-request-with-unknown-parameter-succeeds', async (m, ctx) => {
    await happyFlow(await setup(m, ctx), ctx.browser(), { params: { extra: 'foobar' } });
  }],
  ['oidcc-id-token-hint', async (m, ctx) => {
    const s = await setup(m, ctx);
    const browser = ctx.browser();
    const f1 = await happyFlow(s, browser);
    const f2 = await happyFlow(s, browser, { params: { prompt: 'none', id_token_hint: f1.idToken.raw }, policy: { login: false, consent: false } });
    sameSubAndAuthTime(m, f1, f2);
  }],
  ['oidcc-login-hint', async (m, ctx) => {
    const s = await setup(m, ctx);
    await happyFlow(s, ctx.browser(), { params: { login_hint: `buffy@${new URL(s.meta.issuer).hostname}` } });
  }],
  ['oidcc-ui-locales', async (m, ctx) => {
    await happyFlow(await setup(m, ctx), ctx.browser(), { params: { ui_locales: 'se' } });
  }],
  ['oidcc-claims-locales', async (m, ctx) => {
    await happyFlow(await setup(m, ctx), ctx.browser(), { params: { claims_locales: 'se' } });
  }],
  ['oidcc-ensure-request-with-acr-values-succeeds', async (m, ctx) => {
    const s = await setup(m, ctx);
    const supported = Array.isArray(s.meta.acr_values_supported) && s.meta.acr_values_supported.length ? s.meta.acr_values_supported : ['1', '2'];
    const f = await happyFlow(s, ctx.browser(), { params: { acr_values: supported.join(' ') } });
    const acr = f.idToken.claims.acr;
    if (m.expect(acr !== undefined, 'WARNING', 'CheckIdTokenAcr', `the id_token has no acr although acr_values=${JSON.stringify(supported.join(' '))} was requested`)) {
      m.expect(supported.includes(acr), 'WARNING', 'CheckIdTokenAcrIsOneOfRequested', `acr ${JSON.stringify(acr)} is not one of the requested values`);
    }
  }],
  ['oidcc-codereuse', async (m, ctx) => {
    const s = await setup(m, ctx);
    const f = await happyFlow(s, ctx.browser());
    const again = await redeemCodeAgain(s, f.cb, ctx.redirectUri);
    if (again.status === 200) {
      m.warn('CheckTokenEndpointRejectsReusedCode', 'the token endpoint accepted the same code a second time (HTTP 200)');
      return;
    }
    await checkTokenError(m, again, 'invalid_grant');
  }],
  ['oidcc-codereuse-30seconds', async (m, ctx) => {
    const s = await setup(m, ctx);
    const f = await happyFlow(s, ctx.browser());
    m.note('wait', `waited ${ctx.codereuseWait} s before reusing the code (--codereuse-wait; the suite waits 30 s)`);
    await sleep(ctx.codereuseWait * 1000);
    const again = await redeemCodeAgain(s, f.cb, ctx.redirectUri);
    await checkTokenError(m, again, 'invalid_grant');
    const ui = await callUserinfo(s, f.body.access_token, 'get');
    m.expect(ui.status >= 400 && ui.status < 500, 'WARNING', 'CheckUserInfoRejectsAccessTokenOfReusedCode', `the access token of the reused code still works at UserInfo (HTTP ${ui.status}); it should be revoked`);
  }],
  ['oidcc-ensure-registered-redirect-uri', async (m, ctx) => {
    const s = await setup(m, ctx);
    const bad = `${ctx.redirectUri}/${randomAlnum(10)}`;
    const req = await authorize(s, ctx.browser(), { params: { redirect_uri: bad } });
    if (req.outcome.kind === 'rp') {
      m.fail('ExpectRedirectUriErrorPage', `the OP redirected to the client (${req.outcome.record?.rawUrl ?? req.outcome.url}) for an unregistered redirect_uri; it must show an error page`);
      return;
    }
    expectErrorPage(m, req.outcome, 'ExpectRedirectUriErrorPage', 'unregistered redirect_uri');
  }],
  ['oidcc-ensure-post-request-succeeds', async (m, ctx) => {
    const s = await setup(m, ctx);
    const req = await authorize(s, ctx.browser(), { method: 'POST' });
    if (req.outcome.kind !== 'rp') {
      m.warn('WaitForAuthorizationCallback', `no redirect to the client after the authorization request by POST; the OP showed ${describeOutcome(req.outcome)}`);
      return;
    }
    const cb = processCallback(s, req, req.outcome);
    checkSuccessCallback(s, req, cb);
    const ex = await exchangeCode(s, req, cb);
    const ui = await callUserinfo(s, ex.body.access_token, 'get');
    m.expect(ui.status === 200, 'FAILURE', 'EnsureUserInfoResponseIs200', `UserInfo answered HTTP ${ui.status}`);
  }],
  ['oidcc-server-client-secret-post', async (m, ctx) => {
    const s = await setup(m, ctx, 'post', 'client_secret_post');
    await happyFlow(s, ctx.browser());
  }],
  ['oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async (m) => m.skip(DYNAMIC_ONLY)],
  ['oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async (m, ctx) => {
    const s = await setup(m, ctx);
    requestObjectSkip(m, s);
    const keep = ['response_type', 'client_id', 'scope', 'redirect_uri', 'response_mode'];
    const req = await authorize(s, ctx.browser(), {
      queryParams: (p) => ({ ...Object.fromEntries(Object.entries(p).filter(([k]) => keep.includes(k))), request: requestObject(p) }),
    });
    if (req.outcome.kind !== 'rp') m.stop('processCallback', `the OP did not answer the client; it showed ${describeOutcome(req.outcome)}`);
    const cb = processCallback(s, req, req.outcome);
    if (cb.params.error === 'request_not_supported') {
      checkErrorCallback(s, req, cb, { skipState: !('state' in cb.params) }); // the OP need not echo the JWT's state
      m.skip('the OP rejects request objects with request_not_supported (the suite then skips the module)');
    }
    checkSuccessCallback(s, req, cb);
    m.expect(s.meta.request_parameter_supported === true, 'WARNING', 'CheckDiscEndpointRequestParameterSupported', 'request objects are honoured but discovery does not say request_parameter_supported: true');
    await exchangeCode(s, req, cb);
  }],
  ['oidcc-claims-essential', async (m, ctx) => {
    const s = await setup(m, ctx);
    const claims = { userinfo: { name: { essential: true } } };
    const f = await happyFlow(s, ctx.browser(), { params: { claims: JSON.stringify(claims) }, claimsRequest: claims, userinfo: false });
    const ui = await callUserinfo(s, f.body.access_token, 'get');
    const body = checkUserinfoResponse(m, ui, f.idToken.claims.sub);
    if (body) m.expect('name' in body, 'WARNING', 'EnsureUserInfoContainsName', 'the essential claim name is missing from UserInfo');
  }],
  ['oidcc-ensure-request-object-with-redirect-uri', async (m, ctx) => {
    const s = await setup(m, ctx);
    requestObjectSkip(m, s);
    const bad = `${ctx.redirectUri}/${randomAlnum(10)}`;
    const keep = ['response_type', 'client_id', 'scope', 'response_mode'];
    const req = await authorize(s, ctx.browser(), {
      queryParams: (p) => ({ ...Object.fromEntries(Object.entries(p).filter(([k]) => keep.includes(k))), redirect_uri: bad, request: requestObject(p) }),
    });
    if (req.outcome.kind !== 'rp') {
      expectErrorPage(m, req.outcome, 'ExpectRedirectUriErrorPage', 'bad redirect_uri in the query, good one in the request object');
      return;
    }
    const cb = processCallback(s, req, req.outcome);
    if (cb.params.error === 'request_not_supported') {
      m.fail('EnsureErrorIsNotRequestNotSupported', 'request_not_supported was sent to the registered redirect URI although the query named an invalid one (redirecting to a default URI)');
      return;
    }
    checkSuccessCallback(s, req, cb);
    await exchangeCode(s, req, cb);
  }],
  ['oidcc-refresh-token', async (m, ctx) => {
    const s = await setup(m, ctx);
    const browser = ctx.browser();
    const offline = Array.isArray(s.meta.scopes_supported) && s.meta.scopes_supported.includes('offline_access');
    const params = offline ? { scope: 'openid offline_access', prompt: 'consent' } : {};
    const f = await happyFlow(s, browser, { params });
    const rt = f.body.refresh_token;
    const grants = s.meta.grant_types_supported;
    if (typeof rt !== 'string') {
      if (Array.isArray(grants) && grants.includes('refresh_token')) m.warn('CheckDiscEndpointGrantTypesSupportedContainsRefreshToken', 'grant_types_supported lists refresh_token but no refresh token was issued');
      m.skip('the token endpoint issued no refresh token');
    }
    m.expect(Array.isArray(grants) && grants.includes('refresh_token'), 'WARNING', 'CheckDiscEndpointGrantTypesSupportedContainsRefreshToken', 'a refresh token was issued but grant_types_supported does not list refresh_token');
    m.expect(isPrintableAscii(rt), 'FAILURE', 'ValidateRefreshTokenCharset', 'the refresh token has characters outside 0x20-0x7E');
    await sleep(1000);
    const scope = params.scope ?? 'openid';
    const res = await oauth.refreshTokenGrantRequest(s.as, s.oauthClient, s.oauthAuth, rt, { ...oauthOptions(ctx), additionalParameters: { scope } });
    const raw = { status: res.status, headers: res.headers, text: await res.text() };
    const body = checkTokenSuccess(m, raw, { refresh: true });
    try {
      await oauth.processRefreshTokenResponse(s.as, s.oauthClient, new Response(raw.text, { status: raw.status, headers: raw.headers }));
    } catch (e) {
      m.fail('oauth4webapi processRefreshTokenResponse', errMessage(e));
    }
    if (typeof body.id_token === 'string') {
      await verifyJwsWithJwks(m, 'ValidateIdTokenSignature', body.id_token, s.jwks, 'the refreshed id_token');
      const a = f.idToken.claims;
      let b;
      try {
        b = decodeJwt(body.id_token).payload;
      } catch (e) {
        m.stop('ExtractIdTokenFromTokenResponse', `the refreshed id_token does not parse: ${e.message}`);
      }
      const C = 'CompareIdTokenClaims';
      m.expect(b.iss === a.iss, 'FAILURE', C, `iss changed on refresh (${a.iss} → ${b.iss})`);
      m.expect(b.sub === a.sub, 'FAILURE', C, `sub changed on refresh (${a.sub} → ${b.sub})`);
      m.expect(JSON.stringify(b.aud) === JSON.stringify(a.aud), 'FAILURE', C, `aud changed on refresh (${JSON.stringify(a.aud)} → ${JSON.stringify(b.aud)})`);
      m.expect(b.iat !== a.iat, 'FAILURE', C, `iat is the same as the original id_token's (${a.iat})`);
      if ('auth_time' in b || 'auth_time' in a) m.expect(b.auth_time === a.auth_time, 'FAILURE', C, `auth_time changed on refresh (${a.auth_time} → ${b.auth_time})`);
      if ('azp' in b) m.expect(a.azp !== undefined && b.azp === a.azp, 'FAILURE', C, `azp ${JSON.stringify(b.azp)} appeared or changed on refresh`);
    }
    const ui = await callUserinfo(s, body.access_token, 'get');
    m.expect(ui.status === 200, 'FAILURE', 'EnsureUserInfoResponseIs200', `the refreshed access token does not work at UserInfo (HTTP ${ui.status})`);

    // Cross-client: client 2's refresh token presented with client 1's credentials.
    const s2 = await setup(m, ctx, 'client2');
    const f2 = await happyFlow(s2, browser, { params });
    const rt2 = f2.body.refresh_token;
    if (!m.expect(typeof rt2 === 'string', 'FAILURE', 'ExtractRefreshTokenFromTokenResponse', 'client 2 got no refresh token')) return;
    const cross = await oauth.refreshTokenGrantRequest(s.as, s.oauthClient, s.oauthAuth, rt2, { ...oauthOptions(ctx), additionalParameters: { scope } });
    await checkTokenError(m, cross, 'invalid_grant');
  }],
  ['oidcc-ensure-request-with-valid-pkce-succeeds', async (m, ctx) => {
    const s = await setup(m, ctx);
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    await happyFlow(s, ctx.browser(), { params: { code_challenge: challenge, code_challenge_method: 'S256' }, pkceCodeVerifier: verifier });
  }],
];
