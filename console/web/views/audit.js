// Audit log: every change and sign-in, newest first, with filters and
// paging; each entry's before/after on demand.
import { h, replace, time } from '../dom.js';
import { get } from '../api.js';
import { badge, button, field, pageHeader, alertBox, table, tableRow } from '../ui.js';
import { people } from '../people.js';

// BREAK_GLASS is the audit action of a break-glass (emergency) sign-in.
const BREAK_GLASS = 'login.break_glass';

export async function render(main, ctx, params) {
  const actor = field({ label: 'Actor', name: 'actor', value: params.get('actor') || '', placeholder: 'user:<id>, client:<id>, system' });
  const action = field({ label: 'Action', name: 'action', value: params.get('action') || '', placeholder: 'user.update, login.success…' });
  const target = field({ label: 'Target', name: 'target', value: params.get('target') || '', placeholder: 'an id' });
  const since = field({ label: 'Since', name: 'since', type: 'date', value: params.get('since') || '' });
  const until = field({ label: 'Until', name: 'until', type: 'date', value: params.get('until') || '' });
  const fields = [actor, action, target, since, until];
  const apply = button('Apply filters', { kind: 'secondary', type: 'submit' });
  const columns = ['When', 'Actor', 'Action', 'Target', 'Address', 'Changes'];
  const grid = table({ caption: 'Audit entries', columns, rows: [] });
  const rows = grid.querySelector('tbody');
  const problem = h('div');
  const more = button('Load more', { kind: 'secondary', onClick: () => page(false) });
  more.hidden = true;
  const count = h('p', { role: 'status' });
  const who = people(ctx);
  let cursor = '';
  let seq = 0;
  let shown = 0;
  main.append(
    pageHeader('Audit log', 'Who did what, to which target, when and from where. The log is append-only.'),
    h('form', { class: 'toolbar', on: { submit: (ev) => { ev.preventDefault(); remember(); page(true); } } }, fields.map((f) => f.el), h('div', { class: 'field' }, apply)),
    problem,
    grid,
    h('div', { class: 'list-foot' }, count, more));

  function query() {
    const day = (v, end) => (v ? new Date(`${v}T${end ? '23:59:59.999' : '00:00:00'}`).toISOString() : '');
    return { actor: actor.value.trim(), action: action.value.trim(), target: target.value.trim(), since: day(since.value), until: day(until.value, true) };
  }

  function remember() {
    const q = new URLSearchParams();
    for (const f of fields) if (f.value.trim()) q.set(f.name, f.value.trim());
    history.replaceState(null, '', location.pathname + (q.toString() ? `?${q}` : ''));
  }

  async function page(fresh) {
    const mine = ++seq;
    for (const f of fields) f.clearError();
    replace(problem);
    if (fresh) { cursor = ''; shown = 0; replace(rows); }
    more.disabled = true;
    try {
      const p = await get('/audit', { ...query(), limit: 50, cursor: fresh ? '' : cursor });
      if (mine !== seq) return;
      await who.resolve(p.items.flatMap((e) => [e.actor_type === 'user' ? e.actor_id : '', e.target_type === 'user' ? e.target_id : '']));
      for (const e of p.items) {
        // A break-glass sign-in is the one entry nobody should miss: a
        // badge that says so in words (not a colour alone) and a marked row.
        const emergency = e.action === BREAK_GLASS;
        const row = tableRow(columns, [
          h('span', { class: 'nowrap' }, time(e.at)),
          [e.actor_type === 'user' ? h('span', {}, who.name(e.actor_id)) : e.actor, e.act ? h('span', { class: 'sub' }, `for ${e.act}`) : null],
          emergency ? [h('code', {}, e.action), ' ', badge('Emergency sign-in', 'alarm')] : h('code', {}, e.action),
          e.target_type ? [e.target_type.replace(/_/g, ' '), e.target_type === 'user' && who.get(e.target_id) ? ` ${who.name(e.target_id)}` : '',
            h('span', { class: 'sub mono' }, e.target_id || '')] : '—',
          e.ip_address || '—',
          e.changes ? h('details', {}, h('summary', {}, 'Show'), h('pre', { class: 'changes' }, JSON.stringify(e.changes, null, 2))) : '—',
        ]);
        if (emergency) row.classList.add('alarm');
        rows.append(row);
      }
      shown += p.items.length;
      cursor = p.next_cursor || '';
      more.hidden = !cursor;
      more.disabled = false;
      count.textContent = shown ? `Showing ${shown} entr${shown === 1 ? 'y' : 'ies'}.` : 'No entry matches these filters.';
    } catch (e) {
      if (mine !== seq) return;
      more.disabled = false;
      more.hidden = fresh || !cursor;
      const fe = e.fields || {};
      let placed = false;
      for (const f of fields) if (fe[f.name]) placed = f.setError(fe[f.name]) || placed;
      if (!placed) replace(problem, alertBox(e, () => page(fresh)));
    }
  }
  await page(true);
}
