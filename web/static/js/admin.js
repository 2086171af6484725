// The back office at /admin/: catalog, stock, orders, refunds, orders needing attention.
// Every call goes to the API, which checks the admin role; without it this page shows its 403
// view and asks for nothing.
import * as api from "./api.js";
import { isAdmin, session, signIn, signOut } from "./auth.js";
import { field, h, message, money, show, statusWord, values } from "./dom.js";

api.alwaysRevalidate();
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const STATUSES = ["pending", "awaiting_payment", "confirmed", "shipped", "delivered", "cancelled"];

const link = (text, href, attributes = {}) => h("a", { href, ...attributes }, text);

function title(text) {
  document.title = `${text} · Back office · nameko-shop`;
  return h("h1", { tabindex: "-1" }, text);
}

function drawNav(admin) {
  show(nav, h("ul", {}, admin ? [
    h("li", {}, link("Products", "#/products")), h("li", {}, link("Categories", "#/categories")),
    h("li", {}, link("Orders", "#/orders")), h("li", {}, link("Needing attention", "#/attention"))] : null,
  h("li", {}, link("Storefront", "/")),
  session() ? h("li", {}, link("Sign out", "#/signout")) : h("li", {}, link("Sign in", "#/signin"))));
}

function forbidden() {
  return [title("403 Forbidden"), h("p", {}, "The back office is for the shop's administrators. Your account does not have the admin role."),
    link("Back to the shop", "/")];
}

// Runs an action from a button; its outcome goes to `notice`, then the view is drawn again.
function action(label, run, notice, attributes = {}) {
  return h("button", { type: "button", ...attributes, onclick: async (event) => {
    event.target.disabled = true;
    try {
      const done = await run();
      await route();
      if (done) document.getElementById("notice")?.replaceChildren(message(done, "ok"));
    } catch (error) {
      show(notice, message(error.message));
      event.target.disabled = false;
    }
  } }, label);
}

function submitted(run, notice) {
  return async (event) => {
    event.preventDefault();
    try {
      const done = await run(values(event.target), event.target);
      await route();
      if (done) document.getElementById("notice")?.replaceChildren(message(done, "ok"));
    } catch (error) {
      const details = Object.entries(error.details || {}).map(([name, problems]) => `${name}: ${[].concat(problems).join(" ")}`);
      show(notice, message([error.message, ...details].join(" ")));
    }
  };
}

const notice = () => h("div", { id: "notice", "aria-live": "polite" });
const table = (headings, rows) => h("table", {}, h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
  h("tbody", {}, rows));
const ALL = { include_inactive: true }; // an admin manages hidden categories too
const categoryOptions = (categories) => [["", "No category"], ...categories.map((category) => [category.id, category.name])];

// --- catalog -------------------------------------------------------------------------------

async function productsView() {
  const [products, categories] = await Promise.all([api.listProducts({ include_inactive: true, per_page: 100 }), api.listCategories(ALL)]);
  const status = notice();
  const names = Object.fromEntries(categories.map((category) => [category.id, category.name]));
  return [title("Products"), status, table(["Product", "SKU", "Category", "Price", "Available", "Active", ""],
    products.items.map((product) => h("tr", {}, h("td", {}, link(product.name, `#/product/${product.id}`)), h("td", {}, product.sku),
      h("td", {}, names[product.category_id] || ""), h("td", {}, money(product.price, product.currency)),
      h("td", {}, String(product.available)), h("td", {}, product.active ? "Active" : "Inactive"),
      h("td", {}, product.active ? action(`Deactivate ${product.name}`, async () => { await api.deactivateProduct(product.id); return `${product.name} deactivated.`; }, status) : "")))),
  h("h2", {}, "New product"),
  h("form", { onsubmit: submitted(async (data) => {
    const created = await api.createProduct({
      sku: data.sku, name: data.name, description: data.description || "", price: Number(data.price),
      currency: (data.currency || "EUR").toUpperCase(), category_id: data.category_id, stock: Number(data.stock || 0),
    });
    return `Product ${created.name} created.`;
  }, status) },
  field("SKU", "sku", { required: true }, "new"), field("Name", "name", { required: true }, "new"),
  field("Description", "description", {}, "new"),
  field("Price in minor units (cents)", "price", { type: "number", min: "0", required: true }, "new"),
  field("Currency", "currency", { value: "EUR", maxlength: 3, required: true }, "new"),
  field("Category", "category_id", { options: categoryOptions(categories), value: "" }, "new"),
  field("Initial stock on hand", "stock", { type: "number", min: "0", value: "0" }, "new"),
  h("button", { type: "submit", class: "primary" }, "Create product"))];
}

