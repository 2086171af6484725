// The shipping address fields of checkout and profile (common.validation.AddressSchema):
// name, line1, line2, city, region (required for US, CA, AU), postal_code, country, phone (E.164).
import { field, h } from "./dom.js";

const FIELDS = [
  ["Recipient name", "name", { required: true, autocomplete: "name", maxlength: 100 }],
  ["Address line 1", "line1", { required: true, autocomplete: "address-line1" }],
  ["Address line 2 (optional)", "line2", { autocomplete: "address-line2" }],
  ["City", "city", { required: true, autocomplete: "address-level2" }],
  ["Region or state (required in the US, Canada and Australia)", "region", { autocomplete: "address-level1" }],
  ["Postal code", "postal_code", { required: true, autocomplete: "postal-code" }],
  ["Country (two-letter code, e.g. DE)", "country", { required: true, autocomplete: "country", maxlength: 2, pattern: "[A-Za-z]{2}" }],
  ["Phone (optional, e.g. +4930123456)", "phone", { type: "tel", autocomplete: "tel", pattern: "\\+[1-9][0-9]{1,14}" }],
];

export function addressFieldset(address = {}, prefix = "address") {
  return h("fieldset", {}, h("legend", {}, "Shipping address"),
    FIELDS.map(([label, name, attributes]) => field(label, name, { ...attributes, value: address?.[name] ?? "" }, prefix)));
}

// The address from the form's values; blanks left out, the country upper-cased.
export function addressFrom(data) {
  const address = {};
  for (const [, name] of FIELDS) {
    const value = data[name];
    if (value !== null && value !== undefined) address[name] = name === "country" ? value.toUpperCase() : value;
  }
  return address;
}

// A 422's details for the address ({"shipping_address": {"city": [...]}}) as one readable line.
export function problems(error) {
  const details = error.details || {};
  const lines = [];
  const walk = (value, path) => {
    if (Array.isArray(value) && value.every((item) => typeof item === "string")) lines.push(`${path}: ${value.join(" ")}`);
    else if (value && typeof value === "object") for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key);
  };
  walk(details, "");
  return lines.length ? `${error.message} ${lines.join("; ")}` : error.message;
}
