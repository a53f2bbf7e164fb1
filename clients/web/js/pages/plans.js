// Allocation plans: for a département and a day, the service suggests which
// waiting young person goes to which free place (the best total score), says
// why the others are left without one, and proposes only the pairs the
// referent checks (POST /v1/allocation-plans, then .../{id}/apply).
// Plans are computed in the background: a plan still queued or running
// shows its progress and is polled until it is done (the same for an apply).
import { h, append, clear, uid } from '../dom.js';
import { api } from '../api.js';
import { showProblem, showError, notify, clearAlerts } from '../alerts.js';
import { field, busy } from '../forms.js';
import { FACTORS, PLAN_WHY, RULES, label, plural, problemSentence } from '../i18n.js';
import { today, fr } from '../dates.js';

export async function render(ctx) {
  ctx.title('Répartition des places');
  const me = ctx.me;
  const planId = Number(ctx.query.get('id')) || null;
  const deps = me.role === 'referent' ? me.departements : null;
  const depSpec = deps
    ? { name: 'departement', label: 'Département', type: 'select', options: Object.fromEntries(deps.map((d) => [d, d])), required: true }
    : { name: 'departement', label: 'Département', type: 'text', maxlength: 3, required: true, hint: 'Par exemple 34, 2A ou 971.' };
  const form = h('form', { class: 'filters card', novalidate: true, 'aria-label': 'Calculer un plan de répartition' },
    field(depSpec, ctx.query.get('departement') || (deps ? deps[0] : '')),
    field({ name: 'on', label: 'Places libres le', type: 'date', hint: 'Le jour des entrées proposées.' }, ctx.query.get('on') || today()),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Calculer le plan')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      clearAlerts();
      const f = new FormData(form);
      const body = { departement: String(f.get('departement') || '').trim().toUpperCase() };
      if (f.get('on')) body.on = f.get('on');
      try {
        const { data } = await api('POST', '/allocation-plans', { body });
        ctx.go('/plans', { id: data.id });
      } catch (e) {
        showProblem(e, 'Calcul du plan');
      }
    });
  });
  const out = h('div', { class: 'plan-out' });
  ctx.el.append(
    h('h1', {}, 'Répartition des places'),
    h('p', { class: 'lead' },
      "Le service propose, pour un département et un jour, quel jeune en attente irait sur quelle place libre (le meilleur score d'ensemble) "
      + 'et dit pourquoi les autres restent sans place. Rien n’est proposé aux porteurs tant que vous n’avez pas coché et appliqué.'),
    form, out);
  if (!planId) return;

  const plan = await waitForPlan(ctx, out, planId);
  if (!plan || !ctx.current()) return;
  // the form says what this plan was computed for
  form.elements.departement.value = plan.departement;
  form.elements.on.value = plan.on;
  if (plan.status === 'failed') {
    append(clear(out), h('p', { class: 'note', role: 'alert' },
      `Le plan n° ${plan.id} n’a pas pu être calculé. Relancez le calcul.`));
    return;
  }
  // the young people's own references (in the plan), for the referent
  const refs = new Map();
  for (const x of [...plan.assignments, ...plan.unassigned]) if (x.ref) refs.set(x.youth_id, x.ref);
  renderPlan(out, plan, refs, ctx);
}

const POLL_MS = 1000;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function progressText(what, p) {
  return `${what} (${Math.round(100 * (p.progress || 0))} %)…`;
}

// GET the plan until it is computed and no apply runs, showing the progress.
async function waitForPlan(ctx, out, planId) {
  const status = h('p', { class: 'plan-progress', role: 'status', 'aria-live': 'polite' });
  for (;;) {
    const { data: plan } = await api('GET', `/allocation-plans/${planId}`);
    if (!ctx.current()) return null;
    const computing = plan.status === 'queued' || plan.status === 'running';
    if (!computing && !plan.apply) return plan;
    if (!status.isConnected) append(clear(out), status);
    status.dataset.status = computing ? plan.status : 'applying';
    status.textContent = computing
      ? progressText(plan.status === 'queued' ? 'Plan en attente de calcul' : 'Calcul du plan en cours', plan)
      : progressText('Application du plan en cours', plan.apply);
    await sleep(POLL_MS);
  }
}

