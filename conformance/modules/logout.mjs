// oidcc-rp-initiated-logout-certification-test-plan (section 1.6) and
// oidcc-backchannel-rp-initiated-logout-certification-test-plan (section 1.7).

import * as jose from 'jose';
import { setup, authorize, processCallback, checkErrorCallback, happyFlow, describeOutcome } from '../lib/flows.mjs';
import { isUrl, verifyJwsWithJwks } from '../lib/checks.mjs';
import { randomAlnum, decodeJwt, errMessage } from '../lib/util.mjs';
import { rpInitiatedLogoutDiscovery, backchannelLogoutDiscovery } from './config.mjs';

const PROMPT_NONE_ERRORS = ['login_required', 'interaction_required', 'account_selection_required', 'consent_required'];
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Common set-up: a client with the post-logout URI, a normal login with the 128-character state. */
async function loggedIn(m, ctx, clientKey) {
  const s = await setup(m, ctx, clientKey);
  m.expect(isUrl(s.meta.end_session_endpoint), 'STOP', 'CheckDiscEndpointEndSessionEndpoint', 'discovery has no end_session_endpoint: RP-Initiated Logout is not offered');
  const browser = ctx.browser();
  const f = await happyFlow(s, browser, { longState: true });
  return { s, browser, f };
}

async function endSession(s, browser, params, { confirm }) {
  const url = new URL(s.meta.end_session_endpoint);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return browser.visit(url.href, { initiator: s.ctx.rpOrigin, policy: { login: false, consent: false, confirmLogout: confirm } });
}

/** The redirect to the post-logout URI: state (or no state) and no other parameters. */
function checkPostLogoutRedirect(m, ctx, outcome, state) {
  if (outcome.kind !== 'rp' || !outcome.record) {
    m.stop('WaitForPostLogoutRedirect', `the OP did not redirect to the post_logout_redirect_uri; it showed ${describeOutcome(outcome)}`);
  }
  const r = outcome.record;
  m.expect(r.path === new URL(ctx.postLogoutUri).pathname, 'STOP', 'CheckPostLogoutRedirectLocation', `the browser was sent to ${r.rawUrl}, not the post_logout_redirect_uri`);
  if (state === undefined) {
    m.expect(!r.query.has('state'), 'FAILURE', 'CheckPostLogoutStateNotPresent', `the redirect carries state=${r.query.get('state')} although none was sent`);
  } else {
    m.expect(r.query.get('state') === state, 'FAILURE', 'CheckPostLogoutState', `state ${JSON.stringify(r.query.get('state'))} is not the one sent (${state})`);
  }
  const extra = [...r.query.keys()].filter((k) => k !== 'state');
  m.expect(extra.length === 0, 'WARNING', 'CheckForUnexpectedParametersInPostLogoutRedirect', `the post-logout redirect has unexpected parameters: ${extra.join(', ')}`);
}

/** After logout, prompt=none must come back with a login-required-type error. */
async function expectLoggedOut(m, s, browser, check = 'CheckErrorFromAuthorizationEndpointErrorIsOneOfLoginRequired') {
  const req = await authorize(s, browser, { params: { prompt: 'none' }, longState: true, policy: { login: false, consent: false } });
  if (req.outcome.kind !== 'rp') m.stop(check, `prompt=none after logout did not redirect to the client; the OP showed ${describeOutcome(req.outcome)}`);
  const cb = processCallback(s, req, req.outcome);
  if (cb.params.code) {
    m.fail(check, 'prompt=none after logout returned a code: the user is still logged in');
    return;
  }
  const error = checkErrorCallback(s, req, cb);
  m.expect(PROMPT_NONE_ERRORS.includes(error), 'FAILURE', check, `error is ${JSON.stringify(error)}, expected one of ${PROMPT_NONE_ERRORS.join(', ')}`);
}

/** Modules where the OP must not redirect: an error page, or a confirmation the user does not give. */
function expectNoRedirect(m, outcome, what) {
  if (outcome.kind === 'rp') {
    m.fail('ExpectNoRedirectToPostLogoutRedirectUri', `${what}: the OP redirected to ${outcome.record?.rawUrl ?? outcome.url}; it must show an error or ask the user to confirm`);
    return;
  }
  if (outcome.status >= 500 || outcome.status === 404 || outcome.status === 405) {
    m.fail('ExpectLogoutErrorOrConfirmationPage', `${what}: the OP answered ${describeOutcome(outcome)}, not an error or confirmation page`);
    return;
  }
  m.note('ExpectLogoutErrorOrConfirmationPage', `shown: ${describeOutcome(outcome)}`);
}

async function mustNotRedirect(m, ctx, makeParams, what) {
  const { s, browser, f } = await loggedIn(m, ctx, 'logout');
  const params = await makeParams(f, ctx);
  const outcome = await endSession(s, browser, params, { confirm: false });
  expectNoRedirect(m, outcome, what);
}