async function productView(id) {
  const [product, stock, categories] = await Promise.all([api.getProduct(id), api.getStock(id), api.listCategories(ALL)]);
  const status = notice();
  return [title(product.name), status, h("form", { onsubmit: submitted(async (data) => {
    await api.updateProduct(id, {
      name: data.name, description: data.description || "", price: Number(data.price), currency: data.currency.toUpperCase(),
      category_id: data.category_id, active: data.active === "on",
    });
    return "Product saved.";
  }, status) },
  field("Name", "name", { required: true, value: product.name }, "edit"),
  field("Description", "description", { value: product.description || "" }, "edit"),
  field("Price in minor units (cents)", "price", { type: "number", min: "0", required: true, value: String(product.price) }, "edit"),
  field("Currency", "currency", { required: true, maxlength: 3, value: product.currency }, "edit"),
  field("Category", "category_id", { options: categoryOptions(categories), value: product.category_id || "" }, "edit"),
  h("p", { class: "choice" }, h("input", { type: "checkbox", id: "edit-active", name: "active", checked: product.active }),
    h("label", { for: "edit-active" }, "Active (shown to customers)")),
  h("button", { type: "submit", class: "primary" }, "Save product")),
  h("h2", {}, "Stock"),
  h("dl", { class: "stock" }, h("dt", {}, "On hand"), h("dd", { id: "stock-on-hand" }, String(stock.on_hand)),
    h("dt", {}, "Reserved"), h("dd", { id: "stock-reserved" }, String(stock.reserved)),
    h("dt", {}, "Available"), h("dd", { id: "stock-available" }, String(stock.available))),
  h("form", { onsubmit: submitted(async (data) => { await api.setStock(id, Number(data.on_hand)); return "Stock set."; }, status) },
    field("Units on hand", "on_hand", { type: "number", min: "0", required: true, value: String(stock.on_hand) }, "stock"),
    h("button", { type: "submit" }, "Set stock")),
  link("All products", "#/products")];
}

async function categoriesView() {
  const categories = await api.listCategories(ALL);
  const status = notice();
  // An inactive category is hidden from the shop; its products stay as they are.
  const toggle = (category) => action(`${category.active ? "Deactivate" : "Activate"} ${category.name}`, async () => {
    await api.updateCategory(category.id, { active: !category.active });
    return `${category.name} ${category.active ? "deactivated" : "activated"}.`;
  }, status);
  return [title("Categories"), status, table(["Name", "Slug", "Active", "Rename", "", ""], categories.map((category) => h("tr", {},
    h("td", {}, category.name), h("td", {}, category.slug), h("td", {}, category.active ? "Active" : "Inactive"),
    h("td", {}, h("form", { class: "inline", onsubmit: submitted(async (data) => {
      await api.updateCategory(category.id, { name: data.name });
      return "Category renamed.";
    }, status) }, h("label", { for: `rename-${category.id}`, class: "visually-hidden" }, `New name for ${category.name}`),
    h("input", { id: `rename-${category.id}`, name: "name", required: true, value: category.name }),
    h("button", { type: "submit" }, `Rename ${category.name}`))),
    // Only an unused category can go (409 category_in_use otherwise); products move first.
    h("td", {}, toggle(category)),
    h("td", {}, action(`Delete ${category.name}`, async () => { await api.deleteCategory(category.id); return "Category deleted."; }, status))))),
  h("h2", {}, "New category"),
  h("form", { onsubmit: submitted(async (data) => { await api.createCategory({ name: data.name, slug: data.slug }); return "Category created."; }, status) },
    field("Name", "name", { required: true }, "cat"), field("Slug (optional)", "slug", {}, "cat"),
    h("button", { type: "submit", class: "primary" }, "Create category"))];
}

// --- orders --------------------------------------------------------------------------------

async function ordersView(params) {
  const status = params.get("status") || undefined;
  const page = await api.listOrders({ status, per_page: 100 });
  const filter = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const chosen = new FormData(event.target).get("status");
    location.hash = chosen ? `#/orders?status=${chosen}` : "#/orders";
  } }, h("label", { for: "filter-status" }, "Status"),
  h("select", { id: "filter-status", name: "status" }, h("option", { value: "" }, "All"),
    STATUSES.map((name) => h("option", { value: name, selected: name === status }, statusWord(name)))),
  h("button", { type: "submit" }, "Filter"));
  return [title("Orders"), filter, h("p", {}, `${page.total} orders`), table(["Order", "Placed", "Status", "Total", "Attention"],
    page.items.map((order) => h("tr", {}, h("td", {}, link(`Order ${order.id.slice(0, 8)}`, `#/order/${order.id}`)),
      h("td", {}, new Date(order.created_at).toLocaleString()), h("td", {}, statusWord(order.status)),
      h("td", {}, money(order.total, order.currency)), h("td", {}, order.needs_attention ? order.attention_reason || "Needs attention" : ""))))];
}

