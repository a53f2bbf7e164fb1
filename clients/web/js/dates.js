// Dates are the API's YYYY-MM-DD strings; shown as DD/MM/YYYY.

function pad(n) {
  return String(n).padStart(2, '0');
}

export function isoOf(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function today() {
  return isoOf(new Date());
}

// Calendar arithmetic at noon, so that no daylight-saving change moves the day.
export function addDays(iso, n) {
  const [y, m, d] = iso.split('-').map(Number);
  const t = new Date(y, m - 1, d, 12);
  t.setDate(t.getDate() + n);
  return isoOf(t);
}

export function daysBetween(fromIso, toIso) {
  const a = new Date(`${fromIso}T12:00:00Z`), b = new Date(`${toIso}T12:00:00Z`);
  return Math.round((b - a) / 86400000);
}

export function fr(iso) {
  if (!iso) return '—';
  const [y, m, d] = String(iso).slice(0, 10).split('-');
  return `${d}/${m}/${y}`;
}

// Completed years, as PostgreSQL's age() counts them.
export function ageOn(birthIso, onIso) {
  if (!birthIso) return null;
  const [by, bm, bd] = birthIso.split('-').map(Number);
  const [y, m, d] = onIso.split('-').map(Number);
  let a = y - by;
  if (m < bm || (m === bm && d < bd)) a -= 1;
  return a;
}
