// The user and their browser: a cookie jar, manual redirects, and a person who fills in the
// login form, approves consent, lets form_post pages auto-submit and (where a module allows it)
// confirms logout. Every request is a real HTTP request; callbacks really reach the RP server.

import { parseForms, pageSummary, formData } from './html.mjs';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function siteOf(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}`; // schemeful same-site, ports ignored (no public suffix needed on loopback)
}

class CookieJar {
  constructor({ insecureLoopback }) {
    this.cookies = [];
    this.insecureLoopback = insecureLoopback;
  }

  /** A secure context: https, or (only with --insecure-http) loopback over http, as Chrome treats it. */
  secureContext(url) {
    const u = new URL(url);
    return u.protocol === 'https:' || (this.insecureLoopback && LOOPBACK.has(u.hostname));
  }

  store(url, setCookieHeaders) {
    const u = new URL(url);
    for (const header of setCookieHeaders) {
      const [pair, ...attrParts] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const attrs = {};
      for (const part of attrParts) {
        const i = part.indexOf('=');
        const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
        attrs[k] = i < 0 ? '' : part.slice(i + 1).trim();
      }
      const secure = 'secure' in attrs;
      if (secure && !this.secureContext(url)) continue; // browsers refuse Secure cookies from insecure origins
      if (name.startsWith('__Host-') && (!secure || attrs.path !== '/' || 'domain' in attrs)) continue;
      if (name.startsWith('__Secure-') && !secure) continue;
      let expires = null;
      if ('max-age' in attrs) expires = Date.now() + Number(attrs['max-age']) * 1000;
      else if ('expires' in attrs) expires = Date.parse(attrs.expires);
      let path = attrs.path && attrs.path.startsWith('/') ? attrs.path : u.pathname.replace(/\/[^/]*$/, '') || '/';
      const cookie = {
        name,
        value,
        host: u.hostname,
        path,
        secure,
        sameSite: (attrs.samesite ?? 'lax').toLowerCase(),
        expires,
      };
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === cookie.host && c.path === path));
      if (expires === null || expires > Date.now()) this.cookies.push(cookie);
    }
  }

  header(url, { sameSite, method }) {
    const u = new URL(url);
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now);
    const out = [];
    for (const c of this.cookies) {
      if (c.host !== u.hostname) continue;
      if (!(u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : c.path + '/'))) continue;
      if (c.secure && !this.secureContext(url)) continue;
      if (!sameSite) {
        if (c.sameSite === 'strict') continue;
        if (c.sameSite === 'lax' && method !== 'GET') continue;
        if (c.sameSite === 'none' && !c.secure) continue;
      }
      out.push(`${c.name}=${c.value}`);
    }
    return out.join('; ');
  }

  names(host) {
    return this.cookies.filter((c) => !host || c.host === host).map((c) => c.name);
  }
}

function looksLikeLogin(form) {
  return form.method === 'post' && form.fields.some((f) => f.type === 'password') && /\/login\b/.test(form.action);
}

const POSITIVE = /approve|allow|accept|grant|consent|confirm|yes|\bja\b|godkänn|tillåt|bekräfta|fortsätt|continue|log ?out|sign ?out|logga ut/i;
const NEGATIVE = /deny|reject|cancel|decline|\bno\b|\bnej\b|avbryt|neka|avböj/i;

function buttonText(b) {
  return `${b.name ?? ''} ${b.value ?? ''} ${b.text ?? ''}`;
}

function positiveButton(form) {
  return form.buttons.find((b) => POSITIVE.test(buttonText(b)) && !NEGATIVE.test(buttonText(b))) ?? null;
}

export class Browser {
  /**
   * @param {object} o
   * @param {string} o.rpOrigin origin of the relying party's server (callbacks)
   * @param {(n:number)=>object} o.rpRecord look up what the RP server recorded for a request
   * @param {boolean} o.insecureLoopback treat http://127.0.0.1 as a secure context
   * @param {{email:string,password:string}} o.user
   */
  constructor({ rpOrigin, rpRecord, insecureLoopback, user, opOrigin }) {
    this.rpOrigin = rpOrigin;
    this.opOrigin = opOrigin;
    this.rpRecord = rpRecord;
    this.user = user;
    this.jar = new CookieJar({ insecureLoopback });
    this.history = [];
  }

  /** Submits `form` as a browser would: its method, its enctype, from the page at `pageUrl`. */
  async submit(form, data, pageUrl) {
    const action = new URL(form.action || pageUrl, pageUrl);
    if (form.method !== 'post') {
      action.search = data.toString();
      return this.navigate(action.href, { method: 'GET', initiator: pageUrl });
    }
    const enctype = (form.enctype || 'application/x-www-form-urlencoded').toLowerCase();
    let body;
    let contentType;
    if (enctype === 'multipart/form-data') {
      const boundary = `----leasifyconformance${Date.now()}`;
      body = [...data].map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${boundary}--\r\n`;
      contentType = `multipart/form-data; boundary=${boundary}`;
    } else if (enctype === 'text/plain') {
      body = [...data].map(([k, v]) => `${k}=${v}\r\n`).join('');
      contentType = 'text/plain';
    } else {
      body = data.toString();
      contentType = 'application/x-www-form-urlencoded';
    }
    return this.navigate(action.href, { method: 'POST', body, contentType, initiator: pageUrl });
  }

  /** One HTTP request as the browser would send it; no redirects followed. */
  async request(url, { method = 'GET', body = null, initiator = null, contentType = 'application/x-www-form-urlencoded' } = {}) {
    const target = new URL(url);
    target.hash = '';
    const sameSite = initiator === null || siteOf(initiator) === siteOf(target.href);
    const headers = {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'accept-language': 'sv-SE,sv;q=0.9,en;q=0.8',
      'user-agent': 'leasify-conformance-browser/1.0',
    };
    const cookie = this.jar.header(target.href, { sameSite, method });
    if (cookie) headers.cookie = cookie;
    if (body !== null) headers['content-type'] = contentType;
    if (initiator !== null && method === 'POST') headers.origin = new URL(initiator).origin;
    const response = await fetch(target, { method, headers, body, redirect: 'manual' });
    this.jar.store(target.href, response.headers.getSetCookie());
    const text = await response.text();
    this.history.push({ method, url: target.href, status: response.status });
    if (process.env.CONFORMANCE_TRACE) {
      const loc = response.headers.get('location');
      console.error(`      [browser] ${method} ${target.href.slice(0, 160)} → ${response.status}${loc ? ` → ${loc.slice(0, 160)}` : ''}${cookie ? ` (cookies: ${cookie.split('; ').map((c) => c.split('=')[0]).join(', ')})` : ''}`);
    }
    return { url: target.href, status: response.status, headers: response.headers, text };
  }

  /**
   * Follows redirects from one navigation and returns where the browser lands: the RP (with what
   * the RP server recorded) or a page of the OP.
   */
  async navigate(url, { method = 'GET', body = null, initiator = null, contentType } = {}) {
    for (let hops = 0; hops < 20; hops++) {
      const res = await this.request(url, { method, body, initiator, contentType });
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        const location = res.headers.get('location');
        if (!location) return { ...res, kind: 'page', note: `HTTP ${res.status} without Location` };
        const next = new URL(location, url).href;
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = null;
        }
        initiator = url;
        url = next;
        continue;
      }
      if (new URL(url).origin === this.rpOrigin) {
        const index = res.headers.get('x-rp-record');
        return { ...res, kind: 'rp', record: index === null ? null : this.rpRecord(Number(index)) };
      }
      return { ...res, kind: 'page' };
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }

  /**
   * Plays the user from `url` until the browser reaches the RP, or stops on a page the user cannot
   * or may not get past. policy: { login, consent, confirmLogout } (booleans).
   */
  async visit(url, { method = 'GET', body = null, initiator = this.rpOrigin, policy = {} } = {}) {
    const p = { login: true, consent: true, confirmLogout: false, ...policy };
    const trail = { logins: 0, consents: 0, logoutConfirms: 0, pages: [] };
    let landing = await this.navigate(url, { method, body, initiator });
    for (let step = 0; step < 12; step++) {
      if (landing.kind === 'rp') return { ...landing, ...trail };
      const isHtml = (landing.headers.get('content-type') ?? '').includes('text/html');
      const forms = isHtml ? parseForms(landing.text) : [];
      const summary = isHtml ? pageSummary(landing.text) : { title: '', h1: '', message: '' };
      const page = { url: landing.url, status: landing.status, ...summary };
      trail.pages.push(page);
      const pageOrigin = new URL(landing.url).origin;

      // form_post response: the page's script submits the form at once, with the form's own
      // method and enctype (so the RP sees exactly what a browser would send)
      const autoPost = forms.find(
        (f) => f.id === 'form-post' || (/<script/i.test(landing.text) && f.action && new URL(f.action, landing.url).origin !== pageOrigin),
      );
      if (autoPost && landing.status === 200) {
        landing = await this.submit(autoPost, formData(autoPost), landing.url);
        continue;
      }
      const login = forms.find(looksLikeLogin);
      if (login) {
        if (!p.login) return { ...landing, kind: 'page', pageType: 'login', forms, summary, ...trail };
        const emailField = login.fields.find((f) => f.type === 'email' || f.name === 'email' || f.name === 'username');
        const passwordField = login.fields.find((f) => f.type === 'password');
        const data = formData(login, { [emailField?.name ?? 'email']: this.user.email, [passwordField.name]: this.user.password });
        trail.logins += 1;
        landing = await this.submit(login, data, landing.url);
        continue;
      }
      const postForms = forms.filter((f) => f.method === 'post');
      const logoutForm = postForms.find((f) => /logout|log-out|end_session|end-session|signout|sign-out|session\/end/i.test(f.action) && f.buttons.length > 0);
      if (logoutForm) {
        if (!p.confirmLogout) return { ...landing, kind: 'page', pageType: 'logout-confirm', forms, summary, ...trail };
        const button = positiveButton(logoutForm) ?? logoutForm.buttons[0];
        trail.logoutConfirms += 1;
        landing = await this.submit(logoutForm, formData(logoutForm, {}, button), landing.url);
        continue;
      }
      const consentForm = postForms.find(
        (f) => /consent|approve|grant|authorize/i.test(f.action) || f.buttons.some((b) => /approve|allow|accept|consent|godkänn|tillåt/i.test(buttonText(b))),
      );
      if (consentForm && landing.status === 200) {
        if (!p.consent) return { ...landing, kind: 'page', pageType: 'consent', forms, summary, ...trail };
        const button = positiveButton(consentForm) ?? consentForm.buttons[0];
        trail.consents += 1;
        landing = await this.submit(consentForm, formData(consentForm, {}, button), landing.url);
        continue;
      }
      return { ...landing, kind: 'page', pageType: 'other', forms, summary, ...trail };
    }
    throw new Error(`the browser went round in circles from ${url}`);
  }

  cookieNames() {
    return this.jar.names();
  }
}