/** no-params, no-post-logout-redirect-uri, only-state: log out, show a page, never redirect. */
async function logsOutWithoutRedirect(m, ctx, makeParams, what) {
  const { s, browser, f } = await loggedIn(m, ctx, 'logout');
  const outcome = await endSession(s, browser, makeParams(f), { confirm: true });
  if (outcome.kind === 'rp') {
    m.fail('ExpectNoRedirectToPostLogoutRedirectUri', `${what}: the OP redirected to ${outcome.record?.rawUrl ?? outcome.url}; it must log out and show a page`);
  } else if (outcome.status >= 400) {
    m.fail('ExpectLoggedOutPage', `${what}: the OP answered ${describeOutcome(outcome)}, not a logged-out page`);
  } else {
    m.note('ExpectLoggedOutPage', `shown: ${describeOutcome(outcome)}${outcome.logoutConfirms ? ' (after the user confirmed)' : ''}`);
  }
  await expectLoggedOut(m, s, browser, 'CheckSessionEndedAfterLogout');
}

function modifiedIdTokenHint(idToken) {
  const { parts } = decodeJwt(idToken);
  return `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${parts[1]}.`;
}

async function foreignIdTokenHint(idToken) {
  const { header, payload } = decodeJwt(idToken);
  const { privateKey } = await jose.generateKeyPair('RS256');
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: `suite-${randomAlnum(8)}`, typ: header.typ }).sign(privateKey);
}

export const RP_LOGOUT_MODULES = [
  ['oidcc-rp-initiated-logout-discovery-endpoint-verification', rpInitiatedLogoutDiscovery],
  ['oidcc-rp-initiated-logout', async (m, ctx) => {
    const { s, browser, f } = await loggedIn(m, ctx, 'logout');
    const state = randomAlnum(10);
    const outcome = await endSession(s, browser, { id_token_hint: f.idToken.raw, post_logout_redirect_uri: ctx.postLogoutUri, state }, { confirm: true });
    checkPostLogoutRedirect(m, ctx, outcome, state);
    await expectLoggedOut(m, s, browser);
  }],
  ['oidcc-rp-initiated-logout-bad-post-logout-redirect-uri', (m, ctx) =>
    mustNotRedirect(m, ctx, (f) => ({ id_token_hint: f.idToken.raw, post_logout_redirect_uri: `${ctx.rpOrigin}/bad_post_logout_redirect`, state: randomAlnum(10) }), 'unregistered post_logout_redirect_uri')],
  ['oidcc-rp-initiated-logout-modified-id-token-hint', (m, ctx) =>
    mustNotRedirect(m, ctx, (f) => ({ id_token_hint: modifiedIdTokenHint(f.idToken.raw), post_logout_redirect_uri: ctx.postLogoutUri, state: randomAlnum(10) }), 'id_token_hint re-encoded with alg none')],
  ['oidcc-rp-initiated-logout-no-id-token-hint', (m, ctx) =>
    mustNotRedirect(m, ctx, () => ({ post_logout_redirect_uri: ctx.postLogoutUri, state: randomAlnum(10) }), 'no id_token_hint')],
  ['oidcc-rp-initiated-logout-no-params', (m, ctx) => logsOutWithoutRedirect(m, ctx, () => ({}), 'no parameters')],
  ['oidcc-rp-initiated-logout-no-post-logout-redirect-uri', (m, ctx) =>
    logsOutWithoutRedirect(m, ctx, (f) => ({ id_token_hint: f.idToken.raw, state: randomAlnum(10) }), 'no post_logout_redirect_uri')],
  ['oidcc-rp-initiated-logout-no-state', async (m, ctx) => {
    const { s, browser, f } = await loggedIn(m, ctx, 'logout');
    const outcome = await endSession(s, browser, { id_token_hint: f.idToken.raw, post_logout_redirect_uri: ctx.postLogoutUri }, { confirm: true });
    checkPostLogoutRedirect(m, ctx, outcome, undefined);
    await expectLoggedOut(m, s, browser);
  }],
  ['oidcc-rp-initiated-logout-only-state', (m, ctx) => logsOutWithoutRedirect(m, ctx, () => ({ state: randomAlnum(10) }), 'only state')],
  ['oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri', (m, ctx) =>
    mustNotRedirect(m, ctx, (f) => ({ id_token_hint: f.idToken.raw, post_logout_redirect_uri: `${ctx.postLogoutUri}?foo=bar`, state: randomAlnum(10) }), 'post_logout_redirect_uri with ?foo=bar added')],
  ['oidcc-rp-initiated-logout-bad-id-token-hint', (m, ctx) =>
    mustNotRedirect(m, ctx, async (f) => ({ id_token_hint: await foreignIdTokenHint(f.idToken.raw), post_logout_redirect_uri: ctx.postLogoutUri, state: randomAlnum(10) }), 'id_token_hint signed by another key')],
];