function youthLink(id, refs) {
  return h('a', { href: `#/youth/${id}` }, refs.get(id) || `jeune n° ${id}`);
}

function outcomeText(o) {
  if (o.status === 201) return `Proposée (orientation n° ${o.placement_id})`;
  // the catalogue's sentence, with what the result carries (max_end_date...)
  const why = problemSentence({ ...o, type: `/problems/${o.problem || ''}` }, o.status);
  const rules = Array.isArray(o.rules) && o.rules.length ? ` (${o.rules.map((r) => label(RULES, r)).join(', ')})` : '';
  return `Non proposée : ${why}${rules}`;
}

function renderPlan(out, plan, refs, ctx) {
  const key = (p) => `${p.youth_id}:${p.offer_id}`;
  const outcomes = new Map(); // the last outcome of each pair
  for (const o of plan.applied || []) outcomes.set(key(o), o);

  append(clear(out), [
    h('h2', { id: 'plan-title' }, `Plan n° ${plan.id} — département ${plan.departement}, places libres le ${fr(plan.on)}`),
    h('p', { class: 'plan-summary' },
      `${plural(plan.waiting_youth, 'jeune en attente', 'jeunes en attente')} sans orientation en cours · `,
      `${plural(plan.offers_with_free_places, 'offre avec des places libres', 'offres avec des places libres')} · `,
      `${plural(plan.eligible_pairs, 'rapprochement possible', 'rapprochements possibles')} · `,
      h('strong', {}, `${plural(plan.assignments.length, 'jeune placé·e', 'jeunes placé·es')} par le plan`),
      ` (score total ${plan.total_score}).`),
    plan.applied_at ? h('p', { class: 'note' }, 'Une partie de ce plan a déjà été appliquée : voir la colonne « Résultat ».') : null]);

  // ---- the pairs, to check and apply
  const section = h('section', { class: 'card', 'aria-labelledby': 'assign-title' },
    h('h3', { id: 'assign-title' }, `Rapprochements proposés (${plan.assignments.length})`));
  out.append(section);
  if (!plan.assignments.length) {
    section.append(h('p', {}, 'Aucun rapprochement possible ce jour-là : voir ci-dessous pourquoi.'));
  } else {
    const rows = plan.assignments.map((a) => {
      const done = outcomes.get(key(a));
      const proposed = done && done.status === 201;
      const cid = uid('pair');
      const box = h('input', {
        type: 'checkbox', id: cid, name: 'pair', checked: !proposed, disabled: proposed,
        dataset: { youthId: a.youth_id, offerId: a.offer_id },
      });
      const result = h('td', { class: 'result', dataset: { label: 'Résultat' } }, done ? outcomeText(done) : '—');
      if (done) result.dataset.status = String(done.status);
      const tr = h('tr', { dataset: { youthId: a.youth_id, offerId: a.offer_id } },
        h('td', { class: 'pick', dataset: { label: 'Choisir' } }, box,
          h('label', { for: cid, class: 'visually-hidden' }, `Proposer « ${a.label} » à ${refs.get(a.youth_id) || `jeune n° ${a.youth_id}`}`)),
        h('td', { dataset: { label: 'Jeune' } }, youthLink(a.youth_id, refs)),
        h('td', { dataset: { label: 'Offre' } }, a.label),
        h('td', { dataset: { label: 'Séjour' } }, `du ${fr(a.start_date)} au ${fr(a.end_date)}`),
        h('td', { class: 'score-cell', dataset: { label: 'Score' } },
          h('details', { class: 'reasons' },
            h('summary', {}, h('strong', {}, String(a.score)), ' / 100'),
            h('ul', {}, a.reasons.map((r) => h('li', {},
              h('span', { class: 'factor' }, label(FACTORS, r.factor)), ' : ',
              h('strong', {}, plural(r.points, 'point', 'points')), ` — ${r.detail}`))))),
        result);
      return { a, box, result, tr };
    });
    const all = h('button', { type: 'button', class: 'small' }, 'Tout cocher');
    const none = h('button', { type: 'button', class: 'small' }, 'Tout décocher');
    all.addEventListener('click', () => rows.forEach((r) => { if (!r.box.disabled) r.box.checked = true; }));
    none.addEventListener('click', () => rows.forEach((r) => { r.box.checked = false; }));
    const apply = h('button', { type: 'submit', class: 'primary' }, 'Appliquer : proposer les rapprochements cochés');
    const form = h('form', { class: 'plan-form', novalidate: true, 'aria-labelledby': 'assign-title' },
      h('div', { class: 'actions' }, all, none),
      h('div', { class: 'table-wrap' }, h('table', { class: 'stack plan' },
        h('caption', { class: 'visually-hidden' }, 'Rapprochements du plan : cochez ceux à proposer aux porteurs'),
        h('thead', {}, h('tr', {}, ['Choisir', 'Jeune', 'Offre', 'Séjour', 'Score', 'Résultat'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map((r) => r.tr)))),
      h('div', { class: 'actions' }, apply));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(form, async () => {
        clearAlerts();
        const chosen = rows.filter((r) => r.box.checked && !r.box.disabled);
        if (!chosen.length) {
          showError('Rien à appliquer', 'Cochez au moins un rapprochement.');
          return;
        }
        let data;
        let status;
        try {
          ({ data, status } = await api('POST', `/allocation-plans/${plan.id}/apply`, {
            body: { pairs: chosen.map((r) => ({ youth_id: r.a.youth_id, offer_id: r.a.offer_id })) },
          }));
        } catch (e) {
          showProblem(e, 'Application du plan');
          return;
        }
        if (status === 202) {
          // still proposing: the page follows its progress, then shows the outcomes
          notify('Application en cours : les résultats s’afficheront à la fin.');
          ctx.go('/plans', { id: plan.id });
          return;
        }
        let ok = 0;
        for (const o of data.results) {
          const r = rows.find((x) => key(x.a) === key(o));
          if (!r) continue;
          r.result.textContent = outcomeText(o);
          r.result.dataset.status = String(o.status);
          if (o.status === 201) {
            ok += 1;
            r.box.checked = false;
            r.box.disabled = true;
          }
        }
        const failed = data.results.length - ok;
        const text = `${plural(ok, 'proposition envoyée', 'propositions envoyées')} aux porteurs`
          + (failed ? ` ; ${plural(failed, 'rapprochement non proposé', 'rapprochements non proposés')} (voir la colonne « Résultat »).` : '.');
        if (ok) notify(text);
        else showError('Aucune proposition envoyée', text);
      });
    });
    section.append(form);
  }

  // ---- who is left without a place, and why
  const left = h('section', { class: 'card', 'aria-labelledby': 'left-title' },
    h('h3', { id: 'left-title' }, `Sans place dans ce plan (${plan.unassigned.length})`));
  out.append(left);
  if (!plan.unassigned.length) {
    left.append(h('p', {}, 'Tous les jeunes en attente ont une place dans ce plan.'));
    return;
  }
  left.append(h('ul', { class: 'unassigned' }, plan.unassigned.map((u) => {
    const li = h('li', { dataset: { youthId: u.youth_id, why: u.why } },
      youthLink(u.youth_id, refs), ' — ', label(PLAN_WHY, u.why),
      u.eligible_offers ? ` (${plural(u.eligible_offers, 'offre possible', 'offres possibles')})` : '', '.');
    if (u.excluded) {
      const rows = Object.keys(RULES).filter((r) => u.excluded[r] > 0);
      if (rows.length) {
        li.append(h('ul', { class: 'excluded-rules' }, rows.map((r) => h('li', { dataset: { rule: r } },
          `${RULES[r]} : ${plural(u.excluded[r], 'offre', 'offres')}`))));
      }
    }
    return li;
  })));
}
