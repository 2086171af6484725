// The storefront: hash routes (#/..., the page is never reloaded), everything drawn with dom.js.
import * as api from "./api.js";
import { addressFieldset, addressFrom, problems } from "./address.js";
import { completeSignIn, session, signIn, signOut } from "./auth.js";
import * as cart from "./cart.js";
import { field, h, message, money, reasonText, show, statusWord, values } from "./dom.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const PER_PAGE = 12;
// The sandbox's cards (nameko_services/payments/gateways/sandbox.py, docs/API.md "Sandbox test cards").
export const TEST_CARDS = [
  ["tok_visa", "Visa ending 4242: approved"],
  ["tok_chargeDeclined", "Card declined"],
  ["tok_chargeDeclinedInsufficientFunds", "Declined: insufficient funds"],
  ["tok_processingErrorOnce", "Processor error once, then approved"],
  ["tok_processingError", "Processor keeps failing"],
  ["tok_threeDSecure2Required", "Needs 3-D Secure: your bank asks you to confirm"],
];
const CAUSES = {
  declined: "The card was declined.", insufficient_funds: "The card was declined: insufficient funds.",
  processing_error: "The payment processor failed.",
  authentication_failed: "You did not confirm the payment with your bank.",
};
const CANCELLABLE = new Set(["pending", "awaiting_payment", "confirmed"]);
const FINAL = new Set(["cancelled", "delivered"]); // the stream ends there
let previous = "#/"; // where signing in returns to
let streaming = null; // the open order stream's AbortController

function link(text, href, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}

function drawNav() {
  const signedIn = Boolean(session());
  const count = cart.count();
  show(nav, h("ul", {},
    h("li", {}, link("Shop", "#/")),
    h("li", {}, link("Cart", "#/cart"), count ? h("span", { class: "badge", "aria-label": `${count} items` }, String(count)) : null),
    signedIn ? [h("li", {}, link("My orders", "#/orders")), h("li", {}, link("Profile", "#/profile")),
      h("li", {}, link("Sign out", "#/signout"))]
      : [h("li", {}, link("Sign in", "#/signin")), h("li", {}, link("Create account", "#/register"))]));
}

function title(text) {
  document.title = `${text} · nameko-shop`;
  return h("h1", { tabindex: "-1" }, text);
}

function failed(error) {
  if (error.status === 401) return h("div", {}, message("Please sign in to continue."), link("Sign in", "#/signin"));
  return message(error.message || String(error));
}

// --- catalog -------------------------------------------------------------------------------

async function productsView(params) {
  const page = Number(params.get("page") || 1);
  const query = { q: params.get("q") || undefined, category_id: params.get("category") || undefined, page, per_page: PER_PAGE };
  const [categories, products] = await Promise.all([api.listCategories(), api.listProducts(query)]);
  const search = h("form", { role: "search", class: "search", onsubmit: (event) => {
    event.preventDefault();
    const q = new FormData(event.target).get("q").trim();
    location.hash = `#/?${new URLSearchParams({ ...(q ? { q } : {}), ...(query.category_id ? { category: query.category_id } : {}) })}`;
  } }, h("label", { for: "search-q" }, "Search products"),
  h("input", { id: "search-q", name: "q", type: "search", value: query.q || "" }), h("button", { type: "submit" }, "Search"));
  const categoryLinks = h("nav", { "aria-label": "Categories", class: "categories" }, h("h2", {}, "Categories"), h("ul", {},
    h("li", {}, link("All products", "#/", { "aria-current": query.category_id ? undefined : "page" })),
    categories.map((category) => h("li", {}, link(category.name, `#/?category=${encodeURIComponent(category.id)}`,
      { "aria-current": category.id === query.category_id ? "page" : undefined })))));
  const pages = Math.max(1, Math.ceil(products.total / products.per_page));
  const pageLink = (number, text) => link(text, `#/?${new URLSearchParams({ ...(query.q ? { q: query.q } : {}),
    ...(query.category_id ? { category: query.category_id } : {}), page: String(number) })}`);
  return [title(query.q ? `Results for “${query.q}”` : "Products"), search, h("div", { class: "catalog" }, categoryLinks,
    h("section", { "aria-label": "Products" },
      products.items.length ? h("ul", { class: "products" }, products.items.map(productCard)) : h("p", {}, "No products found."),
      h("nav", { "aria-label": "Pages", class: "pages" },
        page > 1 ? pageLink(page - 1, "Previous page") : null,
        h("span", {}, `Page ${page} of ${pages} (${products.total} products)`),
        page < pages ? pageLink(page + 1, "Next page") : null)))];
}

