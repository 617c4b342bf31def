// Users: a server-side search over the whole directory (one API call per
// pause in typing), filters, keyset paging, the users as cards, and the
// create/edit and delete dialogs.
import { h, replace, initials, hue, debounce, uid, ago, time } from '../dom.js';
import { api, get, post, put, del, enc, ApiError } from '../api.js';
import { button, field, formDialog, choose, notice, pageHeader, statusBadge, badge, alertBox, load, secretDialog } from '../ui.js';
import { impersonate, AuthError } from '../auth.js';
import { goalsEditor } from '../goals.js';

const pageSize = 24;
const statuses = ['active', 'pending', 'locked', 'disabled', 'expired'];

export async function render(main, ctx, params) {
  const state = { q: params.get('q') || '', status: params.get('status') || '', role: params.get('role') || '', group: params.get('group') || '' };
  const list = h('ul', { class: 'cards', 'aria-label': 'Users' });
  const status = h('p', { class: 'count', role: 'status' });
  const more = button('Load more', { kind: 'secondary', onClick: () => load(false) });
  more.hidden = true;
  const foot = h('div', { class: 'list-foot' }, status, more);
  const problem = h('div');
  let cursor = '';
  let seq = 0;
  let shown = 0;

  const create = ctx.can('users:write')
    ? button('Create user', { kind: 'primary', iconName: 'plus', onClick: () => userDialog(ctx, null, added) })
    : null;

  // A new user goes first, whatever the filters: the one just made is the
  // one to see.
  function added(u) {
    list.querySelector(':scope > li.empty')?.remove();
    list.prepend(card(ctx, u));
    shown += 1;
    count();
  }

  function count() {
    status.textContent = shown === 0 ? '' : `Showing ${shown} user${shown === 1 ? '' : 's'}${cursor ? '' : ', all that match'}.`;
  }

  const search = field({ label: 'Search', name: 'q', type: 'search', value: state.q, placeholder: 'Username, email or name' });
  search.el.classList.add('search');
  search.input.autocomplete = 'off';
  const statusSel = field({ label: 'Status', name: 'status', value: state.status, options: [{ value: '', label: 'Any status' }, ...statuses] });
  const roleSel = field({ label: 'Role', name: 'role', value: state.role, options: [{ value: '', label: 'Any role' }, ...ctx.roles.map((r) => r.name)] });
  const groupSel = field({ label: 'Group', name: 'group', value: state.group, options: [{ value: '', label: 'Any group' }] });

  main.append(
    pageHeader('Users', 'Everyone who can sign in to gatehouse: search, filter, and change what they may do.', create),
    h('form', { class: 'toolbar', role: 'search', on: { submit: (ev) => { ev.preventDefault(); reset(); } } },
      search.el, statusSel.el, roleSel.el, groupSel.el),
    problem, list, foot);

  get('/groups', { limit: 200 }).then((page) => {
    for (const g of page.items) groupSel.input.append(h('option', { value: g.name, selected: g.name === state.group }, g.name));
  }).catch(() => { groupSel.el.hidden = true; });

  // The address keeps the filters, so a reload or a shared link shows
  // the same list.
  function remember() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
    const qs = q.toString();
    history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
  }

  function reset() {
    state.q = search.value.trim();
    state.status = statusSel.value;
    state.role = roleSel.value;
    state.group = groupSel.value;
    remember();
    load(true);
  }

  async function load(fresh) {
    const mine = ++seq;
    if (fresh) { cursor = ''; shown = 0; replace(list); }
    replace(problem);
    more.disabled = true;
    status.textContent = 'Loading…';
    try {
      const page = await get('/users', { ...state, limit: pageSize, cursor: fresh ? '' : cursor });
      if (mine !== seq) return; // a newer search answered first
      for (const u of page.items) list.append(card(ctx, u));
      shown += page.items.length;
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
      more.disabled = false;
      count();
      if (shown === 0) list.append(h('li', { class: 'empty' }, state.q || state.status || state.role || state.group ? 'No user matches these filters.' : 'No users yet.'));
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = '';
      more.disabled = false;
      more.hidden = fresh || !cursor;
      replace(problem, alertBox(e, () => load(fresh)));
    }
  }

  search.input.addEventListener('input', debounce(reset, 300));
  for (const sel of [statusSel, roleSel, groupSel]) sel.input.addEventListener('change', reset);
  await load(true);
}

