// The alert region (errors, aria-live assertive) and the status region
// (confirmations, aria-live polite), both in index.html.
import { h, clear } from './dom.js';
import { ApiError } from './api.js';
import { RULES, label, fieldMessage, problemTitle, problemSentence, currentStatusText } from './i18n.js';

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

// A problem+json answer: its French title and sentence from the catalogue
// (i18n.js), and what the extra members say (rules of an ineligibility,
// current status, invalid filters). Never the server's `detail`: it is
// English, for developers (it stays in the browser console).
export function showProblem(err, context) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    showError('Erreur inattendue', "Cette page a rencontré une erreur imprévue : rechargez-la et réessayez.");
    return;
  }
  const p = err.problem;
  if (p.detail) console.info(`siaod: ${err.status} ${p.type || ''}: ${p.detail}`);
  const title = problemTitle(err.status);
  const parts = [h('strong', { class: 'alert-title' }, context ? `${context} : ${title}` : title)];
  parts.push(h('p', { class: 'alert-sentence' }, problemSentence(p, err.status)));
  if (Array.isArray(p.rules) && p.rules.length) {
    parts.push(h('p', {}, 'Règle non respectée : ', p.rules.map((r) => label(RULES, r)).join(', '), '.'));
  }
  if (p.current_status) parts.push(h('p', { class: 'alert-status' }, currentStatusText(p)));
  const queryErrors = err.errors.filter((e) => e.parameter);
  for (const e of queryErrors) {
    parts.push(h('p', { class: 'alert-query' }, `Filtre « ${e.parameter} » : ${fieldMessage(e.parameter, e.code)}`));
  }
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
