// The suite's checks on discovery, JWKS, ID tokens, UserInfo and standard claims
// (sections 1.5, 2.1, 2.4 and 2.5 of shared/spec/oidf-conformance-checks.md).

import * as jose from 'jose';
import { createHash } from 'node:crypto';
import { decodeJwt, isPrintableAscii, mimeType, truncate } from './util.mjs';

// RFC 8414 + OpenID metadata names and JSON types, as in the suite's
// json-schemas/rfc8414/oauth_authorization_server_metadata.json.
const U = 'uri', A = 'array', B = 'boolean', S = 'string', O = 'object', X = 'any';
export const METADATA_TYPES = {
  issuer: U, authorization_endpoint: U, token_endpoint: U, jwks_uri: U, registration_endpoint: U,
  scopes_supported: A, response_types_supported: A, response_modes_supported: A, grant_types_supported: A,
  token_endpoint_auth_methods_supported: A, token_endpoint_auth_signing_alg_values_supported: A,
  service_documentation: U, ui_locales_supported: A, op_policy_uri: U, op_tos_uri: U,
  revocation_endpoint: U, revocation_endpoint_auth_methods_supported: A, revocation_endpoint_auth_signing_alg_values_supported: A,
  global_token_revocation_endpoint: U, global_token_revocation_endpoint_auth_methods_supported: A,
  introspection_endpoint: U, introspection_endpoint_auth_methods_supported: A, introspection_endpoint_auth_signing_alg_values_supported: A,
  code_challenge_methods_supported: A, userinfo_endpoint: U, end_session_endpoint: U, check_session_iframe: U,
  subject_types_supported: A, id_token_signing_alg_values_supported: A, id_token_encryption_alg_values_supported: A,
  id_token_encryption_enc_values_supported: A, userinfo_signing_alg_values_supported: A, userinfo_encryption_alg_values_supported: A,
  userinfo_encryption_enc_values_supported: A, request_object_signing_alg_values_supported: A,
  request_object_encryption_alg_values_supported: A, request_object_encryption_enc_values_supported: A,
  display_values_supported: A, claim_types_supported: A, claims_supported: A, claims_locales_supported: A,
  claims_parameter_supported: B, request_parameter_supported: B, request_uri_parameter_supported: B,
  require_request_uri_registration: B, acr_values_supported: A, frontchannel_logout_supported: B,
  frontchannel_logout_session_supported: B, backchannel_logout_supported: B, backchannel_logout_session_supported: B,
  dpop_signing_alg_values_supported: A, pushed_authorization_request_endpoint: U, require_pushed_authorization_requests: B,
  authorization_details_types_supported: A, authorization_challenge_endpoint: U, backchannel_authentication_endpoint: U,
  backchannel_token_delivery_modes_supported: A, backchannel_authentication_request_signing_alg_values_supported: A,
  backchannel_user_code_parameter_supported: B, authorization_signing_alg_values_supported: A,
  authorization_encryption_alg_values_supported: A, authorization_encryption_enc_values_supported: A,
  client_attestation_signing_alg_values_supported: A, client_attestation_pop_signing_alg_values_supported: A,
  challenge_endpoint: U, mtls_endpoint_aliases: O, tls_client_certificate_bound_access_tokens: B, signed_metadata: S,
  'pre-authorized_grant_anonymous_access_supported': B, authorization_response_iss_parameter_supported: B,
  device_authorization_endpoint: U, require_signed_request_object: B, introspection_signing_alg_values_supported: A,
  introspection_encryption_alg_values_supported: A, introspection_encryption_enc_values_supported: A,
  prompt_values_supported: A, signed_jwks_uri: U, jwks: O, organization_name: S, organization_uri: U, display_name: S,
  description: S, keywords: A, contacts: A, logo_uri: U, information_uri: U, federation_registration_endpoint: U,
  client_registration_types_supported: A, client_id_metadata_document_supported: B, trust_frameworks_supported: A,
  evidence_supported: A, documents_supported: A, documents_check_methods_supported: A, documents_methods_supported: A,
  electronic_records_supported: A, attachments_supported: A, claims_in_verified_claims_supported: A,
  transformed_claims_functions_supported: A, transformed_claims_predefined: X, grant_management_endpoint: U,
  grant_management_actions_supported: A, grant_management_action_required: B, request_authentication_methods_supported: X,
  request_authentication_signing_alg_values_supported: A, protected_resources: A, status_list_aggregation_endpoint: U,
};

