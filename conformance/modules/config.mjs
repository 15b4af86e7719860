// oidcc-config-certification-test-plan: oidcc-discovery-endpoint-verification, every check of
// section 1.5 in order; plus the discovery modules of the two logout plans (sections 1.6, 1.7).

import { fetchDiscovery, fetchJwks, checkJwks, parseJwksKeys, isHttpsUrl, isUrl, METADATA_TYPES } from '../lib/checks.mjs';
import { mimeType } from '../lib/util.mjs';

const WELL_KNOWN = '/.well-known/openid-configuration';

function typeOk(type, v) {
  switch (type) {
    case 'uri':
      return typeof v === 'string' && isUrl(v);
    case 'string':
      return typeof v === 'string';
    case 'array':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    default:
      return true;
  }
}

function httpsUrlCheck(m, meta, key, check, { required = true, absent = 'FAILURE' } = {}) {
  if (!(key in meta)) {
    if (required) m.expect(false, absent, check, `${key} is missing`);
    return;
  }
  m.expect(isHttpsUrl(meta[key]), 'FAILURE', check, `${key} ${JSON.stringify(meta[key])} is not an https URL`);
}

function allEndpointsHttps(m, meta) {
  for (const [key, value] of Object.entries(meta)) {
    if (!key.endsWith('_endpoint')) continue;
    m.expect(isHttpsUrl(value), 'FAILURE', 'CheckDiscEndpointAllEndpointsAreHttps', `${key} ${JSON.stringify(value)} is not an https URL`);
  }
}

function localesCheck(m, meta) {
  for (const key of ['ui_locales_supported', 'claims_locales_supported']) {
    if (!(key in meta)) continue;
    const list = meta[key];
    if (!Array.isArray(list)) {
      m.fail('CheckDiscEndpointLocalesSyntax', `${key} is not an array`);
      continue;
    }
    for (const tag of list) {
      let canonical = null;
      try {
        [canonical] = Intl.getCanonicalLocales(tag);
      } catch {
        // malformed
      }
      if (canonical === null || typeof tag !== 'string' || !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) {
        m.fail('CheckDiscEndpointLocalesSyntax', `${key}: ${JSON.stringify(tag)} is not a well-formed BCP 47 tag`);
      } else if (canonical !== tag) {
        m.warn('CheckDiscEndpointLocalesCanonicalCasing', `${key}: ${JSON.stringify(tag)} is not in canonical case (${canonical})`);
      }
    }
  }
}

