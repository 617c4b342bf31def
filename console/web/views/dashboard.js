// Dashboard: users by status, the access requests waiting, sign-ins per
// day for the last 14 days and the latest audit events — each panel only
// for those whose permissions cover it. The figures come from one call to
// /stats (users:read); only the list of requests and the activity feed
// read their own endpoints.
import { h, s, ago } from '../dom.js';
import { get } from '../api.js';
import { pageHeader, statusBadge, load } from '../ui.js';
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
  if (ctx.can('audit:read')) load(panel('d-audit', 'Recent activity', true), () => recent(ctx));
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
// alternative for screen readers.
function chart(perDay) {
  const counts = perDay.map((d) => d.count);
  const day = (i) => dayFmt.format(new Date(`${perDay[i].date}T00:00:00Z`));
  // Drawn at about the size it is shown, so the labels stay readable.
  const narrow = matchMedia('(max-width: 56rem)').matches;
  const w = narrow ? 320 : 420;
  const every = narrow ? 3 : 2; // a date label on every n-th day, today's always
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
    if (c) nodes.push(s('text', { class: 'val', x: (x + bw / 2).toFixed(1), y: (top - 3).toFixed(1), 'text-anchor': 'middle', text: String(c) }));
    if ((counts.length - 1 - i) % every === 0) {
      nodes.push(s('text', { class: 'axis', x: (x + bw / 2).toFixed(1), y: hgt - 6, 'text-anchor': 'middle', text: day(i) }));
    }
  });
  return s('svg', { class: 'chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `Sign-ins per UTC day for the last 14 days: ${label}` }, nodes);
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