function availability(product) {
  return product.available > 0 ? `In stock (${product.available} available)` : "Out of stock";
}

function addButton(product, quantity = () => 1) {
  return h("button", { type: "button", disabled: product.available <= 0, "aria-label": undefined, onclick: (event) => {
    cart.add(product, quantity());
    drawNav();
    event.target.after(message(`${product.name} added to the cart.`, "ok"));
  } }, "Add to cart");
}

function productCard(product) {
  return h("li", { class: "product" }, h("h3", {}, link(product.name, `#/product/${product.id}`)),
    h("p", { class: "price" }, money(product.price, product.currency)),
    h("p", { class: "availability" }, availability(product)), addButton(product));
}

async function productView(id) {
  const product = await api.getProduct(id);
  const quantity = h("input", { id: "quantity", type: "number", min: "1", max: String(Math.max(1, product.available)), value: "1" });
  return [title(product.name), h("p", { class: "price" }, money(product.price, product.currency)),
    h("p", { class: "availability" }, availability(product)), h("p", {}, product.description || ""),
    h("p", { class: "field" }, h("label", { for: "quantity" }, "Quantity"), quantity),
    addButton(product, () => Math.max(1, Number(quantity.value) || 1)), h("p", {}, link("Back to the products", "#/"))];
}

// --- cart and checkout ------------------------------------------------------------------------

function cartView() {
  const lines = cart.lines();
  if (!lines.length) return [title("Cart"), h("p", {}, "Your cart is empty."), link("Browse the products", "#/")];
  const rows = lines.map((line) => h("tr", {},
    h("td", {}, link(line.name, `#/product/${line.product_id}`)), h("td", {}, money(line.price, line.currency)),
    h("td", {}, h("label", { class: "visually-hidden", for: `qty-${line.product_id}` }, `Quantity of ${line.name}`),
      h("input", { id: `qty-${line.product_id}`, type: "number", min: "1", value: String(line.quantity), onchange: (event) => {
        cart.setQuantity(line.product_id, Number(event.target.value) || 1); route();
      } })),
    h("td", {}, money(line.price * line.quantity, line.currency)),
    h("td", {}, h("button", { type: "button", onclick: () => { cart.remove(line.product_id); route(); } }, `Remove ${line.name}`))));
  const total = cart.total();
  return [title("Cart"), h("table", {}, h("thead", {}, h("tr", {}, ["Product", "Price", "Quantity", "Subtotal", ""].map((text) =>
    h("th", { scope: "col" }, text)))), h("tbody", {}, rows)),
  h("p", { class: "total" }, `Total: ${money(total.amount, total.currency)}`),
  h("button", { type: "button", class: "primary", onclick: () => { location.hash = "#/checkout"; } }, "Checkout")];
}

async function checkoutView() {
  if (!session()) return [title("Checkout"), h("p", {}, "Sign in to place your order; your cart is kept."),
    link("Sign in", "#/signin"), " ", link("Create account", "#/register")];
  const lines = cart.lines();
  if (!lines.length) return [title("Checkout"), h("p", {}, "Your cart is empty.")];
  const me = await api.getMe();
  const status = h("div", { "aria-live": "polite" });
  const total = cart.total();
  const form = h("form", { class: "checkout", onsubmit: async (event) => {
    event.preventDefault();
    const data = values(event.target);
    const button = event.submitter;
    button.disabled = true;
    try {
      // One key per attempt at this cart: pressing again after a lost answer places nothing twice.
      const order = await api.placeOrder({
        items: lines.map((line) => ({ product_id: line.product_id, quantity: line.quantity })),
        shipping_address: addressFrom(data), payment: { token: data.card },
      }, cart.checkoutKey());
      cart.clear();
      location.hash = `#/order/${order.id}`;
    } catch (error) {
      if (error.status >= 400 && error.status < 500 && error.status !== 409) cart.forgetCheckoutKey();
      show(status, message(problems(error)));
      button.disabled = false;
    }
  } },
  addressFieldset(me.shipping_address || { name: me.name }, "ship"),
  h("fieldset", {}, h("legend", {}, "Test card (sandbox)"), TEST_CARDS.map(([token, text], index) =>
    h("p", { class: "choice" }, h("input", { type: "radio", name: "card", id: `card-${token}`, value: token, checked: index === 0 }),
      h("label", { for: `card-${token}` }, text)))),
  h("p", { class: "total" }, `Total: ${money(total.amount, total.currency)}`),
  h("button", { type: "submit", class: "primary" }, "Place order"), status);
  return [title("Checkout"), form];
}

