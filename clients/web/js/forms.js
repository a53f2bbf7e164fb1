// Forms built from a list of field specs, read into API bodies, and the
// API's field errors (errors[].pointer) shown next to the fields.
import { h, uid } from './dom.js';
import { fieldMessage } from './i18n.js';
import { communeField } from './commune.js';

// spec: {name, label, type: text|number|date|select|checkbox|checkboxes|commune,
//        options: {code: label}, required, hint, min, max, step, nullable,
//        empty: label of the empty choice of a select, inputmode, autocomplete}
export function field(spec, value) {
  if (spec.type === 'commune') return communeField(spec, value);
  const id = uid(`f-${spec.name}`);
  const hintId = spec.hint ? `${id}-hint` : null;
  const wrap = h('div', { class: ['field', `field-${spec.type}`], dataset: { field: spec.name } });
  const req = spec.required ? h('span', { class: 'req' }, ' (obligatoire)') : null;

  if (spec.type === 'checkbox') {
    wrap.append(
      h('input', { type: 'checkbox', id, name: spec.name, checked: Boolean(value), 'aria-describedby': hintId }),
      h('label', { for: id }, spec.label),
    );
  } else if (spec.type === 'checkboxes') {
    const fs = h('fieldset', { class: 'checkboxes', 'aria-describedby': hintId }, h('legend', {}, spec.label, req));
    const chosen = new Set(value || []);
    for (const [code, text] of Object.entries(spec.options)) {
      const cid = uid(`f-${spec.name}-${code}`);
      fs.append(h('div', { class: 'check' },
        h('input', { type: 'checkbox', id: cid, name: spec.name, value: code, checked: chosen.has(code) }),
        h('label', { for: cid }, text)));
    }
    wrap.append(fs);
  } else if (spec.type === 'select') {
    const sel = h('select', { id, name: spec.name, 'aria-describedby': hintId, 'aria-required': spec.required ? 'true' : null });
    if (spec.empty !== undefined) sel.append(h('option', { value: '' }, spec.empty));
    for (const [code, text] of Object.entries(spec.options)) {
      sel.append(h('option', { value: code, selected: value === code }, text));
    }
    if (value === undefined || value === null) sel.value = spec.empty !== undefined ? '' : sel.value;
    wrap.append(h('label', { for: id }, spec.label, req), sel);
  } else {
    const input = h('input', {
      type: spec.type || 'text',
      id,
      name: spec.name,
      value: value === undefined || value === null ? '' : String(value),
      min: spec.min,
      max: spec.max,
      step: spec.step,
      inputmode: spec.inputmode,
      autocomplete: spec.autocomplete || 'off',
      maxlength: spec.maxlength,
      'aria-describedby': hintId,
      'aria-required': spec.required ? 'true' : null,
    });
    wrap.append(h('label', { for: id }, spec.label, req), input);
  }
  if (spec.hint) wrap.append(h('p', { class: 'hint', id: hintId }, spec.hint));
  return wrap;
}

function rawValue(form, spec) {
  if (spec.type === 'checkbox') return form.querySelector(`input[name="${spec.name}"]`).checked;
  if (spec.type === 'checkboxes') {
    return [...form.querySelectorAll(`input[name="${spec.name}"]:checked`)].map((i) => i.value);
  }
  const el = form.querySelector(`[name="${spec.name}"]`);
  const v = el.value.trim();
  if (v === '') return null;
  if (spec.type === 'number') {
    const n = Number(v.replace(',', '.'));
    return Number.isFinite(n) ? n : v; // let the API say wrong_type
  }
  return v;
}

function same(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return [...(a || [])].sort().join(',') === [...(b || [])].sort().join(',');
  }
  if (a === null || a === undefined || a === '') return b === null || b === undefined || b === '';
  return a === b || String(a) === String(b);
}

// The body of a create (empty fields left out) or, with `original`, a JSON
// Merge Patch of what changed (an emptied nullable field becomes null).
export function readForm(form, specs, original) {
  const body = {};
  for (const spec of specs) {
    if (spec.readonly) continue;
    const v = rawValue(form, spec);
    if (!original) {
      if (v !== null && !(spec.type === 'checkboxes' && v.length === 0)) body[spec.name] = v;
      continue;
    }
    if (same(v, original[spec.name])) continue;
    if (v === null) {
      if (spec.nullable) body[spec.name] = null;
      continue; // a required field emptied: the API keeps the value; nothing to send
    }
    body[spec.name] = v;
  }
  return body;
}

export function clearFieldErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => {
    e.removeAttribute('aria-invalid');
    const ids = (e.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.endsWith('-err'));
    if (ids.length) e.setAttribute('aria-describedby', ids.join(' '));
    else e.removeAttribute('aria-describedby');
  });
}

// Puts each error of errors[] next to its field (by the first segment of its
// JSON pointer); returns the errors no field of this form could take.
export function showFieldErrors(form, errors) {
  clearFieldErrors(form);
  const rest = [];
  let first = null;
  for (const e of errors) {
    const name = (e.pointer || '').split('/')[1];
    const wrap = name ? form.querySelector(`.field[data-field="${name}"]`) : null;
    if (!wrap) {
      rest.push(e);
      continue;
    }
    const control = wrap.querySelector('input, select, fieldset');
    const errId = `${control.id || uid('fs')}-err`;
    if (!control.id) control.id = errId.slice(0, -4);
    if (!wrap.querySelector('.field-error')) {
      wrap.append(h('p', { class: 'field-error', id: errId, dataset: { code: e.code } }, fieldMessage(name, e.code)));
      control.setAttribute('aria-invalid', 'true');
      const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      control.setAttribute('aria-describedby', [...ids, errId].join(' '));
    }
    first = first || wrap.querySelector('input, select');
  }
  if (first) first.focus();
  return rest;
}

// Disables a form's buttons while fn runs.
export async function busy(el, fn) {
  const buttons = el.tagName === 'BUTTON' ? [el] : [...el.querySelectorAll('button')];
  buttons.forEach((b) => { b.disabled = true; });
  el.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    el.removeAttribute('aria-busy');
  }
}