export const SCOPE_CLAIMS = {
  profile: ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at', 'preferred_username'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

const ID_TOKEN_PROTOCOL_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'nbf', 'jti', 'sid', 's_hash', 'txn'];

export function isHttpsUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' && u.hostname !== '';
  } catch {
    return false;
  }
}

export function isUrl(value) {
  if (typeof value !== 'string' || value === '') return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery

/** GET the discovery document raw. Stops the module if it cannot be fetched or is not a JSON object. */
export async function fetchDiscovery(m, discoveryUrl) {
  let res, text;
  try {
    res = await fetch(discoveryUrl, { redirect: 'manual' });
    text = await res.text();
  } catch (e) {
    m.stop('GetDynamicServerConfiguration', `cannot fetch ${discoveryUrl}: ${e.cause?.message ?? e.message}`);
  }
  let meta;
  try {
    meta = JSON.parse(text);
  } catch {
    m.stop('GetDynamicServerConfiguration', `${discoveryUrl} answered HTTP ${res.status} with a body that is not JSON: ${truncate(text, 120)}`);
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    m.stop('GetDynamicServerConfiguration', 'the discovery document is not a JSON object');
  }
  return { meta, status: res.status, contentType: res.headers.get('content-type') };
}

/** What AbstractOIDCCServerTest.configure() runs before every module. Returns { meta, jwks }. */
export async function configureChecks(m, ctx, authMethod) {
  const { meta } = await fetchDiscovery(m, ctx.discoveryUrl);
  for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint']) {
    m.expect(isUrl(meta[key]), 'STOP', 'CheckServerConfiguration', `${key} is missing or not a URL: ${JSON.stringify(meta[key])}`);
  }
  const jwks = await fetchJwks(m, meta);
  checkJwks(m, jwks);
  if (authMethod) {
    const list = meta.token_endpoint_auth_methods_supported;
    const supported = list === undefined ? authMethod === 'client_secret_basic' : Array.isArray(list) && list.includes(authMethod);
    const name = authMethod === 'client_secret_post' ? 'EnsureServerConfigurationSupportsClientSecretPost' : 'EnsureServerConfigurationSupportsClientSecretBasic';
    m.expect(supported, 'FAILURE', name, `token_endpoint_auth_methods_supported ${JSON.stringify(list)} does not list ${authMethod}`);
  }
  return { meta, jwks };
}

export async function fetchJwks(m, meta) {
  if (typeof meta.jwks_uri !== 'string') m.stop('FetchServerKeys', 'jwks_uri is missing from discovery');
  let res, body;
  try {
    res = await fetch(meta.jwks_uri);
    body = await res.text();
  } catch (e) {
    m.stop('FetchServerKeys', `cannot fetch ${meta.jwks_uri}: ${e.cause?.message ?? e.message}`);
  }
  let jwks;
  try {
    jwks = JSON.parse(body);
  } catch {
    m.stop('FetchServerKeys', `jwks_uri answered HTTP ${res.status} with a body that is not JSON`);
  }
  if (jwks === null || typeof jwks !== 'object' || Array.isArray(jwks)) m.stop('FetchServerKeys', 'the JWKS is not a JSON object');
  return jwks;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Section 2.4: the JWKS checks of every module's configure() and of the discovery module. */
export function checkJwks(m, jwks) {
  if (!Array.isArray(jwks.keys)) {
    m.fail('ValidateJwksStructure', 'the JWKS has no "keys" array');
    m.warn('CheckServerKeysIsValid', 'the JWKS does not parse as a JWK Set');
    return;
  }
  const kids = new Map();
  jwks.keys.forEach((key, i) => {
    const where = `key #${i}${key && key.kid ? ` (kid ${key.kid})` : ''}`;
    if (key === null || typeof key !== 'object' || typeof key.kty !== 'string') {
      m.fail('ValidateJwksStructure', `${where} is not an object with kty`);
      return;
    }
    if (key.kty === 'oct') m.fail('EnsureJwksHasNoPrivateOrSymmetricKeyMaterial', `${where} is a symmetric (oct) key`);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
      if (member in key) m.fail('EnsureJwksHasNoPrivateOrSymmetricKeyMaterial', `${where} publishes the private member "${member}"`);
    }
    const needs = { RSA: ['n', 'e'], EC: ['x', 'y'], OKP: ['x', 'crv'] }[key.kty];
    if (needs) {
      for (const member of needs) {
        const v = key[member];
        if (member === 'crv') {
          if (typeof v !== 'string') m.fail('ValidateJwksStructure', `${where} has no crv`);
        } else if (typeof v !== 'string' || !B64URL.test(v)) {
          m.fail('ValidateJwksStructure', `${where}: "${member}" is missing or not unpadded base64url`);
        }
      }
    } else {
      m.warn('WarnOnUnusableJwksKeys', `${where} has the unsupported kty ${key.kty}`);
    }
    if (typeof key.kid !== 'string' || key.kid.trim() === '') {
      m.fail('CheckForKeyIdInServerJWKs', `${where} has no kid`);
    } else if (kids.has(key.kid)) {
      m.fail('CheckDistinctKeyIdValueInServerJWKs', `kid ${key.kid} is used by more than one key`);
    } else {
      kids.set(key.kid, key);
    }
  });
}