// --- orders -----------------------------------------------------------------------------------

async function ordersView() {
  const page = await api.listOrders({ per_page: 50 });
  if (!page.items.length) return [title("My orders"), h("p", {}, "You have no orders yet.")];
  return [title("My orders"), h("table", {}, h("thead", {}, h("tr", {}, ["Order", "Placed", "Status", "Total"].map((text) =>
    h("th", { scope: "col" }, text)))), h("tbody", {}, page.items.map((order) => h("tr", {},
    h("td", {}, link(`Order ${order.id.slice(0, 8)}`, `#/order/${order.id}`)), h("td", {}, new Date(order.created_at).toLocaleString()),
    h("td", {}, statusWord(order.status)), h("td", {}, money(order.total, order.currency))))))];
}

async function cancellationCause(order) {
  if (order.cancellation_reason !== "payment_failed") return "";
  const events = await api.getOrderEvents(order.id).catch(() => []);
  const cancelled = events.filter((event) => event.type === "OrderCancelled").pop();
  const cause = cancelled?.data?.cause;
  return cause ? CAUSES[cause] || cause : "";
}

async function orderView(id) {
  let order = await api.getOrder(id);
  const status = h("strong", { id: "order-status" }, statusWord(order.status));
  const reason = h("p", { id: "order-reason", "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  const challenge = h("div", { id: "payment-action", "aria-live": "polite" });
  const notice = h("div", { "aria-live": "polite" });
  const draw = async (current) => {
    order = current;
    status.dataset.status = order.status;
    status.textContent = statusWord(order.status);
    reason.textContent = order.status === "cancelled"
      ? [reasonText(order.cancellation_reason), await cancellationCause(order)].filter(Boolean).join(" ") : "";
    show(challenge, challengeStep(order));
    show(actions, CANCELLABLE.has(order.status) ? h("button", { type: "button", onclick: async (event) => {
      event.target.disabled = true;
      try { await draw(await api.cancelOrder(order.id)); } catch (error) { show(notice, message(error.message)); event.target.disabled = false; }
    } }, "Cancel order") : null);
  };
  await draw(order);
  const address = order.shipping_address || {};
  const view = [title(`Order ${order.id.slice(0, 8)}`),
    h("p", { class: "status", role: "status", "aria-live": "polite" }, "Status: ", status), reason, challenge,
    h("table", {}, h("thead", {}, h("tr", {}, ["Product", "Quantity", "Price"].map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, order.items.map((item) => h("tr", {}, h("td", {}, item.name || item.product_id), h("td", {}, String(item.quantity)),
        h("td", {}, money(item.unit_price, order.currency)))))),
    h("p", { class: "total" }, `Total: ${money(order.total, order.currency)}`),
    h("h2", {}, "Shipping to"), h("address", {}, [address.name, address.line1, address.line2,
      [address.postal_code, address.city, address.region].filter(Boolean).join(" "), address.country, address.phone]
      .filter(Boolean).flatMap((line) => [line, h("br")])),
    actions, notice, link("My orders", "#/orders")];
  view.after = () => follow(order.id, draw); // once drawn: a view replaced meanwhile follows nothing
  return view;
}

// A card that needs the customer (3-D Secure): the bank's page, which sends them back here.
function challengeStep(order) {
  const action = order.payment_action;
  if (order.status !== "awaiting_payment" || action?.type !== "redirect" || !action.url) return null;
  const target = new URL(action.url, location.origin);
  if (target.origin !== location.origin && target.protocol !== "https:") return null;
  if (target.origin === location.origin) target.searchParams.set("return_to", `/#/order/${order.id}`);
  return h("div", { class: "message ok" }, h("p", {}, "Your bank asks you to confirm this payment."),
    link("Confirm the payment with your bank", target.href));
}

// Live status: the stream pushes each change; it is opened again if it drops before the end.
function follow(id, draw) {
  streaming = new AbortController();
  const { signal } = streaming;
  const open = async (attempt) => {
    try {
      await api.streamOrder(id, (order) => { if (!signal.aborted) draw(order); }, signal);
    } catch (error) {
      if (signal.aborted || error.status === 404) return;
    }
    if (!signal.aborted && !FINAL.has(document.getElementById("order-status")?.dataset.status)) {
      setTimeout(() => open(attempt + 1), Math.min(10_000, 500 * 2 ** attempt));
    }
  };
  open(0);
}

// --- account --------------------------------------------------------------------------------

function registerView() {
  const status = h("div", { "aria-live": "polite" });
  return [title("Create account"), h("form", { onsubmit: async (event) => {
    event.preventDefault();
    const data = values(event.target);
    try {
      await api.register({ name: data.name, email: data.email, password: data.password });
      show(status, message("Account created. Sign in on the next page.", "ok"));
      await signIn("/#/");
    } catch (error) {
      show(status, message(problems(error)));
    }
  } }, field("Name", "name", { required: true, autocomplete: "name" }, "reg"),
  field("Email", "email", { type: "email", required: true, autocomplete: "email" }, "reg"),
  field("Password", "password", { type: "password", required: true, autocomplete: "new-password", minlength: 10 }, "reg"),
  h("button", { type: "submit", class: "primary" }, "Create account"), status)];
}

async function profileView() {
  const me = await api.getMe();
  const status = h("div", { "aria-live": "polite" });
  return [title("Profile"), h("p", {}, `Signed in as ${me.email}`), h("form", { onsubmit: async (event) => {
    event.preventDefault();
    const data = values(event.target);
    try {
      await api.updateMe({ name: data.account_name, shipping_address: addressFrom(data) });
      show(status, message("Profile saved.", "ok"));
    } catch (error) {
      show(status, message(problems(error)));
    }
  } }, field("Your name", "account_name", { required: true, value: me.name }, "me"),
  addressFieldset(me.shipping_address || {}, "me"), h("button", { type: "submit", class: "primary" }, "Save profile"), status)];
}

// --- routing --------------------------------------------------------------------------------

async function view() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(search);
  const [, section, id] = (path || "/").split("/");
  switch (section || "") {
    case "": return productsView(params);
    case "product": return productView(id);
    case "cart": return cartView();
    case "checkout": return checkoutView();
    case "orders": return ordersView();
    case "order": return orderView(id);
    case "register": return registerView();
    case "profile": return profileView();
    case "signin": await signIn(`/${previous}`); return [title("Signing in…")];
    case "signout": await signOut(); return [title("Signing out…")];
    default: return [title("Not found"), h("p", {}, "There is no such page."), link("Back to the shop", "#/")];
  }
}

let drawing = 0; // only the latest navigation draws: a slow earlier view must not replace it

async function route() {
  if (!/^#\/(signin|signout)/.test(location.hash)) previous = location.hash || "#/";
  streaming?.abort();
  streaming = null;
  drawNav();
  const mine = ++drawing;
  main.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await view();
  } catch (error) {
    content = [title("Something went wrong"), failed(error)];
  }
  if (mine !== drawing) return;
  show(main, content);
  main.removeAttribute("aria-busy");
  content.after?.();
}

async function start() {
  if (location.pathname === "/callback") {
    const problem = await completeSignIn();
    if (problem) show(main, title("Signing in failed"), message(problem), link("Sign in", "#/signin"));
    return;
  }
  window.addEventListener("hashchange", () => { route(); main.querySelector("h1")?.focus(); });
  window.addEventListener("storage", drawNav); // the cart changed in another tab
  await route();
}

start();
