// Imports: a porteur brings its offers, a referent its waiting list, from a
// spreadsheet saved as CSV. The file is first checked (dry run: every row's
// outcome and every error, in French, nothing changes); then "Importer"
// applies it, all or nothing. The template (French headers, and the porteur's
// current offers with their ids) is offered for download. Below, the past
// imports the caller may see (GET /v1/imports), each one's rows on demand.
import { h, clear } from '../dom.js';
import { api, apiBlob, apiCsv } from '../api.js';
import { showProblem, notify, clearAlerts } from '../alerts.js';
import { ERROR_CODES, PROBLEMS, plural } from '../i18n.js';

const KIND_TEXT = { offers: 'Offres (places)', youth: "Jeunes (liste d'attente)" };
const OUTCOMES = {
  create: 'Sera créée', update: 'Sera mise à jour', unchanged: 'Inchangée (reconfirmée)', error: 'Erreur',
};
const DONE = { create: 'Créée', update: 'Mise à jour', unchanged: 'Inchangée', error: 'Erreur' };
const RUN_MODES = { dry_run: 'Vérification', apply: 'Import' };
const RUN_KINDS = { offers: 'Offres', youth: 'Jeunes' };
const WHEN = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short' });

function kindsOf(me) {
  if (me.role === 'porteur') return ['offers'];
  if (me.role === 'referent') return ['youth'];
  return ['offers', 'youth'];
}

function errorText(e) {
  // a capacity below the places taken: the sentence of the problem itself, with the count
  const words = e.code === 'capacity-below-occupancy' ? PROBLEMS[e.code](e) : ERROR_CODES[e.code];
  return `${words || 'Valeur refusée.'} ${e.detail ? `(${e.detail})` : ''}`.trim();
}

function summaryText(s, applied) {
  const parts = [plural(s.create, applied ? 'créée' : 'à créer', applied ? 'créées' : 'à créer'),
    plural(s.update, applied ? 'mise à jour' : 'à mettre à jour', applied ? 'mises à jour' : 'à mettre à jour'),
    plural(s.unchanged, 'inchangée', 'inchangées')];
  if (s.error) parts.push(plural(s.error, 'ligne en erreur', 'lignes en erreur'));
  return `${plural(s.rows, 'ligne', 'lignes')} : ${parts.join(', ')}.`;
}

function report(data, applied) {
  const byRow = new Map();
  for (const e of data.errors || []) {
    if (!byRow.has(e.row)) byRow.set(e.row, []);
    byRow.get(e.row).push(e);
  }
  const fileErrors = byRow.get(1) || [];
  const words = applied ? DONE : OUTCOMES;
  return h('div', { class: 'import-report' },
    h('p', { class: 'import-summary', dataset: { errors: String(data.summary.error + fileErrors.length) } },
      summaryText(data.summary, applied)),
    fileErrors.length ? h('ul', { class: 'file-errors' }, fileErrors.map((e) =>
      h('li', {}, `Colonne « ${e.column} » : ${errorText(e)}`))) : null,
    h('table', { class: 'list import-rows' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Ligne'), h('th', {}, 'Résultat'), h('th', {}, 'Erreurs'))),
      h('tbody', {}, data.rows.map((r) => h('tr', { class: `outcome-${r.outcome}`, dataset: { row: r.row, outcome: r.outcome } },
        h('td', { dataset: { label: 'Ligne' } }, String(r.row)),
        h('td', { dataset: { label: 'Résultat' } }, words[r.outcome] || r.outcome),
        h('td', { dataset: { label: 'Erreurs' } }, (byRow.get(r.row) || []).map((e) =>
          h('div', { class: 'cell-error' }, h('strong', {}, e.column), ' : ', errorText(e)))))))));
}

// Shorter than summaryText, and never the same words (the report above stays the only one).
function runCounts(s) {
  const parts = [plural(s.create, 'nouvelle', 'nouvelles'), plural(s.update, 'modifiée', 'modifiées'),
    plural(s.unchanged, 'identique', 'identiques')];
  if (s.error) parts.push(`${s.error} en erreur`);
  return `${plural(s.rows, 'ligne', 'lignes')} (${parts.join(', ')})`;
}

function runResult(run) {
  if (run.mode === 'dry_run') return run.summary.error ? 'Erreurs trouvées' : 'Fichier correct';
  return run.applied ? 'Enregistré' : 'Refusé (rien importé)';
}

// The past imports: a table, newest first; "Détail" shows one run's rows.
async function pastRuns(box, kinds) {
  const query = { limit: 20 };
  if (kinds.length === 1) query.kind = kinds[0];
  let runs;
  try {
    runs = (await api('GET', '/imports', { query })).data.items;
  } catch (e) {
    showProblem(e, 'Imports précédents');
    return;
  }
  const detail = h('div', { class: 'import-run-detail', 'aria-live': 'polite' });
  clear(box).append(h('h2', {}, 'Imports précédents'));
  if (!runs.length) {
    box.append(h('p', { class: 'empty' }, 'Aucun import pour le moment.'));
    return;
  }
  box.append(h('table', { class: 'list import-runs' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Date'), h('th', {}, 'Type'), h('th', {}, 'Opération'),
      h('th', {}, 'Résultat'), h('th', {}, 'Lignes'), h('th', {}, 'Détail'))),
    h('tbody', {}, runs.map((run) => {
      const show = h('button', { type: 'button', 'aria-label': `Détail de l'import n° ${run.id}` }, 'Voir');
      show.addEventListener('click', async () => {
        try {
          const { data } = await api('GET', `/imports/${run.id}`);
          clear(detail).append(h('h3', {}, `Import n° ${run.id} du ${WHEN.format(new Date(data.created_at))}`),
            report(data, data.applied));
        } catch (e) {
          showProblem(e, 'Détail');
        }
      });
      return h('tr', { dataset: { run: String(run.id), mode: run.mode } },
        h('td', { dataset: { label: 'Date' } }, WHEN.format(new Date(run.created_at))),
        h('td', { dataset: { label: 'Type' } }, RUN_KINDS[run.kind] || run.kind),
        h('td', { dataset: { label: 'Opération' } }, RUN_MODES[run.mode] || run.mode),
        h('td', { dataset: { label: 'Résultat' } }, runResult(run)),
        h('td', { dataset: { label: 'Lignes' } }, runCounts(run.summary)),
        h('td', { dataset: { label: 'Détail' } }, show));
    }))), detail);
}

