// Building the page from data without ever parsing it as HTML: every text goes in as textContent.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function show(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

// A labelled form field; `name` is also its id (prefixed) so the label points at it.
export function field(label, name, attributes = {}, prefix = "f") {
  const id = `${prefix}-${name}`;
  const { options, value, ...rest } = attributes;
  const input = options
    ? h("select", { id, name, ...rest }, options.map(([key, text]) => h("option", { value: key, selected: key === value }, text)))
    : h("input", { id, name, value: value ?? undefined, ...rest });
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

// The values of a form's named fields, blanks as null.
export function values(form) {
  const data = {};
  for (const [name, value] of new FormData(form)) data[name] = typeof value === "string" && value.trim() === "" ? null : value;
  return data;
}

export function message(text, kind = "error") {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

const STATUS_WORDS = {
  pending: "Pending", awaiting_payment: "Awaiting payment", confirmed: "Confirmed",
  cancelled: "Cancelled", shipped: "Shipped", delivered: "Delivered",
};
export const statusWord = (status) => STATUS_WORDS[status] || status;

const REASONS = {
  out_of_stock: "Some items are out of stock.", payment_failed: "The payment failed.",
  cancelled_by_customer: "You cancelled the order.", cancelled_by_admin: "The shop cancelled the order.",
  timed_out: "The payment did not arrive in time.",
};
export const reasonText = (reason) => REASONS[reason] || reason || "";

export function money(amount, currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency}`;
  }
}