/** Parses every usable key (ParseUsableJwksKeys). */
export async function parseJwksKeys(m, jwks) {
  for (const key of jwks.keys ?? []) {
    if (!['RSA', 'EC', 'OKP'].includes(key?.kty)) continue;
    try {
      const alg = key.alg ?? { RSA: 'RS256', EC: { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[key.crv], OKP: 'EdDSA' }[key.kty];
      await jose.importJWK(key, alg);
    } catch (e) {
      m.fail('ParseUsableJwksKeys', `key ${key.kid ?? '(no kid)'} does not parse: ${e.message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Standard claims (section 2.5)

const STRING_CLAIMS = ['sub', 'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'email', 'gender', 'zoneinfo', 'locale', 'phone_number', 'txn'];

function validBirthdate(v) {
  if (typeof v !== 'string') return false;
  const year = new Date().getUTCFullYear();
  let m = v.match(/^(\d{4})$/);
  if (m) return Number(m[1]) >= 1850 && Number(m[1]) <= year;
  m = v.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y === 0 ? 2000 : y, mo, 0)).getUTCDate();
  if (d > days) return false;
  return y === 0 || (y >= 1850 && y <= year);
}

export function checkStandardClaims(m, condition, claims) {
  for (const name of STRING_CLAIMS) {
    if (!(name in claims)) continue;
    const v = claims[name];
    m.expect(typeof v === 'string' && v.trim() !== '' && v !== 'null', 'FAILURE', condition, `${name} must be a non-blank string, got ${JSON.stringify(v)}`);
  }
  for (const name of ['email_verified', 'phone_number_verified']) {
    if (name in claims) m.expect(typeof claims[name] === 'boolean', 'FAILURE', condition, `${name} must be a JSON boolean, got ${JSON.stringify(claims[name])}`);
  }
  if ('birthdate' in claims) m.expect(validBirthdate(claims.birthdate), 'FAILURE', condition, `birthdate ${JSON.stringify(claims.birthdate)} is not YYYY-MM-DD, 0000-MM-DD or YYYY`);
  if ('updated_at' in claims) m.expect(typeof claims.updated_at === 'number', 'FAILURE', condition, `updated_at must be a number, got ${JSON.stringify(claims.updated_at)}`);
  if ('address' in claims) {
    const a = claims.address;
    const ok =
      a !== null && typeof a === 'object' && !Array.isArray(a) && Object.keys(a).length > 0 &&
      ['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country'].every((k) => !(k in a) || (typeof a[k] === 'string' && a[k].trim() !== ''));
    m.expect(ok, 'FAILURE', condition, `address must be a non-empty object of non-blank strings, got ${JSON.stringify(a)}`);
  }
  for (const [name, v] of Object.entries(claims)) {
    if (v === null) m.fail(condition, `${name} is JSON null (omit the claim instead)`);
    else if (v === '') m.fail(condition, `${name} is an empty string (omit the claim instead)`);
  }
  const names = claims._claim_names;
  const sources = claims._claim_sources;
  if (names !== undefined || sources !== undefined) {
    const isObj = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);
    m.expect(isObj(names) && isObj(sources), 'FAILURE', condition, '_claim_names and _claim_sources must both be objects');
    if (isObj(names) && isObj(sources)) {
      const referenced = new Set(Object.values(names));
      for (const key of Object.keys(sources)) m.expect(referenced.has(key), 'FAILURE', condition, `_claim_sources.${key} is not referenced by _claim_names`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ID token (section 2.1)

function hashAlg(alg) {
  const bits = (alg ?? '').slice(-3);
  return { 256: 'sha256', 384: 'sha384', 512: 'sha512' }[bits] ?? (alg === 'EdDSA' ? 'sha512' : null);
}

export function leftHalfHash(alg, value) {
  const h = hashAlg(alg);
  if (!h) return null;
  const digest = createHash(h).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function ktyFor(alg) {
  if (/^(RS|PS)/.test(alg)) return 'RSA';
  if (/^ES/.test(alg)) return 'EC';
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'OKP';
  if (/^HS/.test(alg)) return 'oct';
  return null;
}

/** ValidateIdTokenSignature: key selection by kid/kty/alg/use, then the signature. */
export async function verifyJwsWithJwks(m, condition, token, jwks, what = 'the ID token') {
  let header;
  try {
    header = decodeJwt(token).header;
  } catch (e) {
    m.fail(condition, `${what} is not a compact JWS: ${e.message}`);
    return false;
  }
  if (header.alg === 'none' || !header.alg) {
    m.fail(condition, `${what} is unsigned (alg ${JSON.stringify(header.alg)})`);
    return false;
  }
  const kty = ktyFor(header.alg);
  let candidates = (jwks.keys ?? []).filter(
    (k) => k.kty === kty && (k.alg === undefined || k.alg === header.alg) && (k.use === undefined || k.use === 'sig'),
  );
  if (header.kid !== undefined) {
    candidates = candidates.filter((k) => k.kid === header.kid);
    if (candidates.length === 0) {
      m.fail(condition, `no JWKS key has kid ${header.kid} with kty ${kty}, alg ${header.alg} and use sig`);
      return false;
    }
    const sig = candidates.filter((k) => k.use === 'sig');
    if (sig.length > 1) m.fail(condition, `two keys with kid ${header.kid}, kty ${kty}, alg ${header.alg} and use sig`);
  }
  if (candidates.length === 0) {
    m.fail(condition, `no JWKS key of kty ${kty} for alg ${header.alg}`);
    return false;
  }
  for (const jwk of candidates) {
    try {
      const key = await jose.importJWK(jwk, header.alg);
      await jose.compactVerify(token, key, { algorithms: [header.alg] });
      return true;
    } catch {
      // try the next candidate
    }
  }
  m.fail(condition, `the signature of ${what} does not verify with the OP's JWKS (kid ${header.kid ?? 'none'}, alg ${header.alg})`);
  return false;
}

/**
 * PerformStandardIdTokenChecks plus the soft checks (unrequested name, non-requested claims).
 * opts: { clientId, nonce (string|undefined), accessToken, scopes: string[], claimsRequest, soft: true }
 * Returns the payload, or stops the module if the token cannot be parsed.
 */
export async function checkIdToken(m, s, token, opts) {
  let decoded;
  try {
    decoded = decodeJwt(token);
  } catch (e) {
    m.stop('ExtractIdTokenFromTokenResponse', `the id_token does not parse: ${e.message}`);
  }
  const { header, payload: c } = decoded;
  const now = Math.floor(Date.now() / 1000);
  const V = 'ValidateIdToken';
  m.expect(c.iss === s.meta.issuer, 'FAILURE', V, `iss ${JSON.stringify(c.iss)} is not the issuer ${JSON.stringify(s.meta.issuer)}`);
  const audOk = typeof c.aud === 'string' ? c.aud === opts.clientId : Array.isArray(c.aud) && c.aud.includes(opts.clientId);
  m.expect(audOk, 'FAILURE', V, `aud ${JSON.stringify(c.aud)} is not (or does not contain) the client_id ${opts.clientId}`);
  if (typeof c.exp !== 'number') m.fail(V, `exp is missing or not a number: ${JSON.stringify(c.exp)}`);
  else {
    m.expect(c.exp >= now - 300, 'FAILURE', V, `exp ${c.exp} is more than 5 minutes in the past`);
    m.expect(c.exp <= now + 50 * 365 * 86400, 'FAILURE', V, `exp ${c.exp} is more than 50 years ahead (milliseconds?)`);
  }
  if (typeof c.iat !== 'number') m.fail(V, `iat is missing or not a number: ${JSON.stringify(c.iat)}`);
  else {
    m.expect(c.iat <= now + 300, 'FAILURE', V, `iat ${c.iat} is more than 5 minutes in the future`);
    m.expect(c.iat >= now - 300, 'FAILURE', V, `iat ${c.iat} is more than 5 minutes in the past`);
  }
  if ('auth_time' in c) {
    if (typeof c.auth_time !== 'number') m.fail(V, `auth_time is not a number: ${JSON.stringify(c.auth_time)}`);
    else {
      m.expect(c.auth_time <= now + 300, 'FAILURE', V, `auth_time ${c.auth_time} is more than 5 minutes in the future`);
      m.expect(c.auth_time >= now - 366 * 86400, 'FAILURE', V, `auth_time ${c.auth_time} is more than a year old`);
    }
  }
  if ('acr' in c) m.expect(typeof c.acr === 'string' && c.acr !== '', 'FAILURE', 'ValidateIdTokenACRClaimAgainstRequest', `acr must be a non-empty string, got ${JSON.stringify(c.acr)}`);
  const essentialAcr = opts.claimsRequest?.id_token?.acr;
  if (essentialAcr?.essential) {
    const values = essentialAcr.values ?? (essentialAcr.value !== undefined ? [essentialAcr.value] : null);
    if (values) m.expect(values.includes(c.acr), 'FAILURE', 'ValidateIdTokenACRClaimAgainstRequest', `acr ${JSON.stringify(c.acr)} is not one of the essential values ${JSON.stringify(values)}`);
  }
  if ('nbf' in c && typeof c.nbf === 'number' && c.nbf > now) m.note(V, `nbf ${c.nbf} is in the future`);

  const rest = Object.keys(c).filter((k) => !['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'c_hash', 'at_hash', 's_hash', 'jti', 'nbf', 'verified_claims'].includes(k));
  m.expect(rest.length > 0, 'FAILURE', 'ValidateIdTokenStandardClaims', 'no claim left besides the protocol claims (sub missing)');
  checkStandardClaims(m, 'ValidateIdTokenStandardClaims', c);

  if (opts.nonce !== undefined) {
    m.expect(c.nonce === opts.nonce, 'FAILURE', 'ValidateIdTokenNonce', `nonce ${JSON.stringify(c.nonce)} is not the one sent (${opts.nonce})`);
  } else {
    m.expect(!('nonce' in c), 'FAILURE', 'ValidateIdTokenNonce', `no nonce was sent but the id_token carries nonce ${JSON.stringify(c.nonce)}`);
  }

  await verifyJwsWithJwks(m, 'ValidateIdTokenSignature', token, s.jwks);

  const sub = c.sub;
  const subOk = typeof sub === 'string' && sub.trim() !== '' && sub.length <= 255 && isPrintableAscii(sub);
  m.expect(subOk, 'FAILURE', 'CheckForSubjectInIdToken', `sub must be 1-255 printable ASCII characters, got ${JSON.stringify(sub)}`);
  if ('updated_at' in c && typeof c.updated_at === 'number') {
    m.expect(c.updated_at <= now + 300 && c.updated_at >= 631152000, 'FAILURE', 'ValidateIdTokenStandardClaims', `updated_at ${c.updated_at} is in the future or before 1990`);
  }
  if ('at_hash' in c && opts.accessToken) {
    const expected = leftHalfHash(header.alg, opts.accessToken);
    m.expect(c.at_hash === expected, 'FAILURE', 'ValidateAtHash', `at_hash ${c.at_hash} does not match the access token (expected ${expected})`);
  }
  if ('c_hash' in c && opts.code) {
    const expected = leftHalfHash(header.alg, opts.code);
    m.expect(c.c_hash === expected, 'FAILURE', 'ValidateCHash', `c_hash ${c.c_hash} does not match the code (expected ${expected})`);
  }

  if (opts.soft !== false) {
    const scopes = opts.scopes ?? ['openid'];
    const requestedName = scopes.includes('profile') || opts.claimsRequest?.id_token?.name;
    if (!requestedName) m.expect(!('name' in c), 'WARNING', 'EnsureIdTokenDoesNotContainName', 'the id_token contains name, which was not requested');
    const allowed = new Set(ID_TOKEN_PROTOCOL_CLAIMS);
    for (const scope of scopes) for (const claim of SCOPE_CLAIMS[scope] ?? []) allowed.add(claim);
    for (const claim of Object.keys(opts.claimsRequest?.id_token ?? {})) allowed.add(claim);
    const extra = Object.keys(c).filter((k) => !allowed.has(k) && !(k === 'name' && !requestedName));
    m.expect(extra.length === 0, 'WARNING', 'EnsureIdTokenDoesNotContainNonRequestedClaims', `the id_token contains claims not requested by scope ${JSON.stringify(scopes.join(' '))}: ${extra.join(', ')}`);
  }
  return { header, claims: c, raw: token };
}

// ---------------------------------------------------------------------------------------------
// UserInfo

/** Calls UserInfo raw. how: 'get' | 'post-header' | 'post-body'. */
export async function callUserinfo(s, accessToken, how = 'get') {
  const url = s.meta.userinfo_endpoint;
  let init;
  if (how === 'get') init = { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } };
  else if (how === 'post-header') init = { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } };
  else init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ access_token: accessToken }).toString() };
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // checked by the caller
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The userinfo-get checks: 200, JSON, standard claims, sub (and sub == id_token sub). */
export function checkUserinfoResponse(m, ui, idTokenSub, level = 'FAILURE') {
  m.expect(ui.status === 200, level, 'EnsureUserInfoResponseIs200', `UserInfo answered HTTP ${ui.status}: ${truncate(ui.text, 200)}`);
  if (ui.status !== 200) return null;
  m.expect(mimeType(ui.headers.get('content-type')) === 'application/json', 'FAILURE', 'CheckUserInfoResponseContentType', `Content-Type is ${JSON.stringify(ui.headers.get('content-type'))}, not application/json`);
  if (ui.json === null || typeof ui.json !== 'object' || Array.isArray(ui.json)) {
    m.fail('ValidateUserInfoStandardClaims', 'the UserInfo body is not a JSON object');
    return null;
  }
  checkStandardClaims(m, 'ValidateUserInfoStandardClaims', ui.json);
  m.expect(typeof ui.json.sub === 'string' && ui.json.sub !== '', 'FAILURE', 'UserInfoSubjectPresent', 'UserInfo has no sub');
  if (idTokenSub !== undefined) m.expect(ui.json.sub === idTokenSub, 'FAILURE', 'VerifyUserInfoAndIdTokenInAuthorizationEndpointSameSub', `UserInfo sub ${JSON.stringify(ui.json.sub)} differs from the id_token sub ${JSON.stringify(idTokenSub)}`);
  return ui.json;
}

/** EnsureUserInfoContains<Scope>Claims: every claim of each requested scope present, else WARNING. */
export function checkScopeClaims(m, userinfo, scopes) {
  for (const scope of scopes) {
    const set = SCOPE_CLAIMS[scope];
    if (!set) continue;
    const missing = set.filter((c) => !(c in userinfo));
    m.expect(missing.length === 0, 'WARNING', `CheckUserInfoContains${scope[0].toUpperCase()}${scope.slice(1)}Claims`, `UserInfo lacks the ${scope} claims ${missing.join(', ')}`);
  }
}