async function discoveryEndpointVerification(m, ctx) {
  const url = ctx.discoveryUrl;
  const { meta, status, contentType } = await fetchDiscovery(m, url); // 1
  m.expect(status === 200, 'FAILURE', 'EnsureDiscoveryEndpointResponseStatusCodeIs200', `HTTP ${status}`); // 2
  m.expect(mimeType(contentType) === 'application/json', 'FAILURE', 'CheckDiscoveryEndpointReturnedJsonContentType', `Content-Type is ${JSON.stringify(contentType)}`); // 3
  const rts = meta.response_types_supported; // 4
  const known = ['code', 'code id_token', 'id_token', 'token id_token', 'code id_token token', 'code token'];
  m.expect(Array.isArray(rts) && rts.some((t) => known.includes(t)), 'FAILURE', 'OIDCCCheckDiscEndpointResponseTypesSupported', `response_types_supported ${JSON.stringify(rts)} lists none of ${known.join(', ')}`);
  const u = new URL(url); // 5
  m.expect(u.pathname.endsWith(WELL_KNOWN) && u.protocol === 'https:', 'FAILURE', 'CheckDiscEndpointDiscoveryUrl', `the discovery URL ${url} must be https and end in ${WELL_KNOWN}`);
  const strip = (s) => (s.endsWith('/') ? s.slice(0, -1) : s); // 6
  const expectedIssuer = strip(url.slice(0, url.length - WELL_KNOWN.length));
  m.expect(typeof meta.issuer === 'string' && strip(meta.issuer) === expectedIssuer, 'FAILURE', 'CheckDiscEndpointIssuer', `issuer ${JSON.stringify(meta.issuer)} is not the discovery URL minus ${WELL_KNOWN} (${expectedIssuer})`);
  let issuerOk = false; // 7
  try {
    const i = new URL(meta.issuer);
    issuerOk = i.protocol === 'https:' && i.hostname !== '' && i.search === '' && i.hash === '' && i.username === '' && i.password === '' && !String(meta.issuer).includes('?') && !String(meta.issuer).includes('#');
  } catch {
    issuerOk = false;
  }
  m.expect(issuerOk, 'FAILURE', 'CheckDiscEndpointIssuerIsValidUrl', `issuer ${JSON.stringify(meta.issuer)} must be an https URL with a host and no query, fragment or userinfo`);
  const unknown = []; // 8, 9
  for (const [key, value] of Object.entries(meta)) {
    const type = METADATA_TYPES[key];
    if (type === undefined) {
      unknown.push(key);
      continue;
    }
    m.expect(typeOk(type, value), 'FAILURE', 'ValidateServerMetadataAgainstSchema', `${key} must be ${type === 'uri' ? 'a URI string' : type === 'array' ? 'an array of strings' : `a JSON ${type}`}, got ${JSON.stringify(value)}`);
  }
  m.expect(unknown.length === 0, 'WARNING', 'CheckForUnexpectedParametersInServerMetadata', `discovery has keys the suite's schema does not know: ${unknown.join(', ')}`);
  const sts = meta.subject_types_supported; // 10
  m.expect(Array.isArray(sts) && (sts.includes('public') || sts.includes('pairwise')), 'FAILURE', 'CheckDiscEndpointSubjectTypesSupported', `subject_types_supported ${JSON.stringify(sts)} lists neither public nor pairwise`);
  const idAlgs = meta.id_token_signing_alg_values_supported; // 11
  m.expect(Array.isArray(idAlgs) && idAlgs.includes('RS256'), 'FAILURE', 'OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported', `id_token_signing_alg_values_supported ${JSON.stringify(idAlgs)} does not list RS256`);
  if ('userinfo_signing_alg_values_supported' in meta) m.expect(Array.isArray(meta.userinfo_signing_alg_values_supported), 'FAILURE', 'OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported', 'userinfo_signing_alg_values_supported is not an array'); // 12
  else m.note('OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported', 'absent');
  httpsUrlCheck(m, meta, 'authorization_endpoint', 'CheckDiscEndpointAuthorizationEndpoint'); // 13
  httpsUrlCheck(m, meta, 'token_endpoint', 'CheckDiscEndpointTokenEndpoint'); // 14
  httpsUrlCheck(m, meta, 'userinfo_endpoint', 'CheckDiscEndpointUserinfoEndpoint', { absent: 'WARNING' }); // 15
  httpsUrlCheck(m, meta, 'registration_endpoint', 'CheckDiscEndpointRegistrationEndpoint', { required: false }); // 16
  httpsUrlCheck(m, meta, 'jwks_uri', 'CheckJwksUri'); // 17
  const jwks = await fetchJwks(m, meta); // 18
  if (!Array.isArray(jwks.keys)) m.warn('CheckServerKeysIsValid', 'the JWKS does not parse as a JWK Set');
  checkJwks(m, jwks);
  await parseJwksKeys(m, jwks);
  m.expect(meta.request_parameter_supported === true, 'INFO', 'CheckDiscEndpointRequestParameterSupported', `request_parameter_supported is ${JSON.stringify(meta.request_parameter_supported)}`); // 19
  m.expect(meta.request_uri_parameter_supported !== false, 'INFO', 'CheckDiscEndpointRequestUriParameterSupported', `request_uri_parameter_supported is ${JSON.stringify(meta.request_uri_parameter_supported)}`); // 20
  if ('request_object_signing_alg_values_supported' in meta) { // 21
    const list = meta.request_object_signing_alg_values_supported;
    m.expect(Array.isArray(list) && list.includes('RS256'), 'WARNING', 'CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256', `request_object_signing_alg_values_supported ${JSON.stringify(list)} does not list RS256`);
  }
  m.expect(meta.claims_parameter_supported === true, 'INFO', 'CheckDiscEndpointClaimsParameterSupported', `claims_parameter_supported is ${JSON.stringify(meta.claims_parameter_supported)}`); // 22
  m.expect(Array.isArray(meta.claims_supported), 'WARNING', 'OIDCCCheckDiscEndpointClaimsSupported', 'claims_supported is missing or not an array'); // 23
  if ('grant_types_supported' in meta) { // 24
    const g = meta.grant_types_supported;
    m.expect(Array.isArray(g) && g.length > 0, 'FAILURE', 'OIDCCCheckDiscEndpointGrantTypesSupported', `grant_types_supported ${JSON.stringify(g)} is not a non-empty array`);
  }
  if ('scopes_supported' in meta) { // 25, 26
    const sc = meta.scopes_supported;
    m.expect(Array.isArray(sc) && sc.includes('openid'), 'FAILURE', 'CheckDiscEndpointScopesSupportedContainsOpenId', `scopes_supported ${JSON.stringify(sc)} does not list openid`);
    for (const scope of Array.isArray(sc) ? sc : []) {
      m.expect(typeof scope === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope), 'FAILURE', 'CheckDiscEndpointScopesSupportedSyntax', `scope ${JSON.stringify(scope)} is not an RFC 6749 scope-token`);
    }
  } else {
    m.warn('CheckDiscEndpointScopesSupportedContainsOpenId', 'scopes_supported is missing');
  }
  localesCheck(m, meta); // 27, 28
  allEndpointsHttps(m, meta); // 29
  const ccm = meta.code_challenge_methods_supported; // 30
  if (ccm !== undefined && !(Array.isArray(ccm) && ccm.length === 0)) {
    m.expect(Array.isArray(ccm) && (ccm.includes('S256') || ccm.includes('plain')), 'FAILURE', 'EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray', `code_challenge_methods_supported ${JSON.stringify(ccm)} lists neither S256 nor plain`);
  }
}

