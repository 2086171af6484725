// Signing in with the platform's OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256):
// the gateway's sign-in page authenticates, we exchange the code at /callback. Tokens live in
// sessionStorage (this tab); the access token is refreshed a minute before it expires.
import { AUTHORIZE, issueToken, revokeToken } from "./api.js";

export const CLIENT_ID = "shop-storefront"; // nameko_services.users.clients.STOREFRONT_CLIENT
const SCOPE = "shop";
const SESSION = "shop.session";
const PENDING = "shop.signin";
const EARLY = 60_000; // refresh this long before expiry (ms)
const redirectUri = () => `${location.origin}/callback`;

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
const randomText = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)));

function load(key) {
  try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
}

export function session() { return load(SESSION); }

function store(answer) {
  const expiresAt = Date.now() + (answer.expires_in || 900) * 1000;
  sessionStorage.setItem(SESSION, JSON.stringify({
    access: answer.access_token, refresh: answer.refresh_token, expiresAt,
  }));
  schedule();
}

export function claims() {
  const current = session();
  if (!current) return null;
  try {
    const payload = current.access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch { return null; }
}

export const isAdmin = () => (claims()?.roles || []).includes("admin");

export async function signIn(returnTo = location.pathname + location.hash) {
  const verifier = randomText(32);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = randomText(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const params = new URLSearchParams({
    response_type: "code", client_id: CLIENT_ID, redirect_uri: redirectUri(), scope: SCOPE, state,
    code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${AUTHORIZE}?${params}`);
}

// On /callback: the code for tokens, then back where signing in started. Returns an error text or null.
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = load(PENDING);
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) return params.get("error_description") || params.get("error");
  if (!pending || params.get("state") !== pending.state) return "The sign-in answer does not match this tab's request. Sign in again.";
  try {
    store(await issueToken({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri(),
      code_verifier: pending.verifier, client_id: CLIENT_ID,
    }));
  } catch (error) {
    return error.message;
  }
  location.replace(pending.returnTo && pending.returnTo.startsWith("/") && !pending.returnTo.startsWith("//") ? pending.returnTo : "/");
  return null;
}

let refreshing = null;
async function refresh() {
  const current = session();
  if (!current) return null;
  refreshing ??= issueToken({ grant_type: "refresh_token", refresh_token: current.refresh, client_id: CLIENT_ID })
    .then((answer) => { store(answer); return answer.access_token; })
    .catch(() => { sessionStorage.removeItem(SESSION); return null; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  const current = session();
  if (current) timer = setTimeout(refresh, Math.max(0, current.expiresAt - Date.now() - EARLY));
}
schedule();

export async function accessToken() {
  const current = session();
  if (!current) return null;
  return current.expiresAt - Date.now() < EARLY ? refresh() : current.access;
}

export async function signOut() {
  const current = session();
  sessionStorage.removeItem(SESSION);
  clearTimeout(timer);
  if (current) await revokeToken({ token: current.refresh, token_type_hint: "refresh_token", client_id: CLIENT_ID }).catch(() => {});
  location.assign("/");
}
