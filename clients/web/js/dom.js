// Tiny DOM helpers. Text always goes in as text nodes, never as HTML: the
// data comes from the API and the page must not interpret it.

// h('button', {class: 'x', onclick: fn, disabled: true}, 'Texte', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value') {
      // an input's attribute is also its default value (form.reset() returns to it)
      if (el instanceof HTMLInputElement) el.setAttribute('value', String(v));
      el.value = String(v);
    } else if (k === 'checked') {
      el.defaultChecked = true;
      el.checked = true;
    } else if (k === 'selected') {
      el.defaultSelected = true;
      el.selected = true;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Ids for form fields, unique in the page.
let seq = 0;
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

// s('rect', {x: 0, class: 'bar'}, ...): the same for SVG elements (attributes
// only: an SVG element's look comes from style.css, never a style attribute).
const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}
