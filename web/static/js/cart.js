// The cart, kept in localStorage so it survives a reload (and is shared by the shop's tabs).
const KEY = "shop.cart";
const CHECKOUT_KEY = "shop.checkout-key";

export function lines() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY));
    return Array.isArray(stored) ? stored : [];
  } catch { return []; }
}

function save(items) {
  localStorage.setItem(KEY, JSON.stringify(items));
  localStorage.removeItem(CHECKOUT_KEY); // a different cart is a different order
}

export function add(product, quantity = 1) {
  const items = lines();
  const found = items.find((line) => line.product_id === product.id);
  if (found) found.quantity += quantity;
  else items.push({ product_id: product.id, name: product.name, price: product.price, currency: product.currency, quantity });
  save(items);
}

export function setQuantity(productId, quantity) {
  save(lines().map((line) => (line.product_id === productId ? { ...line, quantity: Math.max(1, quantity) } : line)));
}

export const remove = (productId) => save(lines().filter((line) => line.product_id !== productId));
export const count = () => lines().reduce((sum, line) => sum + line.quantity, 0);

export function total() {
  const items = lines();
  return { amount: items.reduce((sum, line) => sum + line.price * line.quantity, 0), currency: items[0]?.currency || "EUR" };
}

// The Idempotency-Key of placing this cart: the same until the cart changes or the order is placed.
export function checkoutKey() {
  let key = localStorage.getItem(CHECKOUT_KEY);
  if (!key) {
    key = crypto.randomUUID();
    localStorage.setItem(CHECKOUT_KEY, key);
  }
  return key;
}

// After a refusal (a bad address, say): the next attempt is a new request with a new key.
export const forgetCheckoutKey = () => localStorage.removeItem(CHECKOUT_KEY);

export function clear() {
  localStorage.removeItem(KEY);
  localStorage.removeItem(CHECKOUT_KEY);
}