// impersonateUser obtains a token that acts as user (token exchange),
// checks it by reading the account as the API sees it through that token,
// and shows it once. Every change made with it is audited under the user,
// with the signed-in person recorded beside it.
async function impersonateUser(b, li, user) {
  b.disabled = true;
  try {
    const { token, expiresAt } = await impersonate(user.id);
    const seen = (await api('GET', '/users/me', { token })).data;
    secretDialog({
      title: `Acting as ${seen.username}`,
      label: 'Access token',
      secret: token,
      note: `This token acts as ${seen.username} (${seen.email}) until ${new Date(expiresAt).toLocaleTimeString()}, with no refresh. Everything done with it is audited under ${seen.username}, naming you as the one acting.`,
    });
  } catch (e) {
    li.append(alertBox(e instanceof AuthError ? new ApiError(0, { title: 'Impersonation refused', detail: e.message }) : e));
  } finally {
    b.disabled = false;
  }
}

// card is one user as a list item: who, status, roles, the first three
// goals and how many more, and what the viewer may do.
function card(ctx, u) {
  const titleId = uid('user');
  const li = h('li', { class: 'card', dataset: { id: u.id } });
  const draw = (user) => {
    const goals = user.goals || [];
    const roles = user.roles || [];
    // Time-boxed grants: the role says until when, in words and in a
    // <time> with the instant.
    const until = Object.fromEntries((user.role_grants || []).filter((g) => g.expires_at).map((g) => [g.role, g.expires_at]));
    const roleBadge = (r) => (until[r] ? badge([r, ' until ', time(until[r])], 'timed') : badge(r));
    const actions = [];
    const describe = { 'aria-describedby': titleId };
    const may = ctx.mayActOn(user);
    if (ctx.can('users:write') && (may || user.id === ctx.me.id)) {
      actions.push(button('Edit', { small: true, iconName: 'edit', attrs: describe, onClick: () => userDialog(ctx, user, draw) }));
    }
    if (may && ctx.can('users:status') && ['active', 'locked', 'disabled'].includes(user.status)) {
      const locking = user.status === 'active';
      const label = { active: 'Lock', locked: 'Unlock', disabled: 'Enable' }[user.status];
      actions.push(button(label, {
        small: true, iconName: locking ? 'lock' : 'unlock', attrs: describe,
        onClick: async (ev) => {
          const b = ev.currentTarget;
          b.disabled = true;
          try {
            draw(await put(`/users/${enc(user.id)}/status`, { status: locking ? 'locked' : 'active' }));
            notice(`${user.username} is ${locking ? 'locked' : 'active again'}.`);
            li.querySelector('button')?.focus();
          } catch (e) {
            b.disabled = false;
            li.append(alertBox(e));
          }
        },
      }));
    }
    if (may && ctx.can('users:impersonate') && user.status === 'active' && user.id !== ctx.me.id) {
      actions.push(button('Impersonate', { small: true, iconName: 'users', attrs: describe, onClick: (ev) => impersonateUser(ev.currentTarget, li, user) }));
    }
    if (may && ((ctx.canAny('users:write', 'users:status') && user.status !== 'disabled') || ctx.can('users:delete'))) {
      actions.push(button('Delete', { small: true, kind: 'danger-soft', iconName: 'trash', attrs: describe, onClick: () => deleteDialog(ctx, user, draw, () => { li.remove(); }) }));
    }
    replace(li,
      h('div', { class: 'card-head' },
        h('span', { class: ['avatar', `h${hue(user.username)}`], 'aria-hidden': 'true' }, initials(user.full_name || user.username)),
        h('div', { class: 'card-title' },
          h('h2', { id: titleId }, user.username),
          user.full_name ? h('p', { class: 'card-sub', title: user.full_name }, user.full_name) : null,
          h('p', { class: 'card-sub', title: user.email }, user.email)),
        statusBadge(user.status)),
      h('div', { class: 'card-meta' },
        h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Roles'),
          h('span', { class: 'v' }, roles.length ? h('ul', { class: 'tags', 'aria-label': 'Roles' }, roles.map((r) => h('li', {}, roleBadge(r)))) : h('span', { class: 'hint' }, 'No role yet'))),
        h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Goals'),
          h('span', { class: 'v' }, goals.length
            ? h('ul', { class: 'tags', 'aria-label': 'Goals' }, goals.slice(0, 3).map((g) => h('li', {}, badge(g, 'goal'))),
              goals.length > 3 ? h('li', { class: 'more' }, `+${goals.length - 3} more`) : null)
            : h('span', { class: 'hint' }, 'None'))),
        user.department ? h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Dept.'), h('span', { class: 'v' }, user.department)) : null,
        h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Seen'), h('span', { class: 'v' }, user.last_login_at ? ago(user.last_login_at) : 'never signed in'))),
      actions.length ? h('div', { class: 'card-actions' }, actions)
        : !may && user.id !== ctx.me.id && ctx.canAny('users:write', 'users:status') ? h('p', { class: 'card-actions hint' }, 'Holds permissions you do not have.') : null);
  };
  draw(u);
  return li;
}

