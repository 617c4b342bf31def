// app.js: the console's entry point. It signs in (auth.js), learns what the
// signed-in person may do, draws the shell (navigation, header) and routes
// between the views by address, without reloading the page.
import { h, icon, replace, clear } from './dom.js';
import * as auth from './auth.js';
import { get, whenSessionEnds } from './api.js';
import { button, alertBox, loading } from './ui.js';

const { base } = auth;
const root = document.getElementById('app');

// The views, in navigation order. allowed reads the person's effective
// permissions: a link is shown only to those who may use what it opens.
const views = [
  { path: '/console/', name: 'Dashboard', icon: 'dashboard', module: () => import('./views/dashboard.js'),
    allowed: (c) => c.canAny('users:read', 'access-requests:review', 'audit:read') },
  { path: '/console/users', name: 'Users', icon: 'users', module: () => import('./views/users.js'),
    allowed: (c) => c.can('users:read') },
  { path: '/console/access-requests', name: 'Access requests', icon: 'inbox', module: () => import('./views/requests.js'),
    allowed: (c) => c.can('access-requests:review') },
  { path: '/console/roles', name: 'Roles', icon: 'roles', module: () => import('./views/roles.js'),
    allowed: (c) => c.canAny('users:read', 'roles:write') },
  { path: '/console/groups', name: 'Groups', icon: 'groups', module: () => import('./views/groups.js'),
    allowed: (c) => c.can('users:read') },
  { path: '/console/clients', name: 'Clients', icon: 'clients', module: () => import('./views/clients.js'),
    allowed: (c) => c.can('clients:write') },
  { path: '/console/tokens', name: 'API tokens', icon: 'key', module: () => import('./views/tokens.js'),
    allowed: (c) => c.canAny('tokens:users', 'tokens:system') },
  { path: '/console/audit', name: 'Audit log', icon: 'audit', module: () => import('./views/audit.js'),
    allowed: (c) => c.can('audit:read') },
  { path: '/account/', name: 'Account', icon: 'account', module: () => import('./views/account.js'),
    allowed: () => true },
];

function screen(title, ...content) {
  replace(root, h('main', { class: 'screen' }, h('div', { class: 'screen-card' },
    h('p', { class: 'brand' }, icon('roles', 'icon brand-mark'), 'gatehouse'), h('h1', {}, title), content)));
}

