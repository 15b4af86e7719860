import { randomInt } from 'node:crypto';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length) {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

/** The suite's long state: 128 characters ending in the unreserved punctuation "-._~". */
export function longState() {
  return randomAlnum(124) + '-._~';
}

/** Shannon entropy in bits per character (AbstractEnsureMinimumEntropy). */
export function shannonEntropy(s) {
  const counts = new Map();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let e = 0;
  for (const count of counts.values()) {
    const p = count / s.length;
    e -= p * Math.log2(p);
  }
  return e;
}

/** Total entropy estimate as the suite computes it: bits per character × length. */
export function entropyBits(s) {
  return shannonEntropy(s) * s.length;
}

export function isPrintableAscii(s) {
  return /^[\x20-\x7e]*$/.test(s);
}

// RFC 6749 Appendix A.
const ERROR_CHARS = /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/;
const ERROR_DESCRIPTION_CHARS = /^[\x09\x0a\x0d\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const ERROR_URI_CHARS = /^[\x21\x23-\x5b\x5d-\x7e]*$/;

/** The suite's checks on an OAuth error object (authorization or token endpoint). */
export function checkErrorCharsets(m, where, params) {
  const error = params.error;
  if (typeof error === 'string') {
    m.expect(
      ERROR_CHARS.test(error),
      'FAILURE',
      `ValidateErrorFrom${where}`,
      `error ${JSON.stringify(error)} uses characters outside %x20-21 / %x23-5B / %x5D-7E`,
    );
  }
  const description = params.error_description;
  if (description !== undefined && description !== null) {
    if (typeof description !== 'string') {
      m.fail(`ValidateErrorDescriptionFrom${where}`, 'error_description is not a string');
    } else {
      m.expect(
        ERROR_DESCRIPTION_CHARS.test(description),
        'FAILURE',
        `ValidateErrorDescriptionFrom${where}`,
        `error_description ${JSON.stringify(description)} uses characters outside the RFC 6749 set (no " and no \\)`,
      );
      m.expect(
        !/[\t\r\n]/.test(description),
        'WARNING',
        `CheckErrorDescriptionFrom${where}ContainsCRLFTAB`,
        'error_description contains CR, LF or TAB',
      );
    }
  }
  const uri = params.error_uri;
  if (uri !== undefined && uri !== null) {
    let valid = typeof uri === 'string' && ERROR_URI_CHARS.test(uri);
    try {
      new URL(uri);
    } catch {
      valid = false;
    }
    m.expect(valid, 'FAILURE', `ValidateErrorUriFrom${where}`, `error_uri ${JSON.stringify(uri)} is not a URI in %x21 / %x23-5B / %x5D-7E`);
  }
}

export function b64urlDecode(s) {
  return Buffer.from(s, 'base64url');
}

export function b64urlJson(s) {
  return JSON.parse(b64urlDecode(s).toString('utf8'));
}

/** Splits a compact JWS without verifying it. */
export function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS (${parts.length} parts)`);
  return { header: b64urlJson(parts[0]), payload: b64urlJson(parts[1]), signature: parts[2], parts };
}

export function mimeType(contentType) {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

export function truncate(s, n = 300) {
  s = String(s ?? '');
  return s.length > n ? s.slice(0, n) + '…' : s;
}

export function errMessage(e) {
  if (!e) return String(e);
  let msg = e.message ?? String(e);
  if (e.code) msg = `${e.code}: ${msg}`;
  if (e.error) msg += ` (error=${e.error}${e.error_description ? `, error_description=${JSON.stringify(e.error_description)}` : ''})`;
  if (e.cause && e.cause instanceof Error) msg += ` [cause: ${e.cause.message}]`;
  return msg;
}