// roleOptions are the roles a person may grant, for the Role field.
function roleOptions(ctx) {
  return [{ value: '', label: 'No role (pending)' }, ...ctx.roles.map((r) => ({ value: r.name, label: r.description ? `${r.name} — ${r.description.replace(/\.$/, '')}` : r.name }))];
}

// userDialog creates (user null) or edits a user. done receives the saved
// user as the API shows it.
async function userDialog(ctx, user, done) {
  let current = user;
  let etag = null;
  if (user) {
    // The freshest copy, and its version for If-Match when the API has one.
    try {
      const resp = await api('GET', `/users/${enc(user.id)}`);
      current = resp.data;
      etag = resp.headers.get('ETag');
    } catch (e) {
      notice(`The user could not be loaded: ${e.message}`);
      return;
    }
  }
  const editing = Boolean(current);
  // The IP rules are their own resource; without them (an older server,
  // or no permission to read them) the dialog goes without the editor.
  let rules = null;
  if (editing) {
    try {
      rules = await get(`/users/${enc(current.id)}/ip-rules`);
    } catch {
      rules = null;
    }
  }
  const username = field({ label: 'Username', name: 'username', value: current?.username, required: true, autocomplete: 'off', hint: '3–50 lowercase letters, digits, ".", "_" or "-".' });
  username.conflict = true;
  const email = field({ label: 'Email', name: 'email', type: 'email', value: current?.email, required: true, autocomplete: 'off' });
  const password = field({
    label: 'Password', name: 'password', type: 'password', required: !editing, autocomplete: 'new-password',
    hint: editing ? 'Leave empty to keep the current password.' : 'At least 8 characters, not the username or email.',
  });
  const fullName = field({ label: 'Full name', name: 'full_name', value: current?.full_name, autocomplete: 'off' });
  const department = field({ label: 'Department', name: 'department', value: current?.department, autocomplete: 'off' });
  const mayGrant = ctx.can('users:roles');
  const firstRole = current ? (current.roles || [])[0] || '' : 'user';
  const role = field({ label: 'Role', name: 'roles', value: firstRole, options: roleOptions(ctx), hint: current && (current.roles || []).length > 1 ? `Also holds ${current.roles.slice(1).join(', ')}; those stay.` : undefined });
  role.aliases = ['role'];
  const goals = goalsEditor({ goals: current?.goals || [], roles: () => (mayGrant ? [role.value] : current?.roles || []).filter(Boolean) });
  if (mayGrant) role.input.addEventListener('change', () => goals.refresh());
  for (const f of [username, email, fullName, department]) f.el.classList.add('half');
  const security = editing ? accountSecurity(current, rules) : null;
  const fields = [username, email, password, fullName, department, ...(mayGrant ? [role] : []), goals, ...(security ? security.fields : [])];
  const extra = editing ? [membership(current), sessionsOf(ctx, current)] : [];

  formDialog({
    title: editing ? 'Edit user' : 'Create user',
    wide: true,
    fields,
    extra,
    submitLabel: 'Save',
    save: async () => {
      if (!editing) {
        const body = {
          username: username.value.trim(), email: email.value.trim(), password: password.value,
          full_name: fullName.value.trim(), department: department.value.trim(), goals: goals.value,
        };
        if (mayGrant && role.value) body.roles = [role.value];
        let created;
        try {
          created = await post('/users', body);
        } catch (e) {
          throw await explainConflict(e, body.username, username, email);
        }
        notice(`${created.username} was created.`);
        done(created);
        return true;
      }
      let saved = current;
      const patchBody = {};
      const changed = (k, v) => { if (JSON.stringify(v) !== JSON.stringify(current[k] ?? (Array.isArray(v) ? [] : ''))) patchBody[k] = v; };
      changed('username', username.value.trim());
      changed('email', email.value.trim());
      changed('full_name', fullName.value.trim());
      changed('department', department.value.trim());
      changed('goals', goals.value);
      if (security && security.sessionLimit() !== (current.session_limit ?? null)) patchBody.session_limit = security.sessionLimit();
      if (Object.keys(patchBody).length) {
        const headers = etag ? { 'If-Match': etag } : undefined;
        try {
          const resp = await api('PATCH', `/users/${enc(current.id)}`, { body: patchBody, headers });
          saved = resp.data;
          etag = resp.headers.get('ETag') || etag;
        } catch (e) {
          throw await explainConflict(e, patchBody.username, username, email);
        }
      }
      const roles = current.roles || [];
      if (mayGrant && role.value !== (roles[0] || '')) {
        const next = [role.value, ...roles.slice(1)].filter(Boolean);
        saved = await put(`/users/${enc(current.id)}/roles`, { roles: [...new Set(next)] });
      }
      if (password.value) await put(`/users/${enc(current.id)}/password`, { password: password.value });
      if (security) await security.saveRules(current.id);
      notice(`${saved.username} was saved.`);
      done(saved);
      return true;
    },
  });
}

