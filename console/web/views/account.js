// Account: what every signed-in person manages for themselves: profile,
// password, sessions, personal API tokens, the apps they allowed and a
// request for another role.
import { h, replace, time, ago } from '../dom.js';
import { get, post, put, patch, del, enc } from '../api.js';
import { signOut, base } from '../auth.js';
import { button, field, checks, showErrors, notice, pageHeader, badge, statusBadge, load, choose, formDialog, secretDialog } from '../ui.js';
import { goalsEditor } from '../goals.js';
import { prefsEditor, prefsList } from '../prefs.js';

// section is one settings panel: its heading and what it is for beside
// its content on a wide screen, above it on a phone.
function section(id, title, intro, ...body) {
  return h('section', { class: 'panel settings', 'aria-labelledby': id },
    h('div', { class: 'settings-head' }, h('h2', { id }, title), intro ? h('p', { class: 'hint' }, intro) : null),
    h('div', { class: 'settings-body' }, body));
}

// formIn makes a plain form whose submit runs save and shows its errors at
// the fields.
function formIn(fields, label, save) {
  const alertEl = h('div', { class: 'alert', role: 'alert', hidden: true });
  const submit = button(label, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'form', novalidate: true }, alertEl, fields.map((f) => f.el), h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      replace(alertEl);
      alertEl.hidden = true;
      for (const f of fields) f.clearError();
      await save();
    } catch (e) {
      showErrors(fields, alertEl, e);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(main, ctx) {
  const me = ctx.me;
  const canWrite = ctx.can('profile:write');
  main.append(pageHeader('Account', `Signed in as ${me.username}. What you change here applies to every app you use with gatehouse.`));

  // Profile.
  const username = field({ label: 'Username', name: 'username', value: me.username, readonly: true });
  const email = field({ label: 'Email', name: 'email', value: me.email, readonly: true, hint: 'An administrator can change your username and email.' });
  const fullName = field({ label: 'Full name', name: 'full_name', value: me.full_name, readonly: !canWrite, autocomplete: 'name' });
  const department = field({ label: 'Department', name: 'department', value: me.department, readonly: !canWrite, autocomplete: 'organization-title' });
  const profileFields = [username, email, fullName, department];
  let profile;
  if (canWrite) {
    const goals = goalsEditor({ goals: me.goals || [], roles: () => me.roles || [] });
    const prefs = prefsEditor({ preferences: me.preferences });
    profileFields.push(goals, prefs);
    profile = formIn(profileFields, 'Save profile', async () => {
      const preferences = prefs.patch();
      if (preferences === null) return;
      const saved = await patch('/users/me', { full_name: fullName.value.trim(), department: department.value.trim(), goals: goals.value, preferences });
      Object.assign(me, saved);
      prefs.saved(saved.preferences);
      notice('Your profile was saved.');
    });
  } else {
    profile = h('div', {}, profileFields.map((f) => f.el), prefsList(me.preferences),
      h('p', { class: 'hint' }, 'Your role lets you read your profile; ask an administrator to change it.'));
  }
  main.append(section('profile-h', 'Profile', 'How you appear to administrators and to the apps you allow.',
    h('div', { class: 'meta-row profile-roles' }, h('span', { class: 'k' }, 'Roles'),
      h('span', { class: 'v' }, h('ul', { class: 'tags', 'aria-label': 'Your roles' },
        (me.effective_roles || []).map((r) => h('li', {}, badge(r))), h('li', {}, statusBadge(me.status))))),
    profile));

  // Password.
  if (canWrite) {
    const current = field({ label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
    const next = field({ label: 'New password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters, not your name or email.' });
    const form = formIn([current, next], 'Change password', async () => {
      if (!current.value) { current.setError('Enter your current password.'); current.input.focus(); return; }
      try {
        await put('/users/me/password', { current_password: current.value, password: next.value });
      } catch (e) {
        if (e.status === 403) { current.setError('The current password is not right.'); current.input.focus(); return; }
        throw e;
      }
      current.input.value = '';
      next.input.value = '';
      notice('Your password was changed.');
    });
    main.append(section('password-h', 'Password', 'Your gatehouse password, for every app that signs you in with gatehouse.', form));
  } else {
    main.append(section('password-h', 'Password', 'Your role does not include changing your password here; ask an administrator.'));
  }

  // Two-step verification lives on the server-rendered security page
  // (authenticator app set-up needs a fresh sign-in and shows a QR code).
  main.append(section('mfa-h', 'Two-step verification', 'After your password, an authenticator app code or a passkey is asked for; recovery codes stand in for the app if you lose your phone.',
    h('p', {}, h('a', { href: `${base}/security` }, 'Manage two-step verification'))));

  // Sessions.
  const sessions = h('div');
  const everywhere = button('Sign out everywhere', {
    kind: 'secondary', iconName: 'out',
    onClick: () => choose({
      title: 'Sign out everywhere?',
      message: h('p', {}, 'Every browser where you are signed in to gatehouse is signed out, this one included, and the apps you signed in to lose their tokens: they ask you to sign in again.'),
      choices: [
        { label: 'Sign out everywhere', kind: 'danger', run: () => signOutEverywhere() },
        { label: 'Cancel', value: null },
      ],
    }),
  });
  main.append(section('sessions-h', 'Sessions', 'Where you are signed in to gatehouse. Revoking a session signs that browser out.', sessions,
    h('div', { class: 'form-actions' }, everywhere)));
  const drawSessions = async () => {
    const page = await get(`/users/${enc(me.id)}/sessions`, { limit: 200 });
    if (!page.items.length) return h('p', { class: 'hint' }, 'No sessions.');
    return h('ul', { class: 'rows', 'aria-label': 'Sessions' }, page.items.map((s) => h('li', {},
      h('div', { class: 'row-main' }, h('strong', {}, device(s.user_agent)),
        h('span', { class: 'row-sub' }, `${s.ip_address || 'unknown address'} · signed in `, time(s.auth_time, ago(s.auth_time)), ' · last seen ', time(s.last_seen_at, ago(s.last_seen_at)))),
      button('Revoke', {
        small: true, kind: 'danger-soft',
        onClick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            await del(`/sessions/${enc(s.id)}`);
            notice('The session was revoked.');
          } catch (e) {
            notice(`The session could not be revoked: ${e.message}`);
          }
          load(sessions, drawSessions);
        },
      }))));
  };
  load(sessions, drawSessions);

  // API tokens.
  if (ctx.can('tokens:self')) {
    const tokens = h('div');
    const drawTokens = async () => {
      const page = await get('/tokens', { limit: 200 });
      const mine = page.items.filter((t) => t.kind === 'personal' && t.user_id === me.id && !t.revoked_at);
      if (!mine.length) return h('p', { class: 'hint' }, 'You have no API tokens.');
      return h('ul', { class: 'rows', 'aria-label': 'Your API tokens' }, mine.map((t) => h('li', {},
        h('div', { class: 'row-main' }, h('strong', {}, t.name),
          h('span', { class: 'row-sub' }, t.scopes.length ? t.scopes.join(' ') : 'all of your permissions', ' · expires ', time(t.expires_at), ' · ', t.last_used_at ? `used ${ago(t.last_used_at)}` : 'never used')),
        button('Revoke', {
          small: true, kind: 'danger-soft',
          onClick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await del(`/tokens/${enc(t.id)}`);
              notice(`The token ${t.name} was revoked; it stops working at once.`);
            } catch (e) {
              notice(`The token could not be revoked: ${e.message}`);
            }
            load(tokens, drawTokens);
          },
        }))));
    };
    const create = button('Create token', { kind: 'primary', iconName: 'plus', onClick: () => createToken(ctx, () => load(tokens, drawTokens)) });
    main.append(section('tokens-h', 'API tokens', 'Personal tokens let your scripts call the gatehouse API as you, with at most your permissions.', tokens, h('div', { class: 'form-actions' }, create)));
    load(tokens, drawTokens);
  } else {
    main.append(section('tokens-h', 'API tokens', 'Your role does not include personal API tokens.'));
  }

  // Allowed apps: the consents gatehouse remembers. Revoking one also ends
  // the app's tokens, so it asks again at the next sign-in.
  if (ctx.can('profile:read')) {
    const apps = h('div');
    const drawApps = async () => {
      const page = await get('/users/me/consents', { limit: 200 });
      if (!page.items.length) return h('p', { class: 'hint' }, 'You have not allowed any app.');
      return h('ul', { class: 'rows', 'aria-label': 'Allowed apps' }, page.items.map((c) => h('li', {},
        h('div', { class: 'row-main' }, h('strong', {}, c.client_name || c.client_id),
          h('span', { class: 'row-sub' }, c.scopes.length ? c.scopes.join(' ') : 'no scopes',
            ' · allowed ', time(c.granted_at, ago(c.granted_at)),
            c.expires_at ? [' · until ', time(c.expires_at)] : null)),
        button('Revoke', {
          small: true, kind: 'danger-soft',
          onClick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await del(`/users/me/consents/${enc(c.client_id)}`);
              notice(`${c.client_name || c.client_id} can no longer use your account; it will ask again.`);
            } catch (e) {
              notice(`The app could not be revoked: ${e.message}`);
            }
            load(apps, drawApps);
          },
        }))));
    };
    main.append(section('apps-h', 'Allowed apps', 'Apps you allowed to use your account. Revoking one signs it out and makes it ask again.', apps));
    load(apps, drawApps);
  }

  // Another role.
  const held = new Set(me.effective_roles || []);
  const askable = ctx.roles.filter((r) => !held.has(r.name));
  if (askable.length) {
    const role = field({ label: 'Role', name: 'role', options: [{ value: '', label: 'Choose a role' }, ...askable.map((r) => ({ value: r.name, label: r.description ? `${r.name} — ${r.description.replace(/\.$/, '')}` : r.name }))] });
    const purpose = field({ label: 'Purpose', name: 'purpose', rows: 3, hint: 'What you need it for; a manager decides.' });
    const result = h('div', { role: 'status' });
    const form = formIn([role, purpose], 'Request role', async () => {
      if (!role.value) { role.setError('Choose the role you need.'); role.input.focus(); return; }
      const req = await post('/access-requests', { role: role.value, purpose: purpose.value.trim() });
      purpose.input.value = '';
      replace(result, h('p', { class: 'notice' }, `Your request for ${req.requested_role} is waiting for a manager’s decision.`));
    });
    main.append(section('request-h', 'Request another role', 'Ask for more access; the request goes to the same queue as everyone’s.', result, form));
  }
}

