// The alert region (errors, aria-live assertive) and the status region
// (confirmations, aria-live polite), both in index.html.
import { h, clear } from './dom.js';
import { ApiError } from './api.js';
import { PROBLEMS, STATUS_TITLES, RULES, PLACEMENT_STATUSES, label } from './i18n.js';

const alerts = () => document.getElementById('alerts');
const status = () => document.getElementById('status');

export function clearAlerts() {
  clear(alerts());
  clear(status());
}

function dismissable(kind, ...content) {
  const box = h('div', { class: ['alert', `alert-${kind}`] }, h('div', { class: 'alert-body' }, ...content));
  box.append(h('button', {
    type: 'button',
    class: 'alert-close',
    'aria-label': 'Fermer ce message',
    onclick: () => box.remove(),
  }, '×'));
  return box;
}

export function showError(title, text) {
  clear(alerts()).append(dismissable('error', h('strong', {}, title), text ? h('p', {}, text) : null));
}

// A problem+json answer: its French title and sentence, the server's detail,
// and what the extra members say (rules of an ineligibility, current status).
export function showProblem(err, context) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    showError('Erreur inattendue', String(err && err.message ? err.message : err));
    return;
  }
  const p = err.problem;
  const title = STATUS_TITLES[err.status] || p.title || `Erreur ${err.status}`;
  const parts = [h('strong', { class: 'alert-title' }, context ? `${context} : ${title}` : title)];
  const sentence = PROBLEMS[err.slug];
  if (sentence) parts.push(h('p', {}, sentence));
  if (Array.isArray(p.rules) && p.rules.length) {
    parts.push(h('p', {}, 'Règle non respectée : ', p.rules.map((r) => label(RULES, r)).join(', '), '.'));
  }
  if (p.current_status) {
    parts.push(h('p', {}, "État actuel de l'orientation : ", label(PLACEMENT_STATUSES, p.current_status), '.'));
  }
  const queryErrors = err.errors.filter((e) => e.parameter);
  for (const e of queryErrors) parts.push(h('p', {}, `Filtre « ${e.parameter} » : ${e.detail}`));
  if (p.detail) parts.push(h('p', { class: 'alert-detail' }, 'Détail : ', p.detail));
  clear(alerts()).append(dismissable('error', ...parts));
}

export function notify(text) {
  clear(status()).append(dismissable('ok', h('p', {}, text)));
}

// A confirmation to show once the next page is there (a navigation clears
// the messages of the page before).
let pending = null;
export function notifyNext(text) {
  pending = text;
}
export function showPending() {
  if (pending) notify(pending);
  pending = null;
}