// accountSecurity is the session limit and the IP rules of a user being
// edited: fields of the edit form, one rule per line. The API names a
// refused rule by its index (allow[2]); the form says which line.
function accountSecurity(user, rules) {
  const limit = field({
    label: 'Session limit', name: 'session_limit', type: 'number', inputmode: 'numeric',
    value: user.session_limit ?? '', hint: 'Most sign-in sessions at once; a new one ends the oldest. Empty: the server default; 0: no limit.',
  });
  limit.el.classList.add('half');
  const fields = [limit];
  let allow = null;
  let deny = null;
  if (rules) {
    allow = field({
      label: 'Allowed addresses', name: 'allow', rows: 3, value: (rules.allow || []).join('\n'), placeholder: '10.0.0.0/8',
      hint: 'One CIDR prefix or address per line, IPv4 or IPv6. Empty: every address not denied.',
    });
    deny = field({
      label: 'Denied addresses', name: 'deny', rows: 3, value: (rules.deny || []).join('\n'), placeholder: '203.0.113.7',
      hint: 'Sign-in, refresh and API tokens are refused from these, whatever is allowed.',
    });
    allow.el.classList.add('half');
    deny.el.classList.add('half');
    fields.push(allow, deny);
  }
  const lines = (f) => f.value.split('\n').map((l) => l.trim()).filter(Boolean);
  return {
    fields,
    sessionLimit() {
      const v = limit.value.trim();
      return v === '' ? null : Number(v);
    },
    async saveRules(id) {
      if (!rules) return;
      const next = { allow: lines(allow), deny: lines(deny) };
      if (JSON.stringify(next) === JSON.stringify({ allow: rules.allow || [], deny: rules.deny || [] })) return;
      try {
        rules = await put(`/users/${enc(id)}/ip-rules`, next);
      } catch (e) {
        if (!(e instanceof ApiError) || !e.problem.errors?.length) throw e;
        const errors = e.problem.errors.map((fe) => {
          const m = /^(allow|deny)\[(\d+)\]$/.exec(fe.field || '');
          return m ? { field: m[1], message: `line ${Number(m[2]) + 1} (${next[m[1]][Number(m[2])]}) ${fe.message}` } : fe;
        });
        throw new ApiError(e.status, { ...e.problem, errors });
      }
    },
  };
}

