// Dashboard: users by status, the access requests waiting, sign-ins per
// day for the last 14 days, the usage analytics (active users, sign-ins per
// day and per client, tokens by grant type over a chosen range) and the
// latest audit events — each panel only for those whose permissions cover
// it. The figures come from one call to /stats (users:read); only the list
// of requests and the activity feed read their own endpoints, and a new
// usage range asks /stats again.
import { h, s, ago, uid, replace } from '../dom.js';
import { get } from '../api.js';
import { pageHeader, statusBadge, load, table, empty } from '../ui.js';
import { base } from '../auth.js';
import { people } from '../people.js';

const statuses = ['active', 'pending', 'locked', 'disabled', 'expired'];
const days = 14;
// The days of /stats are UTC dates; they are labelled as such, so that a
// day's bar does not shift with the viewer's time zone.
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export async function render(main, ctx) {
  main.append(pageHeader('Dashboard', 'How gatehouse is used, and what waits for you.'));
  const grid = h('div', { class: 'dash' });
  main.append(grid);
  const panel = (id, title, wide) => {
    const body = h('div');
    grid.append(h('section', { class: ['panel', wide && 'wide'], 'aria-labelledby': id }, h('h2', { id }, title), body));
    return body;
  };
  // One request for every panel that shows figures; each panel's Retry
  // asks again.
  let stats = null;
  const figures = () => {
    if (!stats) stats = get('/stats').catch((e) => { stats = null; throw e; });
    return stats;
  };
  const counts = ctx.can('users:read');
  if (counts) load(panel('d-users', 'Users by status', true), () => usersByStatus(figures));
  if (counts || ctx.can('audit:read')) load(panel('d-signins', 'Sign-ins, last 14 days'), () => signIns(counts ? figures : auditDays));
  if (ctx.can('access-requests:review')) load(panel('d-requests', 'Access requests'), () => pending(ctx, counts ? figures : null));
  if (counts) usagePanel(grid, figures);
  if (ctx.can('audit:read')) load(panel('d-audit', 'Recent activity', true), () => recent(ctx));
}

// The ranges the usage panel offers (/stats takes 1 to 90 days).
const usageRanges = [7, 30, 90];
const numFmt = new Intl.NumberFormat();

// usagePanel shows the usage analytics of /stats: first those of the
// dashboard's one request (30 days), then of the range chosen.
function usagePanel(grid, figures) {
  const id = 'd-usage';
  const title = h('h2', { id }, 'Usage, last 30 days');
  const rangeId = uid('usage-range');
  const range = h('select', { id: rangeId, name: 'days' }, usageRanges.map((n) => h('option', { value: String(n), selected: n === 30 }, `${n} days`)));
  const body = h('div', { class: 'usage' });
  grid.append(h('section', { class: ['panel', 'wide'], 'aria-labelledby': id },
    h('div', { class: 'panel-head' }, title,
      h('div', { class: 'field inline' }, h('label', { for: rangeId }, 'Range'), range)),
    body));
  let shown = null;
  const show = (fetch) => load(body, async () => {
    const { usage } = await fetch();
    title.textContent = `Usage, last ${usage.days} days`;
    shown = usage;
    return usageFigures(usage);
  });
  range.addEventListener('change', () => show(() => get('/stats', { days: range.value })));
  show(figures);
  // The day chart is drawn for the width it is shown at: drawn again
  // when the layout switches (a phone turned), until the view is left.
  const narrow = matchMedia('(max-width: 56rem)');
  const redraw = () => {
    if (!body.isConnected) narrow.removeEventListener('change', redraw);
    else if (shown) replace(body, usageFigures(shown));
  };
  narrow.addEventListener('change', redraw);
}