async function checkLogoutToken(m, s, record, idToken) {
  m.note('CheckBackchannelLogoutTls', 'not reproduced: the runner\'s RP listens on plain http on loopback, so there is no TLS version or cipher to check');
  const form = record.form ?? new URLSearchParams(record.body);
  const extra = [...form.keys()].filter((k) => k !== 'logout_token');
  m.expect(extra.length === 0, 'WARNING', 'CheckForUnexpectedParametersInBackchannelLogoutRequest', `the back-channel POST has parameters besides logout_token: ${extra.join(', ')}`);
  const token = form.get('logout_token');
  if (!token) m.stop('ExtractLogoutToken', `the back-channel POST has no logout_token (Content-Type ${record.contentType}, body ${JSON.stringify(record.body.slice(0, 120))})`);
  await verifyJwsWithJwks(m, 'ValidateLogoutTokenSignature', token, s.jwks, 'the logout token');
  try {
    await jose.jwtVerify(token, jose.createLocalJWKSet(s.jwks), { issuer: s.meta.issuer, audience: s.client.client_id, clockTolerance: 300 });
  } catch (e) {
    m.fail('jose jwtVerify(logout_token)', errMessage(e));
  }
  let c;
  try {
    c = decodeJwt(token).payload;
  } catch (e) {
    m.stop('ExtractLogoutToken', `the logout token does not parse: ${e.message}`);
  }
  const V = 'ValidateLogoutTokenClaims';
  const now = Math.floor(Date.now() / 1000);
  m.expect(c.iss === s.meta.issuer, 'FAILURE', V, `iss ${JSON.stringify(c.iss)} is not the issuer`);
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  m.expect(aud.includes(s.client.client_id), 'FAILURE', V, `aud ${JSON.stringify(c.aud)} does not contain the client_id`);
  if (m.expect(typeof c.iat === 'number', 'FAILURE', V, 'iat is missing')) {
    m.expect(c.iat <= now + 300, 'FAILURE', V, `iat ${c.iat} is in the future`);
    m.expect(c.iat >= now - 86400, 'FAILURE', V, `iat ${c.iat} is more than a day old`);
  }
  m.expect(typeof c.jti === 'string' && c.jti !== '', 'FAILURE', V, 'jti is missing');
  const ev = c.events;
  const okEvents = ev !== null && typeof ev === 'object' && !Array.isArray(ev) && Object.keys(ev).length === 1 && BACKCHANNEL_EVENT in ev &&
    ev[BACKCHANNEL_EVENT] !== null && typeof ev[BACKCHANNEL_EVENT] === 'object' && !Array.isArray(ev[BACKCHANNEL_EVENT]) && Object.keys(ev[BACKCHANNEL_EVENT]).length === 0;
  m.expect(okEvents, 'FAILURE', V, `events must be exactly {"${BACKCHANNEL_EVENT}": {}}, got ${JSON.stringify(ev)}`);
  if ('sub' in c) m.expect(c.sub === idToken.claims.sub, 'FAILURE', V, `sub ${JSON.stringify(c.sub)} is not the id_token sub`);
  if ('sid' in c) m.expect(c.sid === idToken.claims.sid, 'FAILURE', V, `sid ${JSON.stringify(c.sid)} is not the id_token sid (${JSON.stringify(idToken.claims.sid)})`);
  m.expect(!('nonce' in c), 'FAILURE', V, 'the logout token carries a nonce');
  m.expect('sub' in c || 'sid' in c, 'FAILURE', V, 'the logout token has neither sub nor sid');
}

export const BACKCHANNEL_MODULES = [
  ['oidcc-backchannel-logout-discovery-endpoint-verification', backchannelLogoutDiscovery],
  ['oidcc-backchannel-rp-initiated-logout', async (m, ctx) => {
    const since = ctx.rp.records.length;
    const { s, browser, f } = await loggedIn(m, ctx, 'backchannel');
    m.expect(typeof f.idToken.claims.sid === 'string', 'FAILURE', 'CheckIdTokenSid', 'the id_token has no sid; back-channel logout with session required needs it');
    const state = randomAlnum(10);
    const outcome = await endSession(s, browser, { id_token_hint: f.idToken.raw, post_logout_redirect_uri: ctx.postLogoutUri, state }, { confirm: true });
    const post = await ctx.rp.waitFor((r) => r.path === '/backchannel_logout', ctx.backchannelWait * 1000, since);
    if (!post) {
      m.fail('WaitForBackchannelLogoutRequest', `no logout token was POSTed to ${ctx.rpOrigin}/backchannel_logout within ${ctx.backchannelWait} s of the end-session request`);
    } else if (post.method !== 'POST') {
      m.fail('WaitForBackchannelLogoutRequest', `the back-channel logout request was a ${post.method}, not a POST`);
    } else {
      await checkLogoutToken(m, s, post, f.idToken);
    }
    checkPostLogoutRedirect(m, ctx, outcome, state);
    await expectLoggedOut(m, s, browser);
  }],
];
