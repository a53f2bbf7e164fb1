// The commune field: people type the start of a town's name (or its INSEE
// code) and pick it in a list; the form sends the INSEE code. An ARIA 1.2
// combobox: the text input owns a listbox popup, the arrows move in it
// (aria-activedescendant), Enter picks, Escape closes.
import { h, uid } from './dom.js';
import { searchCommunes, getCommune, rememberCommune } from './api.js';

const INSEE = /^(\d{5}|2[AB]\d{3})$/i;
const DEBOUNCE_MS = 150;

// Lower case, no accents, hyphens and apostrophes as spaces: how the API compares names.
export function fold(text) {
  return String(text).normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/['’-]/g, ' ')
    .toLowerCase().replace(/\s+/g, ' ').trim();
}

function optionText(c) {
  return `${c.name} (${c.departement})`;
}

// spec: {name, label, required, hint}; value: an INSEE code or null.
export function communeField(spec, value) {
  const id = uid(`f-${spec.name}`);
  const listId = `${id}-list`;
  const hintId = spec.hint ? `${id}-hint` : null;
  const chosenId = `${id}-chosen`;
  const statusId = `${id}-status`;
  const input = h('input', {
    type: 'text',
    id,
    role: 'combobox',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    'aria-describedby': [chosenId, hintId].filter(Boolean).join(' '),
    'aria-required': spec.required ? 'true' : null,
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: 80,
    value: value || '',
    dataset: { combobox: 'commune' },
  });
  const hidden = h('input', { type: 'hidden', name: spec.name, value: value || '' });
  const list = h('ul', { role: 'listbox', id: listId, class: 'combo-list', 'aria-label': 'Communes trouvées', hidden: true });
  const chosen = h('p', { class: 'combo-chosen hint', id: chosenId });
  const status = h('p', { class: 'visually-hidden', id: statusId, role: 'status', 'aria-live': 'polite' });
  const req = spec.required ? h('span', { class: 'req' }, ' (obligatoire)') : null;
  const wrap = h('div', { class: ['field', 'field-commune'], dataset: { field: spec.name } },
    h('label', { for: id }, spec.label, req),
    h('div', { class: 'combo' }, input, list),
    hidden, chosen, status,
    spec.hint ? h('p', { class: 'hint', id: hintId }, spec.hint) : null);

  let items = [];
  let active = -1;
  let seq = 0;
  let timer = null;

  function showChosen(c) {
    if (c) chosen.textContent = `${c.name} (${c.departement}) · code INSEE ${c.insee}`;
    else if (hidden.value) chosen.textContent = `Code INSEE ${hidden.value}`;
    else chosen.textContent = input.value.trim() ? 'Choisissez une commune dans la liste.' : '';
  }

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function setActive(i) {
    const opts = [...list.children];
    opts.forEach((o, k) => {
      o.setAttribute('aria-selected', k === i ? 'true' : 'false');
      o.classList.toggle('active', k === i);
    });
    active = i;
    if (i >= 0 && opts[i]) {
      input.setAttribute('aria-activedescendant', opts[i].id);
      opts[i].scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function pick(c) {
    rememberCommune(c);
    input.value = c.name;
    hidden.value = c.insee;
    showChosen(c);
    close();
    status.textContent = `${optionText(c)} choisie.`;
  }

  function render() {
    list.replaceChildren(...items.map((c, i) => {
      const li = h('li', {
        role: 'option',
        id: `${listId}-${i}`,
        class: 'combo-option',
        'aria-selected': 'false',
        dataset: { insee: c.insee },
      }, c.name, ' ', h('span', { class: 'combo-meta' }, `(${c.departement}, code ${c.insee})`));
      // mousedown would move the focus out of the input before the click
      li.addEventListener('mousedown', (ev) => ev.preventDefault());
      li.addEventListener('click', () => pick(c));
      return li;
    }));
    const open = items.length > 0 && document.activeElement === input;
    list.hidden = !open;
    input.setAttribute('aria-expanded', open ? 'true' : 'false');
    active = -1;
    input.removeAttribute('aria-activedescendant');
    status.textContent = items.length
      ? `${items.length === 1 ? '1 commune trouvée' : `${items.length} communes trouvées`} : flèche bas pour choisir.`
      : 'Aucune commune ne commence ainsi.';
  }

  async function search() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) {
      items = [];
      close();
      status.textContent = '';
      return;
    }
    let found;
    try {
      found = await searchCommunes(q, 8);
    } catch (e) {
      if (mine === seq) status.textContent = 'La recherche des communes a échoué.';
      return;
    }
    if (mine !== seq) return; // a later keystroke asked again
    items = found;
    render();
  }

  input.addEventListener('input', () => {
    const q = input.value.trim();
    // an INSEE code typed as such is taken as it is (the API checks it)
    hidden.value = INSEE.test(q) ? q.toUpperCase() : '';
    showChosen(null);
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  input.addEventListener('keydown', (ev) => {
    const open = !list.hidden;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      if (!items.length) return;
      ev.preventDefault();
      if (!open) {
        list.hidden = false;
        input.setAttribute('aria-expanded', 'true');
      }
      const n = items.length;
      const next = ev.key === 'ArrowDown' ? (active + 1) % n : (active <= 0 ? n - 1 : active - 1);
      setActive(ev.altKey ? -1 : next);
    } else if (ev.key === 'Enter') {
      if (open && active >= 0) {
        ev.preventDefault(); // picks; does not submit the form
        pick(items[active]);
      }
    } else if (ev.key === 'Escape') {
      if (open) {
        ev.preventDefault();
        close();
      }
    } else if (ev.key === 'Tab') {
      close();
    }
  });
  input.addEventListener('blur', () => {
    setTimeout(() => {
      if (document.activeElement !== input) close();
    }, 0);
  });
  input.addEventListener('focus', () => {
    if (items.length && !hidden.value) {
      list.hidden = false;
      input.setAttribute('aria-expanded', 'true');
    }
  });

  // The field's own resolution, before the form is read: a typed name that
  // is exactly one commune's is taken; else the text goes as it is (the API
  // then says it knows no such commune, next to the field).
  wrap.resolveCommune = async () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (hidden.value || !q) return;
    let found = [];
    try {
      found = await searchCommunes(q, 10);
    } catch (e) {
      found = [];
    }
    const same = found.filter((c) => fold(c.name) === fold(q));
    const only = same.length === 1 ? same[0] : (found.length === 1 ? found[0] : null);
    if (only) pick(only);
    else hidden.value = q;
  };

  // form.reset() puts both inputs back to their first value
  wrap.afterReset = () => {
    items = [];
    close();
    if (!hidden.value) input.value = '';
    showChosen(null);
    if (hidden.value) named(hidden.value);
  };

  // the name of the code the field starts with
  function named(code) {
    getCommune(code).then((c) => {
      if (c && hidden.value === c.insee && (input.value === code || input.value === c.insee)) {
        input.value = c.name;
        showChosen(c);
      }
    }).catch(() => {});
  }
  showChosen(null);
  if (value) named(value);
  return wrap;
}

// Every commune field of a form, resolved (before readForm).
export async function resolveCommunes(form) {
  await Promise.all([...form.querySelectorAll('.field-commune')].map((w) => w.resolveCommune && w.resolveCommune()));
}

// A commune's name where its code would be shown: the code at first, the
// name once known (the lookups are cached).
export function communeLabel(insee) {
  const span = h('span', { class: 'commune', dataset: { insee } }, `commune ${insee}`);
  getCommune(insee).then((c) => {
    if (c) {
      span.textContent = c.name;
      span.title = `Code INSEE ${c.insee}`;
    }
  }).catch(() => {});
  return span;
}

// form.reset() (after a creation): the reset event comes before the reset
// itself, so the fields look at their values just after.
document.addEventListener('reset', (ev) => {
  const form = ev.target;
  setTimeout(() => form.querySelectorAll('.field-commune').forEach((w) => w.afterReset && w.afterReset()), 0);
});