// usageFigures lays out one range's figures, each under its own heading;
// every bar has its number beside it in text.
function usageFigures(u) {
  const n = (v) => numFmt.format(v);
  const active = h('ul', { class: 'stats', 'aria-label': 'Active users' },
    h('li', { class: 'stat' }, h('span', { class: 'n' }, n(u.active_users.last_7_days)), h('span', { class: 'k' }, 'active users, last 7 days')),
    h('li', { class: 'stat' }, h('span', { class: 'n' }, n(u.active_users.last_30_days)), h('span', { class: 'k' }, 'active users, last 30 days')));
  const clients = u.clients.length
    ? barTable('Sign-ins per client', ['Client', 'Sign-ins'], u.clients.map((c) => ({
      label: [c.name || c.client_id, c.name ? h('span', { class: 'sub' }, c.client_id) : h('span', { class: 'sub' }, 'deleted client')],
      count: c.sign_ins,
    })))
    : empty('No sign-ins to clients in this range.');
  const tokens = u.tokens_by_grant_type.length
    ? barTable('Tokens issued by grant type', ['Grant type', 'Tokens'], u.tokens_by_grant_type.map((t) => ({
      label: h('code', {}, t.grant_type), count: t.count,
    })))
    : empty('No tokens issued in this range.');
  const total = u.sign_ins;
  return [
    h('h3', {}, 'Active users'), active,
    h('h3', {}, 'Sign-ins per day'),
    chart(u.sign_ins_per_day, `Sign-ins per UTC day, ${u.from} to ${u.to}`, { wide: true }),
    h('p', { class: 'hint usage-total' }, `${n(total)} sign-in${total === 1 ? '' : 's'} in ${u.days} day${u.days === 1 ? '' : 's'} (UTC dates, counted every few seconds).`),
    h('div', { class: 'usage-cols' },
      h('div', {}, h('h3', {}, 'Sign-ins per client'), clients),
      h('div', {}, h('h3', {}, 'Tokens issued by grant type'), tokens)),
  ];
}

// barTable is a table of labelled counts, the largest first, each with a
// bar drawn in CSS. The bar is decoration (aria-hidden): the count is in
// the cell as text, so screen readers and narrow screens lose nothing.
function barTable(caption, columns, rows) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return table({
    caption,
    columns,
    rows: rows.map((r) => {
      const bar = h('span', { class: 'bar' });
      // CSSOM, not a style attribute: the CSP allows no inline styles.
      bar.style.width = `${Math.max(2, Math.round((100 * r.count) / max))}%`;
      return [r.label, h('span', { class: 'count-bar' }, h('span', { class: 'count' }, numFmt.format(r.count)), h('span', { class: 'track', 'aria-hidden': 'true' }, bar))];
    }),
  });
}

async function usersByStatus(figures) {
  const { users } = await figures();
  return h('ul', { class: 'stats', 'aria-label': 'Users by status' }, statuses.map((st) => h('li', { class: 'stat' },
    h('a', { href: `${base}/console/users?status=${st}` },
      h('span', { class: 'n' }, String(users[st] ?? 0)), h('span', { class: 'k' }, statusBadge(st))))));
}

async function pending(ctx, figures) {
  const [page, st] = await Promise.all([get('/access-requests', { status: 'pending', limit: 100 }), figures ? figures() : null]);
  // /stats counts the whole queue; without it, one page is counted.
  const n = st ? String(st.pending_access_requests) : page.next_cursor ? '100+' : String(page.items.length);
  const who = people(ctx);
  await who.resolve(page.items.slice(0, 5).map((r) => r.user_id));
  return [
    h('p', { class: 'big-number' }, h('span', { class: 'n' }, n), ` waiting for a decision`),
    page.items.length ? h('ul', { class: 'feed' }, page.items.slice(0, 5).map((r) => h('li', {},
      h('strong', {}, who.name(r.user_id)), h('span', {}, ` asks for ${r.requested_role}`), h('span', { class: 'when' }, ago(r.created_at))))) : null,
    h('p', {}, h('a', { href: `${base}/console/access-requests` }, page.items.length ? 'Review the queue' : 'Open access requests')),
  ];
}

// signIns draws the sign-ins per UTC day, oldest first, from figures: /stats,
// or for those who may read the audit log but not /stats, that log.
async function signIns(figures) {
  const { sign_ins_per_day: perDay, capped } = await figures();
  const total = perDay.reduce((a, d) => a + d.count, 0);
  return [chart(perDay), h('p', { class: 'hint' }, capped ? `At least ${total} sign-ins (the latest 2,000 counted).` : `${total} sign-in${total === 1 ? '' : 's'} in 14 days (UTC dates).`)];
}

// auditDays counts login.success entries of the audit log by UTC day, in
// the shape of /stats; the log is read newest first, at most ten pages.
async function auditDays() {
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const start = new Date(today.getTime() - (days - 1) * 86400000);
  const perDay = Array.from({ length: days }, (_, i) => ({ date: new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10), count: 0 }));
  let cursor;
  let capped = false;
  for (let pageNo = 0; ; pageNo += 1) {
    const page = await get('/audit', { action: 'login.success', since: start.toISOString(), limit: 200, cursor });
    for (const e of page.items) {
      const i = Math.floor((new Date(e.at) - start) / 86400000);
      if (i >= 0 && i < days) perDay[i].count += 1;
    }
    cursor = page.next_cursor;
    if (!cursor) break;
    if (pageNo >= 9) { capped = true; break; }
  }
  return { sign_ins_per_day: perDay, capped };
}