export async function render(ctx) {
  ctx.title('Import');
  const kinds = kindsOf(ctx.me);
  let kind = kinds.includes(ctx.query.get('kind')) ? ctx.query.get('kind') : kinds[0];
  const out = h('section', { class: 'import-result', 'aria-live': 'polite' });
  const history = h('section', { class: 'import-history' });
  const refresh = () => pastRuns(history, kinds);
  const picker = h('select', { name: 'kind', id: 'import-kind' },
    kinds.map((k) => h('option', { value: k, selected: k === kind }, KIND_TEXT[k])));
  const file = h('input', { type: 'file', name: 'file', id: 'import-file', accept: '.csv,text/csv' });
  const check = h('button', { type: 'submit', class: 'primary' }, 'Vérifier le fichier');
  const apply = h('button', { type: 'button', id: 'import-apply', disabled: true }, 'Importer');
  const template = h('button', { type: 'button', id: 'import-template' }, 'Télécharger le modèle');
  let bytes = null;

  picker.addEventListener('change', () => {
    kind = picker.value;
    apply.disabled = true;
    clear(out);
  });
  template.addEventListener('click', async () => {
    try {
      const blob = await apiBlob('/imports/template', { query: { kind, porteur_id: ctx.me.porteur_id }, accept: 'text/csv' });
      const a = h('a', { href: URL.createObjectURL(blob), download: kind === 'offers' ? 'modele_offres.csv' : 'modele_jeunes.csv' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      showProblem(e, 'Modèle');
    }
  });
  const form = h('form', { class: 'card import-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'import-kind' }, 'Que voulez-vous importer ?'), picker),
    h('div', { class: 'field' }, h('label', { for: 'import-file' }, 'Fichier CSV'), file,
      h('p', { class: 'hint' }, "Enregistrez votre tableur au format CSV (séparateur point-virgule ou virgule). Les en-têtes sont ceux du modèle. Une ligne est reconnue par son code (offres) ou sa référence (jeunes) : importer deux fois le même fichier ne change rien.")),
    h('div', { class: 'actions' }, check, apply, template));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearAlerts();
    clear(out);
    apply.disabled = true;
    if (!file.files.length) {
      out.append(h('p', { class: 'empty' }, 'Choisissez un fichier CSV.'));
      return;
    }
    bytes = await file.files[0].arrayBuffer();
    try {
      const { data } = await apiCsv('/imports', { kind, mode: 'dry_run' }, bytes);
      out.append(h('h2', {}, 'Vérification (rien n’est encore importé)'), report(data, false));
      apply.disabled = data.summary.error > 0 || (data.errors || []).length > 0 || data.summary.rows === 0;
      if (!apply.disabled) out.append(h('p', {}, 'Le fichier est correct : cliquez sur « Importer » pour l’enregistrer.'));
      else out.append(h('p', {}, 'Corrigez ces erreurs dans votre tableur, enregistrez-le en CSV, puis vérifiez-le à nouveau.'));
    } catch (e) {
      showProblem(e, 'Vérification');
    }
    refresh();
  });
  apply.addEventListener('click', async () => {
    clearAlerts();
    apply.disabled = true;
    try {
      const { data } = await apiCsv('/imports', { kind, mode: 'apply' }, bytes);
      clear(out).append(h('h2', {}, 'Import enregistré'), report(data, true));
      notify(`Import enregistré. ${summaryText(data.summary, true)}`);
    } catch (e) {
      if (e.problem && e.problem.rows) {
        clear(out).append(h('h2', {}, 'Rien n’a été importé'),
          report({ ...e.problem, errors: e.errors }, false));
      }
      showProblem(e, 'Import');
    }
    refresh();
  });
  ctx.el.append(
    h('h1', {}, 'Importer un tableur'),
    h('p', { class: 'lead' }, kinds.includes('offers')
      ? 'Vos offres depuis un tableur : le fichier est vérifié ligne par ligne avant tout enregistrement, puis importé en une seule fois (tout ou rien).'
      : 'Votre liste d’attente depuis un tableur : le fichier est vérifié ligne par ligne avant tout enregistrement, puis importé en une seule fois (tout ou rien).'),
    form, out, history);
  refresh();
}
