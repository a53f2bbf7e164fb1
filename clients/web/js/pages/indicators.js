// Indicators of the bilans (GET /v1/reports/indicators): per porteur over a
// period, a table with every figure, one chart (youth accompanied against
// the target, inline SVG drawn here) and the same figures as CSV and XLSX files for
// a spreadsheet.
import { h, s, append } from '../dom.js';
import { api, apiBlob, loadPorteurs, porteurName } from '../api.js';
import { showProblem, showError, notify, clearAlerts } from '../alerts.js';
import { field, busy } from '../forms.js';
import { REFUSAL_REASONS, DESTINATIONS, label, plural, num, pct } from '../i18n.js';
import { today, addDays, fr } from '../dates.js';

function yearStart(iso) {
  return `${iso.slice(0, 4)}-01-01`;
}

function periods() {
  const t = today();
  const lastYear = String(Number(t.slice(0, 4)) - 1);
  return [
    { text: 'Depuis le 1er janvier', from: yearStart(t), to: t },
    { text: `Année ${lastYear}`, from: `${lastYear}-01-01`, to: `${lastYear}-12-31` },
    { text: '12 derniers mois', from: addDays(t, -364), to: t },
  ];
}

export async function render(ctx) {
  ctx.title('Indicateurs');
  const me = ctx.me;
  const q = ctx.query;
  const filters = {
    from: q.get('from') || yearStart(today()),
    to: q.get('to') || today(),
    departement: me.role === 'porteur' ? '' : (q.get('departement') || ''),
    porteur_id: me.role === 'porteur' ? '' : (q.get('porteur_id') || ''),
  };

  const specs = [
    { name: 'from', label: 'Du', type: 'date' },
    { name: 'to', label: 'Au (inclus)', type: 'date' },
  ];
  if (me.role === 'admin') {
    specs.push({ name: 'departement', label: 'Département', type: 'text', maxlength: 3, hint: 'Vide : tous.' });
  } else if (me.role === 'referent' && me.departements.length > 1) {
    specs.push({
      name: 'departement', label: 'Département', type: 'select', empty: 'Tous vos départements',
      options: Object.fromEntries(me.departements.map((d) => [d, d])),
    });
  }
  if (me.role !== 'porteur') {
    const porteurs = (await loadPorteurs())
      .filter((p) => me.role === 'admin' || me.departements.includes(p.departement))
      .sort((a, b) => a.name.localeCompare(b.name, 'fr'));
    if (!ctx.current()) return;
    specs.push({
      name: 'porteur_id', label: 'Porteur', type: 'select', empty: 'Tous les porteurs',
      options: Object.fromEntries(porteurs.map((p) => [String(p.id), `${p.name} (${p.departement})`])),
    });
  }
  const form = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Période et périmètre des indicateurs', novalidate: true },
    ...specs.map((sp) => field(sp, filters[sp.name])),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Afficher')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    if (f.get('from') && f.get('to') && f.get('to') < f.get('from')) {
      showError('Période', 'La fin de la période ne peut pas précéder son début.');
      form.querySelector('[name="to"]').focus();
      return;
    }
    ctx.go('/indicators', {
      from: f.get('from'),
      to: f.get('to'),
      departement: String(f.get('departement') || '').trim().toUpperCase(),
      porteur_id: f.get('porteur_id') || '',
    });
  });
  const quick = h('p', { class: 'periods' }, 'Période : ', periods().map((p, i) => [i ? ' · ' : '',
    h('a', {
      href: `#/indicators?${new URLSearchParams(Object.entries({ ...filters, from: p.from, to: p.to }).filter(([, v]) => v)).toString()}`,
      'aria-current': p.from === filters.from && p.to === filters.to ? 'true' : null,
    }, p.text)]));

  const results = h('div', { class: 'indicators-results' });
  ctx.el.append(
    h('h1', {}, 'Indicateurs'),
    h('p', { class: 'lead' }, me.role === 'porteur'
      ? 'Les chiffres de votre structure sur une période, pour le bilan : accompagnement, propositions, entrées, sorties, occupation.'
      : 'Les chiffres des porteurs sur une période, pour les bilans : accompagnement, propositions, entrées, sorties, occupation.'),
    form, quick, results);

  const query = {
    from: filters.from, to: filters.to, departement: filters.departement, porteur_id: filters.porteur_id,
  };
  let report;
  try {
    ({ data: report } = await api('GET', '/reports/indicators', { query }));
  } catch (e) {
    showProblem(e, 'Indicateurs');
    return;
  }
  if (!ctx.current()) return;
  const items = report.items;
  const csv = h('button', { type: 'button', class: 'download' }, 'Télécharger en CSV');
  csv.addEventListener('click', () => busy(csv, () => download(query, report, FORMATS.csv)));
  const xlsx = h('button', { type: 'button', class: 'download' }, 'Télécharger en XLSX');
  xlsx.addEventListener('click', () => busy(xlsx, () => download(query, report, FORMATS.xlsx)));
  append(results, [
    h('div', { class: 'results-head' },
      h('h2', { id: 'ind-results' }, `Du ${fr(report.from)} au ${fr(report.to)} : ${plural(items.length, 'porteur', 'porteurs')}`),
      items.length ? h('div', { class: 'downloads' }, xlsx, csv) : null),
    items.length ? h('p', { class: 'hint' }, 'Le classeur XLSX garde les départements en texte (« 09 ») et les dates en dates ; '
      + 'le fichier CSV (séparateur « ; », virgule décimale) s’ouvre tel quel dans un tableur.') : null]);
  if (!items.length) {
    results.append(h('p', {}, 'Aucun porteur dans ce périmètre.'));
    return;
  }
  results.append(chartSection(ctx, items), tableSection(items));
}

