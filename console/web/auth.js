// auth.js: signing in to gatehouse as the console's own public client with
// the authorization code flow and PKCE (S256), after the IETF "OAuth 2.0
// for Browser-Based Applications": tokens live in this module's memory only,
// never in localStorage or sessionStorage. A reload therefore signs in again
// with prompt=none, which the gatehouse session cookie answers at once. The
// refresh token rotates on every use; one refresh runs at a time, because
// presenting a rotated token twice revokes the whole grant.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || '';

export const issuer = meta('gatehouse-issuer');
export const clientId = meta('gatehouse-client-id');
// The issuer's path: every page and API address lives under it.
export const base = new URL(issuer).pathname.replace(/\/$/, '');
const redirectUri = `${issuer}/console/callback`;
const postLogoutUri = `${issuer}/console/`;
const scope = 'openid profile roles gatehouse:api offline_access';

// Only the in-flight authorization request (state, nonce, PKCE verifier,
// where to go back to) survives the redirect, in sessionStorage; it is
// removed when the callback arrives. It holds no token.
const pendingKey = 'gatehouse-console:authorization';

let discovery = null;
let tokens = null; // {access, refresh, idToken, expiresAt, claims}
let refreshing = null;

export class AuthError extends Error {
  constructor(code, description) {
    super(description || code);
    this.code = code;
  }
}

async function discover() {
  if (discovery) return discovery;
  const resp = await fetch(`${issuer}/.well-known/openid-configuration`, { credentials: 'omit' });
  if (!resp.ok) throw new AuthError('discovery_failed', `The sign-in configuration could not be loaded (HTTP ${resp.status}).`);
  discovery = await resp.json();
  return discovery;
}

function b64url(bytes) {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

// signIn leaves for the authorization endpoint. prompt 'none' asks for a
// silent answer (the session cookie), anything else shows the login page
// when needed.
export async function signIn({ prompt, returnTo } = {}) {
  const d = await discover();
  const verifier = random(48);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const pending = { state: random(), nonce: random(), verifier, prompt: prompt || '', returnTo: safeReturn(returnTo) };
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const q = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope,
    state: pending.state, nonce: pending.nonce, code_challenge: challenge, code_challenge_method: 'S256',
  });
  if (prompt) q.set('prompt', prompt);
  location.assign(`${d.authorization_endpoint}?${q}`);
}

// safeReturn keeps a return address on the console's own pages.
function safeReturn(path) {
  const p = String(path || `${base}/console/`);
  const ok = [`${base}/console/`, `${base}/account/`].some((prefix) => p.startsWith(prefix)) && !p.startsWith(`${base}/console/callback`);
  return ok && !p.startsWith('//') ? p : `${base}/console/`;
}

export function isCallback() {
  return location.pathname === `${base}/console/callback`;
}

// Errors after which an interactive sign-in can succeed where prompt=none
// could not (OpenID Connect Core 3.1.2.6).
const interactive = new Set(['login_required', 'interaction_required', 'consent_required', 'account_selection_required']);

// completeSignIn handles the callback: it checks state, redeems the code
// and returns where the person was going. It returns null when it has sent
// the browser away again (an interactive sign-in after a silent one).
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const raw = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', `${base}/console/callback`);
  let pending = null;
  try { pending = JSON.parse(raw); } catch { pending = null; }
  if (!pending || params.get('state') !== pending.state) {
    throw new AuthError('invalid_state', 'This sign-in answer does not belong to a sign-in this browser started.');
  }
  const err = params.get('error');
  if (err) {
    if (pending.prompt === 'none' && interactive.has(err)) {
      await signIn({ returnTo: pending.returnTo });
      return null;
    }
    throw new AuthError(err, params.get('error_description'));
  }
  const d = await discover();
  await tokenRequest(d, {
    grant_type: 'authorization_code', code: params.get('code') || '', redirect_uri: redirectUri,
    client_id: clientId, code_verifier: pending.verifier,
  }, pending.nonce);
  history.replaceState(null, '', pending.returnTo);
  return pending.returnTo;
}