export const CONFIG_MODULES = [['oidcc-discovery-endpoint-verification', discoveryEndpointVerification]];

export async function rpInitiatedLogoutDiscovery(m, ctx) {
  const { meta } = await fetchDiscovery(m, ctx.discoveryUrl);
  allEndpointsHttps(m, meta);
  m.expect('end_session_endpoint' in meta, 'FAILURE', 'CheckDiscEndpointEndSessionEndpoint', 'end_session_endpoint is missing from discovery');
  if ('end_session_endpoint' in meta) m.expect(isHttpsUrl(meta.end_session_endpoint), 'FAILURE', 'CheckDiscEndpointEndSessionEndpoint', `end_session_endpoint ${JSON.stringify(meta.end_session_endpoint)} is not an https URL`);
}

export async function backchannelLogoutDiscovery(m, ctx) {
  const { meta } = await fetchDiscovery(m, ctx.discoveryUrl);
  allEndpointsHttps(m, meta);
  m.expect(meta.backchannel_logout_supported === true, 'FAILURE', 'CheckDiscEndpointBackchannelLogoutSupported', `backchannel_logout_supported is ${JSON.stringify(meta.backchannel_logout_supported)} (must be true)`);
  m.expect(meta.backchannel_logout_session_supported === true, 'FAILURE', 'CheckDiscEndpointBackchannelLogoutSessionSupported', `backchannel_logout_session_supported is ${JSON.stringify(meta.backchannel_logout_session_supported)} (must be true)`);
  m.expect(isHttpsUrl(meta.end_session_endpoint), 'FAILURE', 'CheckDiscEndpointEndSessionEndpoint', `end_session_endpoint ${JSON.stringify(meta.end_session_endpoint)} is missing or not an https URL`);
}