// ------------------------------------------------------------------ files (CSV, XLSX)

const FORMATS = {
  csv: { accept: 'text/csv', ext: 'csv', what: 'du CSV' },
  xlsx: { accept: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ext: 'xlsx', what: 'du classeur XLSX' },
};

async function download(query, report, format) {
  clearAlerts();
  let blob;
  try {
    blob = await apiBlob('/reports/indicators', { query, accept: format.accept });
  } catch (e) {
    showProblem(e, `Téléchargement ${format.what}`);
    return;
  }
  const name = ['indicateurs', query.departement, query.porteur_id ? `porteur-${query.porteur_id}` : '', report.from, report.to]
    .filter(Boolean).join('_');
  const href = URL.createObjectURL(blob);
  const a = h('a', { href, download: `${name}.${format.ext}`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  notify(`Fichier ${name}.${format.ext} téléchargé.`);
}

// ------------------------------------------------------------------ chart

const NAME_PX = 7.6; // mean width of a character of the chart's text, in px

function ratioText(it) {
  if (!it.target_youth) return `${plural(it.youth_accompanied, 'jeune', 'jeunes')} (pas d'objectif)`;
  return `${it.youth_accompanied} / ${it.target_youth} (${pct(it.youth_accompanied / it.target_youth)})`;
}

function shorten(text, chars) {
  if (text.length <= chars) return text;
  return `${text.slice(0, Math.max(1, chars - 1)).trimEnd()}…`;
}

// A scale's end: 1, 2 or 5 × a power of ten, at least max.
function niceMax(max) {
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((k) => k * p).find((v) => v >= max);
}

function drawChart(items, width) {
  const pad = 4;
  const nameH = 20;
  const barH = 18;
  const gap = 16;
  const rowH = nameH + barH + gap;
  const axisH = 22;
  const height = items.length * rowH + axisH;
  const x0 = pad;
  const x1 = width - pad;
  const max = niceMax(Math.max(1, ...items.map((it) => Math.max(it.youth_accompanied, it.target_youth || 0))));
  const x = (v) => x0 + ((x1 - x0) * v) / max;
  const desc = items.map((it) => `${it.name} : ${plural(it.youth_accompanied, 'jeune accompagné', 'jeunes accompagnés')}`
    + (it.target_youth ? ` pour un objectif de ${it.target_youth} (${pct(it.youth_accompanied / it.target_youth)}).` : ", sans objectif fixé.")).join(' ');
  const svg = s('svg', {
    class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
  },
  s('title', { id: 'chart-title' }, 'Jeunes accompagnés et objectif, par porteur'),
  s('desc', { id: 'chart-desc' }, desc));
  // the scale's values at every quarter, under the bars
  const quarters = [0, 1, 2, 3, 4].map((k) => (max * k) / 4);
  svg.append(s('g', { class: 'grid', 'aria-hidden': 'true' }, quarters.map((v, k) => s('text', {
    x: x(v), y: height - 6, 'text-anchor': k === 0 ? 'start' : k === 4 ? 'end' : 'middle',
  }, num(v)))));
  items.forEach((it, i) => {
    const top = i * rowH;
    const value = ratioText(it);
    const room = Math.floor((x1 - x0 - value.length * NAME_PX - 12) / NAME_PX);
    const reached = it.target_youth > 0 && it.youth_accompanied >= it.target_youth;
    const g = s('g', { class: 'chart-row', dataset: { porteurId: it.porteur_id } },
      s('text', { class: 'chart-name', x: x0, y: top + 14 }, shorten(it.name, Math.max(8, room))),
      s('text', { class: 'chart-value', x: x1, y: top + 14, 'text-anchor': 'end' }, value),
      s('rect', { class: 'bar-track', x: x0, y: top + nameH, width: x1 - x0, height: barH, rx: 3 }),
      s('rect', {
        class: reached ? 'bar bar-reached' : 'bar',
        x: x0,
        y: top + nameH,
        width: Math.max(it.youth_accompanied ? 3 : 0, x(it.youth_accompanied) - x0),
        height: barH,
        rx: 3,
        dataset: { value: it.youth_accompanied, target: it.target_youth },
      }),
      // the quarters of the scale, across the bar only (never through the names)
      s('g', { class: 'grid', 'aria-hidden': 'true' }, quarters.slice(1, 4).map((v) => s('line', {
        x1: x(v), x2: x(v), y1: top + nameH, y2: top + nameH + barH,
      }))));
    if (it.target_youth > 0) {
      const tx = Math.min(x(it.target_youth), x1 - 1.5);
      g.append(s('line', { class: 'target', x1: tx, x2: tx, y1: top + nameH - 4, y2: top + nameH + barH + 4 }));
    }
    svg.append(g);
  });
  return svg;
}

function chartSection(ctx, items) {
  const box = h('div', { class: 'chart-box' });
  const section = h('section', { class: 'card chart-card', 'aria-labelledby': 'chart-h' },
    h('h3', { id: 'chart-h' }, 'Jeunes accompagnés par rapport à l’objectif'),
    box,
    h('ul', { class: 'chart-legend', 'aria-label': 'Légende du graphique' },
      h('li', {}, h('span', { class: 'key key-bar', 'aria-hidden': 'true' }), 'jeunes accompagnés sur la période'),
      h('li', {}, h('span', { class: 'key key-reached', 'aria-hidden': 'true' }), 'objectif atteint'),
      h('li', {}, h('span', { class: 'key key-target', 'aria-hidden': 'true' }), 'objectif du porteur')));
  // drawn at the width it has, again when that changes (a phone turned, a window resized)
  let drawn = 0;
  const draw = () => {
    const w = Math.floor(box.clientWidth);
    if (w > 0 && Math.abs(w - drawn) > 1) {
      drawn = w;
      box.replaceChildren(drawChart(items, w));
    }
  };
  const ro = new ResizeObserver(() => {
    if (!ctx.current() || !box.isConnected) {
      ro.disconnect();
      return;
    }
    draw();
  });
  ro.observe(box);
  return section;
}

// ------------------------------------------------------------------ table

function breakdown(obj, labels) {
  const entries = Object.entries(obj || {}).filter(([, n]) => n > 0);
  if (!entries.length) return '—';
  entries.sort((a, b) => Object.keys(labels).indexOf(a[0]) - Object.keys(labels).indexOf(b[0]));
  return h('ul', { class: 'breakdown' }, entries.map(([k, n]) => h('li', {}, `${label(labels, k)} : `, h('strong', {}, num(n)))));
}

function small(text) {
  return h('span', { class: 'sub' }, text);
}

// Two tables, so that every column fits a laptop's width: what happened
// with the proposals and entries, then the exits, stays and occupancy.
const TABLES = [
  {
    key: 'activity',
    title: 'Accompagnement, propositions et entrées',
    columns: [
      { key: 'accompanied', head: 'Jeunes accompagnés / objectif' },
      { key: 'proposals', head: 'Propositions' },
      { key: 'acceptance', head: "Taux d'acceptation" },
      { key: 'refusals', head: 'Refus par motif' },
      { key: 'entries', head: 'Entrées' },
      { key: 'wait', head: 'Délai médian avant entrée' },
    ],
  },
  {
    key: 'outcomes',
    title: 'Sorties, durées et occupation',
    columns: [
      { key: 'exits', head: 'Sorties par destination' },
      { key: 'durable', head: 'Part vers le logement durable' },
      { key: 'length', head: 'Durée de séjour moyenne / médiane' },
      { key: 'cap', head: 'Séjours au plafond' },
      { key: 'occupancy', head: "Taux d'occupation" },
    ],
  },
  {
    key: 'answers',
    title: 'Réponses aux propositions et fraîcheur des offres',
    columns: [
      { key: 'refusedByYouth', head: 'Refus du ou de la jeune' },
      { key: 'refusedByPorteur', head: 'Refus du porteur' },
      { key: 'answerDelay', head: 'Délai médian de réponse' },
      { key: 'fresh', head: 'Offres confirmées à temps' },
    ],
  },
];

function days(v) {
  return v === null || v === undefined ? '—' : `${num(v)} j`;
}

function cells(it) {
  return {
    accompanied: [h('strong', {}, num(it.youth_accompanied)), ` / ${num(it.target_youth)}`,
      it.target_youth ? small(` (${pct(it.youth_accompanied / it.target_youth)})`) : null],
    proposals: num(it.proposals),
    // the rate is over the porteur's answers, accepted / (accepted + refused);
    // the proposals still waiting for an answer are counted apart
    acceptance: [pct(it.acceptance_rate), it.accepted + it.refused
      ? small(` (${plural(it.accepted, 'acceptée', 'acceptées')} sur ${plural(it.accepted + it.refused, 'réponse', 'réponses')})`) : null,
    it.pending ? small(` · ${plural(it.pending, 'proposition en attente', 'propositions en attente')}`) : null],
    refusals: breakdown(it.refusals, REFUSAL_REASONS),
    entries: num(it.entries),
    exits: [h('strong', {}, num(it.exits)), it.exits ? breakdown(it.exits_by_destination, DESTINATIONS) : null],
    durable: pct(it.durable_share),
    length: `${days(it.mean_stay_days)} / ${days(it.median_stay_days)}`,
    cap: num(it.stays_to_cap),
    occupancy: [pct(it.occupancy_rate), it.place_days_capacity
      ? small(` (${num(it.place_days_held)} sur ${num(it.place_days_capacity)} jours-places)`) : null],
    wait: days(it.median_days_to_entry),
    refusedByYouth: breakdown((it.refusals_by_side || {}).youth, REFUSAL_REASONS),
    refusedByPorteur: breakdown((it.refusals_by_side || {}).porteur, REFUSAL_REASONS),
    answerDelay: it.median_hours_to_answer === null || it.median_hours_to_answer === undefined
      ? '—' : `${num(it.median_hours_to_answer)} h`,
    fresh: [pct(it.confirmed_in_time_share), it.offers_open
      ? small(` (${num(it.offers_confirmed_in_time)} sur ${plural(it.offers_open, 'offre ouverte', 'offres ouvertes')})`) : null],
  };
}

function addInto(o, counts) {
  for (const [c, n] of Object.entries(counts || {})) o[c] = (o[c] || 0) + n;
  return o;
}

// The row "Ensemble": the sums, and the rates of the sums (a median does not add up).
function totals(items) {
  const sum = (k) => items.reduce((n, it) => n + (it[k] || 0), 0);
  const merge = (k) => items.reduce((o, it) => {
    for (const [c, n] of Object.entries(it[k] || {})) o[c] = (o[c] || 0) + n;
    return o;
  }, {});
  const ratio = (a, b) => (b ? a / b : null);
  const exits = sum('exits');
  const byDest = merge('exits_by_destination');
  const lengthSum = items.reduce((n, it) => n + (it.mean_stay_days || 0) * it.exits, 0);
  return {
    youth_accompanied: sum('youth_accompanied'),
    target_youth: sum('target_youth'),
    proposals: sum('proposals'),
    accepted: sum('accepted'),
    refused: sum('refused'),
    pending: sum('pending'),
    acceptance_rate: ratio(sum('accepted'), sum('accepted') + sum('refused')),
    refusals: merge('refusals'),
    entries: sum('entries'),
    exits,
    exits_by_destination: byDest,
    durable_share: ratio(byDest.durable_housing || 0, exits),
    mean_stay_days: exits ? Math.round((lengthSum / exits) * 10) / 10 : null,
    median_stay_days: null,
    stays_to_cap: sum('stays_to_cap'),
    place_days_held: sum('place_days_held'),
    place_days_capacity: sum('place_days_capacity'),
    occupancy_rate: ratio(sum('place_days_held'), sum('place_days_capacity')),
    median_days_to_entry: null,
    refusals_by_side: {
      youth: items.reduce((o, it) => addInto(o, (it.refusals_by_side || {}).youth), {}),
      porteur: items.reduce((o, it) => addInto(o, (it.refusals_by_side || {}).porteur), {}),
    },
    median_hours_to_answer: null,
    offers_open: sum('offers_open'),
    offers_confirmed_in_time: sum('offers_confirmed_in_time'),
    confirmed_in_time_share: ratio(sum('offers_confirmed_in_time'), sum('offers_open')),
  };
}

function row(it, head, columns, attrs) {
  const c = cells(it);
  return h('tr', attrs,
    h('th', { scope: 'row', dataset: { label: 'Porteur' } }, head),
    columns.map((col) => h('td', { class: `c-${col.key}`, dataset: { label: col.head } }, h('div', { class: 'cell' }, c[col.key]))));
}

function porteurHead(it) {
  return [h('strong', {}, it.name || porteurName(it.porteur_id)), small(` (${it.departement})`)];
}

function tableSection(items) {
  const total = items.length > 1 ? totals(items) : null;
  return h('section', { class: 'indicators-tables', 'aria-labelledby': 'table-h' },
    h('h3', { id: 'table-h', class: 'visually-hidden' }, 'Tous les chiffres'),
    TABLES.map((t) => h('div', { class: 'table-wrap' }, h('table', { class: ['stack', 'indicators', `ind-${t.key}`] },
      h('caption', {}, t.title),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Porteur'), t.columns.map((col) => h('th', { scope: 'col' }, col.head)))),
      h('tbody', {}, items.map((it) => row(it, porteurHead(it), t.columns, { dataset: { porteurId: it.porteur_id } }))),
      total
        ? h('tfoot', {}, row(total, [h('strong', {}, 'Ensemble'), small(' (somme des porteurs)')], t.columns, { class: 'total' }))
        : null))),
    h('p', { class: 'hint' },
      'Jeunes accompagnés : jeunes dont un séjour chez le porteur couvre une partie de la période. '
      + 'Propositions : faites pendant la période. Délai avant entrée : de l’inscription à la première entrée chez le porteur. '
      + 'Sorties et durées : séjours terminés pendant la période. '
      + 'Ligne « Ensemble » : un ou une jeune passé·e chez deux porteurs y compte deux fois ; pas de médiane.'));
}
