// Every call the pages make to the gateway, one function per operation of /api/v1/openapi.json.
// tests/unit/gateway/test_web_pages.py reads the call(method, path) lines below and checks
// each against the OpenAPI document, so keep one literal method and path template per function.
import { accessToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.details = error.details || {};
  }
}

function url(template, path = {}, query = {}) {
  const filled = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(path[name]));
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${filled}?${search}` : filled;
}

// The back office reads right after its own writes: the browser must not answer from its cache
// (public catalog reads may be kept a second); no-cache revalidates, a 304 when nothing changed.
let cacheMode = "default";
export function alwaysRevalidate() { cacheMode = "no-cache"; }

async function call(method, template, { path, query, body, headers = {}, anonymous = false } = {}) {
  const sent = { ...headers, Accept: "application/json" };
  if (!anonymous) {
    const token = await accessToken();
    if (token) sent.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(url(template, path, query), {
    method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body), cache: cacheMode,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// OAuth 2.0 (form-encoded, RFC 6749); used by auth.js.
async function form(template, fields) {
  const response = await fetch(template, {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams(fields).toString(),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, { error: { code: data.error, message: data.error_description } });
  return data;
}
export const AUTHORIZE = "/api/v1/oauth/authorize"; // navigated to, not fetched: call("GET", "/api/v1/oauth/authorize")
export const issueToken = (fields) => form("/api/v1/oauth/token", fields); // call("POST", "/api/v1/oauth/token")
export const revokeToken = (fields) => form("/api/v1/oauth/revoke", fields); // call("POST", "/api/v1/oauth/revoke")

// Users
export const register = (body) => call("POST", "/api/v1/users", { body, anonymous: true });
export const getMe = () => call("GET", "/api/v1/users/me");
export const updateMe = (body) => call("PATCH", "/api/v1/users/me", { body });

// Catalog
export const listCategories = (query) => call("GET", "/api/v1/categories", { query }); // admins: { include_inactive: true }
export const createCategory = (body) => call("POST", "/api/v1/categories", { body });
export const updateCategory = (id, body) => call("PATCH", "/api/v1/categories/{category_id}", { path: { category_id: id }, body });
export const deleteCategory = (id) => call("DELETE", "/api/v1/categories/{category_id}", { path: { category_id: id } });
export const listProducts = (query) => call("GET", "/api/v1/products", { query });
export const getProduct = (id) => call("GET", "/api/v1/products/{product_id}", { path: { product_id: id } });
export const createProduct = (body) => call("POST", "/api/v1/products", { body });
export const updateProduct = (id, body) => call("PATCH", "/api/v1/products/{product_id}", { path: { product_id: id }, body });
export const deactivateProduct = (id) => call("DELETE", "/api/v1/products/{product_id}", { path: { product_id: id } });
export const getStock = (id) => call("GET", "/api/v1/products/{product_id}/stock", { path: { product_id: id } });
export const setStock = (id, onHand) => call("PUT", "/api/v1/products/{product_id}/stock", { path: { product_id: id }, body: { on_hand: onHand } });

// Orders
export const placeOrder = (body, idempotencyKey) => call("POST", "/api/v1/orders", { body, headers: { "Idempotency-Key": idempotencyKey } });
export const listOrders = (query) => call("GET", "/api/v1/orders", { query });
export const getOrder = (id) => call("GET", "/api/v1/orders/{order_id}", { path: { order_id: id } });
export const getOrderEvents = (id) => call("GET", "/api/v1/orders/{order_id}/events", { path: { order_id: id } });
export const cancelOrder = (id) => call("POST", "/api/v1/orders/{order_id}/cancel", { path: { order_id: id } });
export const shipOrder = (id) => call("POST", "/api/v1/orders/{order_id}/ship", { path: { order_id: id } });
export const deliverOrder = (id) => call("POST", "/api/v1/orders/{order_id}/deliver", { path: { order_id: id } });
export const listNeedingAttention = (query) => call("GET", "/api/v1/orders/needing-attention", { query });
export const retryCompensation = (id) => call("POST", "/api/v1/orders/{order_id}/retry-compensation", { path: { order_id: id } });

// Payments
export const listPayments = (query) => call("GET", "/api/v1/payments", { query });
export const refundPayment = (id, amount) => call("POST", "/api/v1/payments/{payment_id}/refund", { path: { payment_id: id }, body: { amount } });

// The order's live status (Server-Sent Events over fetch: EventSource cannot send the bearer token).
// onOrder(order) for each event; resolves when the stream ends; abort with signal.
export const STREAM = "/api/v1/orders/{order_id}/stream"; // call("GET", "/api/v1/orders/{order_id}/stream")
export async function streamOrder(id, onOrder, signal) {
  const token = await accessToken();
  const response = await fetch(url(STREAM, { order_id: id }), {
    headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` }, signal,
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
      if (block.startsWith("event: order") && data) onOrder(JSON.parse(data));
    }
  }
}