// device names a browser session by its user agent, roughly.
function device(ua) {
  const s = String(ua || '');
  const browser = /Edg\//.test(s) ? 'Edge' : /Chrome\//.test(s) ? 'Chrome' : /Firefox\//.test(s) ? 'Firefox' : /Safari\//.test(s) ? 'Safari' : /curl|Go-http/.test(s) ? 'Script' : 'Browser';
  const os = /Windows/.test(s) ? 'Windows' : /Android/.test(s) ? 'Android' : /iPhone|iPad/.test(s) ? 'iOS' : /Mac OS X/.test(s) ? 'macOS' : /Linux/.test(s) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

// signOutEverywhere ends every session and every app's tokens at once,
// this console's too, then leaves through end_session like Sign out.
async function signOutEverywhere() {
  await post('/users/me/sessions/revoke-all');
  await signOut();
}

function createToken(ctx, done) {
  const name = field({ label: 'Name', name: 'name', required: true, hint: 'What the token is for, such as “nightly report”.' });
  const days = field({
    label: 'Expires', name: 'expires_in', value: '2592000',
    options: [{ value: '604800', label: 'In 7 days' }, { value: '2592000', label: 'In 30 days' }, { value: '7776000', label: 'In 90 days' }, { value: '0', label: 'The longest allowed' }],
  });
  const perms = checks({ legend: 'Permissions', name: 'scopes', options: [...ctx.perms].sort(), hint: 'None chosen: all of your permissions.' });
  formDialog({
    title: 'Create token',
    fields: [name, days, perms],
    submitLabel: 'Create token',
    save: async () => {
      const t = await post('/tokens', { name: name.value.trim(), kind: 'personal', scopes: perms.value, expires_in: Number(days.value) });
      done();
      setTimeout(() => secretDialog({ title: 'Your new API token', label: `Token “${t.name}”`, secret: t.token }), 0);
      return true;
    },
  });
}