// membership says which groups the user is in (changed on Groups).
function membership(u) {
  return h('p', { class: 'hint' }, (u.groups || []).length
    ? `Member of ${u.groups.join(', ')}; their roles apply too. Change groups under Groups.`
    : 'Not in any group. Add people to groups under Groups.');
}

// sessionsOf lists the user's sign-in sessions, each with Revoke for
// those who may end them.
function sessionsOf(ctx, u) {
  const box = h('div');
  const titleId = uid('sessions');
  const draw = async () => {
    const page = await get(`/users/${enc(u.id)}/sessions`, { limit: 200 });
    if (!page.items.length) return h('p', { class: 'hint' }, 'Not signed in anywhere.');
    return h('ul', { class: 'rows', 'aria-labelledby': titleId }, page.items.map((s) => h('li', {},
      h('div', { class: 'row-main' }, h('strong', {}, s.ip_address || 'unknown address'),
        h('span', { class: 'row-sub' }, 'signed in ', time(s.auth_time, ago(s.auth_time)), ' · last seen ', time(s.last_seen_at, ago(s.last_seen_at)))),
      ctx.can('sessions:revoke') ? button('Revoke', {
        small: true, kind: 'danger-soft',
        onClick: async () => { await del(`/sessions/${enc(s.id)}`); notice('The session was revoked.'); load(box, draw); },
      }) : null)));
  };
  load(box, draw);
  return h('section', { class: 'dialog-section', 'aria-labelledby': titleId }, h('h3', { id: titleId }, 'Sessions'), box);
}

// explainConflict turns the API's 409 ("the username or email is already
// taken") into an error on the field that is taken, by looking the
// username up.
async function explainConflict(e, name, usernameField, emailField) {
  if (!(e instanceof ApiError) || e.status !== 409) return e;
  let takenName = Boolean(name);
  if (name) {
    try {
      const page = await get('/users', { q: name, limit: 50 });
      takenName = page.items.some((u) => u.username.toLowerCase() === name.toLowerCase());
    } catch {
      takenName = true;
    }
  }
  const target = takenName ? usernameField : emailField;
  const message = takenName ? 'This username is already taken.' : 'This email is already in use by another user.';
  return new ApiError(422, { title: 'Invalid input', detail: message, errors: [{ field: target.name, message }] });
}

// deleteDialog names the user and offers what the viewer may do: disable
// (a soft delete, reversible) and, for those allowed, delete permanently.
function deleteDialog(ctx, user, redraw, removed) {
  const choices = [];
  if (user.status !== 'disabled' && ctx.canAny('users:write', 'users:status')) {
    choices.push({
      label: 'Disable', kind: 'secondary',
      run: async () => {
        if (ctx.can('users:write')) await del(`/users/${enc(user.id)}`);
        else await put(`/users/${enc(user.id)}/status`, { status: 'disabled' });
        redraw(await get(`/users/${enc(user.id)}`));
        notice(`${user.username} is disabled.`);
      },
    });
  }
  if (ctx.can('users:delete')) {
    choices.push({
      label: 'Delete permanently', kind: 'danger',
      run: async () => {
        await del(`/users/${enc(user.id)}`, { hard: 'true' });
        removed();
        notice(`${user.username} was deleted permanently.`);
      },
    });
  }
  choices.push({ label: 'Cancel', value: null });
  const lines = [
    h('p', {}, 'Disabling signs ', h('strong', {}, user.username), ' out and keeps them from signing in; it can be undone (Enable).'),
  ];
  if (ctx.can('users:delete')) lines.push(h('p', {}, 'Deleting permanently removes the user with their sessions, grants and tokens. It cannot be undone; the audit log keeps a record.'));
  return choose({ title: `Delete ${user.username}?`, message: lines, choices });
}