// chart draws the counts as bars in inline SVG, with a table-like text
// alternative for screen readers (its accessible name lists every day).
// wide draws it for a panel across the grid.
function chart(perDay, name = 'Sign-ins per UTC day for the last 14 days', { wide = false } = {}) {
  const counts = perDay.map((d) => d.count);
  const day = (i) => dayFmt.format(new Date(`${perDay[i].date}T00:00:00Z`));
  // Drawn at about the size it is shown, so the labels stay readable.
  const narrow = matchMedia('(max-width: 56rem)').matches;
  const w = narrow ? 320 : wide ? 860 : 420;
  // A date label on every n-th day, today's always; more days, fewer labels.
  const every = Math.max(narrow ? 3 : 2, Math.ceil(perDay.length / (narrow ? 5 : 8)));
  const hgt = 150;
  const pad = { l: 26, r: 6, t: 14, b: 22 };
  const max = Math.max(1, ...counts);
  const step = (w - pad.l - pad.r) / counts.length;
  const bw = Math.max(4, step * 0.62);
  const y = (v) => pad.t + (hgt - pad.t - pad.b) * (1 - v / max);
  const label = counts.map((c, i) => `${day(i)}: ${c}`).join(', ');
  const nodes = [
    s('title', { text: `Sign-ins per day. ${label}` }),
    s('line', { class: 'gridline', x1: pad.l, x2: w - pad.r, y1: y(max), y2: y(max) }),
    s('line', { class: 'gridline', x1: pad.l, x2: w - pad.r, y1: y(0), y2: y(0) }),
    s('text', { class: 'axis', x: pad.l - 6, y: y(max) + 3, 'text-anchor': 'end', text: String(max) }),
    s('text', { class: 'axis', x: pad.l - 6, y: y(0) + 3, 'text-anchor': 'end', text: '0' }),
  ];
  counts.forEach((c, i) => {
    const x = pad.l + i * step + (step - bw) / 2;
    const top = c ? y(c) : y(0) - 2;
    nodes.push(s('rect', { class: c ? 'bar' : 'bar zero', x: x.toFixed(1), y: top.toFixed(1), width: bw.toFixed(1), height: (y(0) - top).toFixed(1), rx: 2 }));
    // The values over the bars only while they fit.
    if (c && step >= 12) nodes.push(s('text', { class: 'val', x: (x + bw / 2).toFixed(1), y: (top - 3).toFixed(1), 'text-anchor': 'middle', text: String(c) }));
    if ((counts.length - 1 - i) % every === 0) {
      // The last label ends at its bar when centring it would cut it off.
      const last = i === counts.length - 1 && x + bw / 2 + 16 > w;
      nodes.push(s('text', { class: 'axis', x: (last ? x + bw : x + bw / 2).toFixed(1), y: hgt - 6, 'text-anchor': last ? 'end' : 'middle', text: day(i) }));
    }
  });
  return s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `${name}: ${label}` }, nodes);
}

async function recent(ctx) {
  const page = await get('/audit', { limit: 10 });
  if (!page.items.length) return h('p', { class: 'hint' }, 'Nothing has happened yet.');
  const who = people(ctx);
  await who.resolve(page.items.flatMap((e) => [e.actor_type === 'user' ? e.actor_id : '', e.target_type === 'user' ? e.target_id : '']));
  const target = (e) => {
    if (!e.target_type) return null;
    if (e.target_type === 'user' && who.get(e.target_id)) return `${e.target_type} ${who.name(e.target_id)}`;
    return `${e.target_type.replace(/_/g, ' ')} ${String(e.target_id || '').slice(0, 8)}`;
  };
  return [
    h('ul', { class: 'feed' }, page.items.map((e) => h('li', {},
      h('span', { class: 'feed-main' },
        h('strong', {}, e.actor_type === 'user' ? who.name(e.actor_id) : e.actor), ' ',
        h('code', {}, e.action), ' ',
        target(e) ? h('span', { class: 'hint' }, target(e)) : null),
      h('span', { class: 'when' }, ago(e.at))))),
    h('p', {}, h('a', { href: `${base}/console/audit` }, 'Open the audit log')),
  ];
}