function decodeJWT(jwt) {
  const part = String(jwt).split('.')[1] || '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(decodeURIComponent(Array.from(json, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')));
}

// tokenRequest calls the token endpoint and keeps what it answers. The ID
// token came straight from the issuer over the page's own origin, so its
// claims are checked (issuer, audience, nonce, expiry) without verifying
// the signature (OpenID Connect Core 3.1.3.7).
async function tokenRequest(d, form, nonce) {
  let resp;
  try {
    resp = await fetch(d.token_endpoint, {
      method: 'POST', credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
  } catch {
    throw new AuthError('network', 'gatehouse could not be reached to sign in.');
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new AuthError(body.error || 'token_error', body.error_description || `The token endpoint answered ${resp.status}.`);
  const next = {
    access: body.access_token,
    refresh: body.refresh_token || tokens?.refresh || null,
    idToken: body.id_token || tokens?.idToken || null,
    expiresAt: Date.now() + (Number(body.expires_in) || 300) * 1000,
    lifetime: (Number(body.expires_in) || 300) * 1000,
    claims: tokens?.claims || null,
  };
  if (body.id_token) {
    const c = decodeJWT(body.id_token);
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (c.iss !== issuer || !aud.includes(clientId) || (nonce && c.nonce !== nonce) || c.exp * 1000 < Date.now() - 60000) {
      throw new AuthError('invalid_id_token', 'The ID token is not for this console.');
    }
    next.claims = c;
  }
  tokens = next;
}

// accessToken returns a token that is not about to expire (half a minute
// left, or half its lifetime if that is shorter), refreshing first if
// needed; null when signed out.
export async function accessToken() {
  if (!tokens) return null;
  if (tokens.expiresAt - Math.min(30000, tokens.lifetime / 2) < Date.now()) await refresh();
  return tokens?.access || null;
}

// refresh renews the tokens with the refresh token (rotated: the answer
// carries the next one). Concurrent callers share one request.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      if (!tokens?.refresh) throw new AuthError('session_expired', 'Your sign-in has expired.');
      try {
        await tokenRequest(await discover(), { grant_type: 'refresh_token', refresh_token: tokens.refresh, client_id: clientId });
      } catch (e) {
        if (e.code !== 'network') tokens = null;
        throw e.code === 'network' ? e : new AuthError('session_expired', 'Your sign-in has expired.');
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

// impersonate exchanges the signed-in person's access token for one that
// acts as another user (RFC 8693 token exchange, requested_subject naming
// the user). It is kept apart from the console's own tokens: it has no
// refresh token and lives at most fifteen minutes.
export async function impersonate(userId) {
  const d = await discover();
  const subject = await accessToken();
  if (!subject) throw new AuthError('session_expired', 'Your sign-in has expired.');
  let resp;
  try {
    resp = await fetch(d.token_endpoint, {
      method: 'POST', credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', client_id: clientId,
        subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        requested_subject: userId, scope: 'gatehouse:api',
      }),
    });
  } catch {
    throw new AuthError('network', 'gatehouse could not be reached.');
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new AuthError(body.error || 'token_error', body.error_description || `The token endpoint answered ${resp.status}.`);
  return { token: body.access_token, expiresAt: Date.now() + (Number(body.expires_in) || 0) * 1000 };
}

// signOut revokes the refresh token, then ends the gatehouse session at the
// end_session endpoint, which comes back to the console.
export async function signOut() {
  const d = await discover();
  const t = tokens;
  tokens = null;
  if (t?.refresh && d.revocation_endpoint) {
    await fetch(d.revocation_endpoint, {
      method: 'POST', credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.refresh, token_type_hint: 'refresh_token', client_id: clientId }),
    }).catch(() => {});
  }
  const q = new URLSearchParams({ post_logout_redirect_uri: postLogoutUri, client_id: clientId, state: 'signed-out' });
  if (t?.idToken) q.set('id_token_hint', t.idToken);
  location.assign(`${d.end_session_endpoint}?${q}`);
}