async function orderView(id) {
  const [order, events, payments] = await Promise.all([api.getOrder(id), api.getOrderEvents(id), api.listPayments({ order_id: id })]);
  const status = notice();
  const actions = [];
  if (order.status === "confirmed") actions.push(action("Ship", async () => { await api.shipOrder(id); return "Order shipped."; }, status));
  if (order.status === "shipped") actions.push(action("Deliver", async () => { await api.deliverOrder(id); return "Order delivered."; }, status));
  if (!["delivered", "cancelled"].includes(order.status)) actions.push(action("Cancel order", async () => { await api.cancelOrder(id); return "Order cancelled."; }, status));
  if (order.needs_attention) actions.push(action("Retry compensation", async () => { await api.retryCompensation(id); return "Compensation asked for again."; }, status));
  return [title(`Order ${id.slice(0, 8)}`), status,
    h("p", { class: "status" }, "Status: ", h("strong", { id: "order-status" }, statusWord(order.status)),
      order.cancellation_reason ? ` (${order.cancellation_reason})` : ""),
    order.needs_attention ? message(`Needs attention: ${order.attention_reason || "a compensation failed"}`) : null,
    table(["Product", "Quantity", "Unit price"], order.items.map((item) => h("tr", {}, h("td", {}, item.name),
      h("td", {}, String(item.quantity)), h("td", {}, money(item.unit_price, order.currency))))),
    h("p", {}, `Total ${money(order.total, order.currency)}, payment ${order.payment_status || "none"}`),
    h("p", {}, "Ship to: ", [order.shipping_address?.name, order.shipping_address?.line1, order.shipping_address?.line2,
      order.shipping_address?.postal_code, order.shipping_address?.city, order.shipping_address?.region,
      order.shipping_address?.country, order.shipping_address?.phone].filter(Boolean).join(", ")),
    h("div", { class: "actions" }, actions),
    h("h2", {}, "Payments"), payments.items.length ? table(["Payment", "Status", "Amount", "Refunded", "Refund"], payments.items.map((payment) =>
      h("tr", {}, h("td", {}, payment.id.slice(0, 8)), h("td", {}, payment.status), h("td", {}, money(payment.amount, payment.currency)),
        h("td", {}, money(payment.refunded_amount || 0, payment.currency)),
        h("td", {}, h("form", { class: "inline", onsubmit: submitted(async (data) => {
          const amount = data.amount === null ? null : Number(data.amount);
          await api.refundPayment(payment.id, amount);
          return amount === null ? "Refunded in full." : `Refunded ${money(amount, payment.currency)}.`;
        }, status) }, h("label", { for: `refund-${payment.id}` }, "Amount in cents (empty: all that is left)"),
        h("input", { id: `refund-${payment.id}`, name: "amount", type: "number", min: "1" }),
        h("button", { type: "submit" }, "Refund")))))) : h("p", {}, "No payment."),
    h("h2", {}, "Event history"), table(["#", "Event", "When", "Details"], events.map((event) => h("tr", {},
      h("td", {}, String(event.version)), h("td", {}, event.type), h("td", {}, new Date(event.occurred_at).toLocaleString()),
      h("td", {}, h("code", {}, JSON.stringify(event.data)))))),
    link("All orders", "#/orders")];
}

async function attentionView() {
  const page = await api.listNeedingAttention({ per_page: 100 });
  const status = notice();
  if (!page.items.length) return [title("Orders needing attention"), status, h("p", {}, "No order needs attention.")];
  return [title("Orders needing attention"), status, table(["Order", "Status", "Reason", "Since", ""], page.items.map((order) => h("tr", {},
    h("td", {}, link(`Order ${order.id.slice(0, 8)}`, `#/order/${order.id}`)), h("td", {}, statusWord(order.status)),
    h("td", {}, order.attention_reason || ""), h("td", {}, new Date(order.updated_at).toLocaleString()),
    h("td", {}, action("Retry compensation", async () => { await api.retryCompensation(order.id); return "Compensation asked for again."; }, status)))))];
}

// --- routing --------------------------------------------------------------------------------

async function view() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const [, section, id] = (path || "/").split("/");
  if (section === "signin") { await signIn("/admin/"); return [title("Signing in…")]; }
  if (section === "signout") { await signOut(); return [title("Signing out…")]; }
  if (!session()) return [title("Back office"), h("p", {}, "Sign in with an administrator's account."), link("Sign in", "#/signin")];
  if (!isAdmin()) return forbidden();
  switch (section || "products") {
    case "products": return productsView();
    case "product": return productView(id);
    case "categories": return categoriesView();
    case "orders": return ordersView(new URLSearchParams(search));
    case "order": return orderView(id);
    case "attention": return attentionView();
    default: return [title("Not found"), link("Products", "#/products")];
  }
}

let drawing = 0; // only the latest navigation draws: a slow earlier view must not replace it

async function route() {
  drawNav(Boolean(session()) && isAdmin());
  const mine = ++drawing;
  let content;
  try {
    content = await view();
  } catch (error) {
    content = error.status === 403 ? forbidden() : [title("Something went wrong"), message(error.message)];
  }
  if (mine === drawing) show(main, content);
}

window.addEventListener("hashchange", async () => { await route(); main.querySelector("h1")?.focus(); });
route();