async function allRoles() {
  const out = [];
  let cursor;
  do {
    const page = await get('/roles', { limit: 200, cursor });
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

// expand is the union of the permissions of the named roles, each with its
// ancestors': the domain's rule, read from the role definitions the API
// shows.
function expand(roles, names) {
  const byName = new Map(roles.map((r) => [r.name, r]));
  const perms = new Set();
  for (const name of names || []) {
    for (let r = byName.get(name), seen = 0; r && seen < 50; r = byName.get(r.parent), seen += 1) {
      for (const p of r.permissions) perms.add(p);
    }
  }
  return perms;
}

// permissionsOf is what the signed-in person may do: the list the API
// gives, if it does, or the expansion of their effective roles.
function permissionsOf(me, roles) {
  const given = me.permissions || me.effective_permissions;
  if (Array.isArray(given)) return new Set(given);
  return expand(roles, me.effective_roles || me.roles);
}

// context is what every view is handed.
async function context() {
  const [me, roles] = await Promise.all([get('/users/me'), allRoles()]);
  const perms = permissionsOf(me, roles);
  const ctx = {
    me, roles, perms,
    can: (p) => perms.has(p),
    canAny: (...ps) => ps.some((p) => perms.has(p)),
    // Nobody acts on someone with more power (the domain's rule): the
    // buttons are shown only where the API would allow them. Acting on
    // oneself goes through the account page.
    mayActOn: (u) => u.id !== me.id && [...expand(roles, u.effective_roles || u.roles)].every((p) => perms.has(p)),
    navigate,
    badge: () => {},
    userCache: new Map(),
  };
  return ctx;
}

let ctx = null;
let nav = null;
let main = null;
let cleanup = null;
let sessionBanner = null;

function shell() {
  const links = views.filter((v) => v.allowed(ctx)).map((v) => {
    // The count is the link's description, not part of its name.
    const extra = v.path === '/console/access-requests'
      ? [h('span', { class: 'nav-badge', id: 'pending-badge', 'aria-hidden': 'true', hidden: true })]
      : [];
    const a = h('a', { href: base + v.path, dataset: { path: v.path } }, icon(v.icon), h('span', { class: 'label' }, v.name), extra);
    if (extra.length) a.setAttribute('aria-describedby', 'pending-desc');
    return h('li', {}, a);
  });
  nav = h('nav', { class: 'nav', 'aria-label': 'Main' }, h('ul', {}, links), h('span', { id: 'pending-desc', hidden: true }));
  main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  sessionBanner = h('div', { class: 'session-banner', hidden: true });
  const who = ctx.me.full_name || ctx.me.username;
  replace(root,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h('div', { class: 'shell' },
      h('header', { class: 'topbar' },
        h('a', { class: 'brand', href: base + (views[0].allowed(ctx) ? '/console/' : '/account/') }, icon('roles', 'icon brand-mark'), h('span', {}, 'gatehouse')),
        h('div', { class: 'whoami' },
          h('span', { class: 'avatar small', 'aria-hidden': 'true' }, (who || '?').slice(0, 1).toUpperCase()),
          h('span', { class: 'who' }, h('span', { class: 'who-name' }, who), h('span', { class: 'who-user' }, ctx.me.username)),
          button('Sign out', { kind: 'ghost', iconName: 'out', small: true, onClick: () => auth.signOut() }))),
      nav,
      h('div', { class: 'content' }, sessionBanner, main)),
    h('div', { id: 'notices', class: 'notices', role: 'status', 'aria-live': 'polite' }));
  nav.addEventListener('click', follow);
  window.addEventListener('resize', () => {
    nav.querySelector('[aria-current="page"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
  main.addEventListener('click', follow);
  if (ctx.can('access-requests:review')) {
    ctx.badge = updateBadge;
    // The badge follows the queue without a reload.
    setInterval(() => { if (!document.hidden) updateBadge(); }, 30000);
  }
}

async function updateBadge() {
  try {
    const page = await get('/access-requests', { status: 'pending', limit: 100 });
    const n = page.items.length;
    const text = page.next_cursor ? '100+' : String(n);
    const b = document.getElementById('pending-badge');
    const d = document.getElementById('pending-desc');
    if (!b) return;
    b.textContent = text;
    b.hidden = n === 0;
    d.textContent = n === 0 ? 'no pending requests' : `${text} pending`;
  } catch {
    // The badge is a hint; the view itself shows errors.
  }
}

// follow routes a click on a link to one of the console's own addresses.
function follow(ev) {
  const a = ev.target.closest('a[href]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || a.target) return;
  const u = new URL(a.href);
  if (u.origin !== location.origin || !(u.pathname.startsWith(`${base}/console/`) || u.pathname.startsWith(`${base}/account/`))) return;
  ev.preventDefault();
  navigate(u.pathname + u.search);
}

function navigate(to, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  render();
}

function viewFor(pathname) {
  const rel = pathname.slice(base.length).replace(/\/+$/, '') || '/';
  return views.find((v) => v.path.replace(/\/$/, '') === rel) || null;
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* a view's cleanup must not stop the next */ } cleanup = null; }
  const v = viewFor(location.pathname);
  // Moving between views also refreshes the badge, between the polls.
  ctx.badge();
  for (const a of nav.querySelectorAll('a')) {
    if (v && a.dataset.path === v.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // On a phone the navigation scrolls sideways: keep the current view's
  // link in sight.
  nav.querySelector('[aria-current="page"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  if (!v) {
    document.title = 'Page not found · gatehouse';
    replace(main, h('header', { class: 'page-head' }, h('div', {}, h('h1', { id: 'page-title', tabindex: '-1' }, 'Page not found'),
      h('p', { class: 'intro' }, 'There is nothing at this address in the console.'))),
    h('p', {}, h('a', { href: `${base}/account/` }, 'Go to your account')));
    return;
  }
  if (!v.allowed(ctx)) {
    // Someone who may not see a view lands where they may be.
    const first = views.find((x) => x.allowed(ctx));
    if (v.path === '/console/' && first) { navigate(base + first.path, { replace: true }); return; }
    document.title = 'Not allowed · gatehouse';
    replace(main, h('header', { class: 'page-head' }, h('div', {}, h('h1', { id: 'page-title', tabindex: '-1' }, 'Not available'),
      h('p', { class: 'intro' }, `Your roles do not include ${v.name}.`))));
    return;
  }
  document.title = `${v.name} · gatehouse`;
  replace(main, loading());
  try {
    const mod = await v.module();
    if (seq !== renderSeq) return;
    clear(main);
    cleanup = (await mod.render(main, ctx, new URLSearchParams(location.search))) || null;
  } catch (e) {
    if (seq !== renderSeq) return;
    replace(main, h('h1', { id: 'page-title', tabindex: '-1' }, v.name), alertBox(e, () => render()));
  }
  if (seq === renderSeq && document.activeElement === document.body) main.querySelector('#page-title')?.focus({ preventScroll: true });
}

function sessionEnded() {
  if (!sessionBanner) return;
  sessionBanner.hidden = false;
  replace(sessionBanner, h('div', { class: 'alert', role: 'alert' },
    h('p', {}, 'Your sign-in has ended. What you typed is still here; sign in again to save it.'),
    button('Sign in again', { kind: 'primary', small: true, onClick: () => auth.signIn({ returnTo: location.pathname + location.search }) })));
}

async function boot() {
  const q = new URLSearchParams(location.search);
  try {
    if (auth.isCallback()) {
      screen('Signing in…', loading('Completing the sign-in…'));
      if ((await auth.completeSignIn()) === null) return;
    } else if (q.get('state') === 'signed-out') {
      history.replaceState(null, '', `${base}/console/`);
      screen('You are signed out', h('p', {}, 'You have signed out of gatehouse.'),
        button('Sign in', { kind: 'primary', onClick: () => auth.signIn({ returnTo: `${base}/console/` }) }));
      return;
    } else {
      // No token survives a reload: ask again, silently first.
      screen('Signing in…', loading('Signing in with your gatehouse session…'));
      await auth.signIn({ prompt: 'none', returnTo: location.pathname + location.search });
      return;
    }
  } catch (e) {
    screen('Sign-in failed', h('p', { class: 'alert', role: 'alert' }, e.message || String(e)),
      button('Try again', { kind: 'primary', onClick: () => auth.signIn({ returnTo: `${base}/console/` }) }));
    return;
  }
  await start();
}

// start loads what the signed-in person may do and draws the console; a
// failure offers a retry (never a blank page).
async function start() {
  screen('Loading…', loading('Loading your console…'));
  try {
    ctx = await context();
  } catch (e) {
    screen('The console could not load', alertBox(e, () => start()),
      h('p', {}, 'If this persists, sign out and sign in again.'),
      button('Sign out', { kind: 'secondary', onClick: () => auth.signOut() }));
    return;
  }
  whenSessionEnds(sessionEnded);
  shell();
  window.addEventListener('popstate', render);
  await render();
}

window.addEventListener('unhandledrejection', (ev) => {
  const region = document.getElementById('notices');
  if (region) region.append(h('p', { class: 'toast bad' }, `Something went wrong: ${ev.reason?.message || ev.reason}`));
});

boot();
