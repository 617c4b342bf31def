// ui.js: the console's building blocks: buttons, fields with their errors,
// dialogs, alerts with a retry, badges and the live region for notices.
import { h, icon, uid, replace, clear } from './dom.js';
import { ApiError } from './api.js';

export function button(label, { kind = '', iconName, onClick, type = 'button', small, attrs = {} } = {}) {
  return h('button', { type, class: ['btn', kind, small && 'small'], on: onClick ? { click: onClick } : undefined, ...attrs },
    iconName ? icon(iconName) : null, h('span', {}, label));
}

// field is a labelled input, select or textarea with room for its hint and
// its error; setError marks it invalid and makes the message its
// description, as screen readers expect.
export function field({ label, name, type = 'text', value = '', hint, required, options, rows, autocomplete, readonly, placeholder, inputmode }) {
  const id = uid(name || 'f');
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  let input;
  if (options) {
    input = h('select', { id, name, required },
      options.map((o) => {
        const opt = typeof o === 'string' ? { value: o, label: o } : o;
        return h('option', { value: opt.value, selected: String(opt.value) === String(value) }, opt.label);
      }));
  } else if (rows) {
    input = h('textarea', { id, name, rows, required, readonly, placeholder });
    input.value = value ?? '';
  } else {
    input = h('input', { id, name, type, required, autocomplete, readonly, placeholder, inputmode });
    input.value = value ?? '';
  }
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const err = h('p', { id: errId, class: 'field-error', hidden: true });
  const el = h('div', { class: 'field' },
    h('label', { for: id }, label),
    input, hint ? h('p', { id: hintId, class: 'hint' }, hint) : null, err);
  const setError = (msg) => {
    if (!msg) return clearError();
    err.textContent = msg;
    err.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [errId, hintId].filter(Boolean).join(' '));
    return true;
  };
  const clearError = () => {
    err.hidden = true;
    err.textContent = '';
    input.removeAttribute('aria-invalid');
    if (hintId) input.setAttribute('aria-describedby', hintId);
    else input.removeAttribute('aria-describedby');
    return false;
  };
  return { el, input, name, setError, clearError, get value() { return input.value; } };
}

// checks is a group of checkboxes in a fieldset.
export function checks({ legend, name, options, values = [], hint }) {
  const boxes = options.map((o) => {
    const opt = typeof o === 'string' ? { value: o, label: o } : o;
    const id = uid(name);
    const box = h('input', { type: 'checkbox', id, name, value: opt.value, checked: values.includes(opt.value) });
    return { box, el: h('label', { class: 'check', for: id }, box, h('span', {}, opt.label)) };
  });
  const err = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const el = h('fieldset', { class: 'field checks' }, h('legend', {}, legend),
    hint ? h('p', { class: 'hint' }, hint) : null, h('div', { class: 'check-grid' }, boxes.map((b) => b.el)), err);
  return {
    el, name,
    get value() { return boxes.filter((b) => b.box.checked).map((b) => b.box.value); },
    setError(msg) {
      err.textContent = msg; err.hidden = !msg;
      if (msg) { el.setAttribute('aria-invalid', 'true'); el.setAttribute('aria-describedby', err.id); }
      return Boolean(msg);
    },
    clearError() { err.hidden = true; el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); },
  };
}

// problemText says what went wrong in words a person can act on.
export function problemText(e) {
  if (!(e instanceof ApiError)) return e?.message || 'Something went wrong.';
  if (e.network) return 'gatehouse could not be reached. Check the connection and try again.';
  if (e.status >= 500) return 'gatehouse had a problem answering. Try again in a moment.';
  if (e.status === 403) return `You are not allowed to do this${e.problem.detail ? ` (${e.problem.detail})` : ''}.`;
  if (e.status === 412) return 'Someone else changed this in the meantime. Reload it to see their change, then try again.';
  if (e.status === 422 && !e.problem.errors?.length) return e.problem.detail || 'The input was refused.';
  const detail = e.problem.detail || e.problem.title || `The request failed (HTTP ${e.status}).`;
  return detail.charAt(0).toUpperCase() + detail.slice(1) + (/[.!?]$/.test(detail) ? '' : '.');
}

// alertBox shows an error where it happened, with a retry when the same
// request may succeed again.
export function alertBox(e, retry) {
  const canRetry = retry && (!(e instanceof ApiError) || e.retryable);
  return h('div', { class: 'alert', role: 'alert' },
    h('p', {}, problemText(e)),
    canRetry ? button('Retry', { kind: 'secondary', small: true, onClick: retry }) : null);
}

// showErrors puts the API's field errors next to their fields; those
// without a field on the form, and non-field problems, go to the form's
// alert. It returns true if there was anything to show.
export function showErrors(fields, alertEl, e) {
  for (const f of fields) f.clearError();
  clear(alertEl);
  alertEl.hidden = true;
  const left = [];
  if (e instanceof ApiError && (e.status === 422 || e.status === 400) && e.problem.errors?.length) {
    for (const fe of e.problem.errors) {
      const key = String(fe.field || '').split(/[.[]/)[0];
      // A field named for the whole path (access.areas) wins over its parent's.
      const f = fields.find((x) => x.name === fe.field) || fields.find((x) => x.name === key || (x.aliases || []).includes(key));
      if (f) f.setError(capital(fe.message));
      else left.push(`${fe.field ? `${fe.field}: ` : ''}${fe.message}`);
    }
    const first = fields.find((f) => f.input?.getAttribute('aria-invalid') === 'true');
    first?.input.focus();
  } else if (e instanceof ApiError && e.status === 409) {
    // A conflict names no field; the create forms know which field it is.
    const f = fields.find((x) => x.conflict);
    if (f) { f.setError(capital(e.problem.detail || 'This is already taken.')); f.input.focus(); } else left.push(problemText(e));
  } else {
    left.push(problemText(e));
  }
  if (left.length) {
    alertEl.hidden = false;
    replace(alertEl, ...left.map((m) => h('p', {}, m)));
  }
  return true;
}

function capital(m) {
  const t = String(m || '');
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

// dialog opens a modal <dialog> named by its heading. The browser makes
// the rest of the page inert; Tab is kept inside, Escape closes, and focus
// returns to what opened it.
export function dialog({ title, content, actions = [], wide, onClose, describedBy }) {
  const titleId = uid('dlg');
  const opener = document.activeElement;
  const closeBtn = h('button', { type: 'button', class: 'icon-btn close', 'aria-label': 'Close' }, icon('x'));
  const body = h('div', { class: 'dialog-body' }, content);
  const footer = h('div', { class: 'dialog-actions' }, actions);
  const el = h('dialog', { class: ['dialog', wide && 'wide'], 'aria-labelledby': titleId, 'aria-describedby': describedBy },
    h('div', { class: 'dialog-head' }, h('h2', { id: titleId }, title), closeBtn), body, footer);
  let closed = false;
  const close = (result) => {
    if (closed) return;
    closed = true;
    el.close();
    el.remove();
    if (opener && opener.isConnected) opener.focus();
    onClose?.(result);
  };
  closeBtn.addEventListener('click', () => close());
  el.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
  el.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab') return;
    const items = [...el.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])')]
      .filter((x) => x.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
  });
  document.body.append(el);
  el.showModal();
  const focusable = body.querySelector('input:not([readonly]), select, textarea, button') || footer.querySelector('button');
  (focusable || closeBtn).focus();
  return { el, body, footer, close };
}

// formDialog is a dialog around a form whose submit runs save; save's
// ApiError is shown at the fields. save returns true to close.
export function formDialog({ title, fields, extra = [], submitLabel = 'Save', save, wide, onClose }) {
  const alertEl = h('div', { class: 'alert', role: 'alert', hidden: true });
  const submit = button(submitLabel, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'form', novalidate: true }, alertEl, fields.map((f) => f.el), extra);
  let d;
  const cancel = button('Cancel', { kind: 'secondary', onClick: () => d.close() });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    submit.classList.add('busy');
    try {
      const done = await save();
      if (done !== false) d.close(true);
    } catch (e) {
      showErrors(fields, alertEl, e);
    } finally {
      submit.disabled = false;
      submit.classList.remove('busy');
    }
  });
  // The submit button lives in the footer; form= ties it to the form.
  form.id = uid('form');
  submit.setAttribute('form', form.id);
  d = dialog({ title, content: form, actions: [cancel, submit], wide, onClose });
  return { ...d, form, alertEl };
}

// secretDialog shows a secret once, with a button that copies it.
export function secretDialog({ title, label, secret, note }) {
  const id = uid('secret');
  const noteId = uid('note');
  // A textarea wraps the whole secret into view; it stays read-only.
  const input = h('textarea', { id, readonly: true, rows: 2, class: 'mono secret', 'aria-describedby': noteId, spellcheck: 'false' });
  input.value = secret;
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = button('Copy', {
    kind: 'secondary', iconName: 'copy',
    onClick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(secret);
        status.textContent = 'Copied.';
      } catch {
        status.textContent = 'Select the text and copy it.';
      }
    },
  });
  let d;
  const done = button('Done', { kind: 'primary', onClick: () => d.close() });
  d = dialog({
    title,
    describedBy: noteId,
    content: [
      h('p', { id: noteId, class: 'notice' }, note || `This is shown only once. Copy it now and keep it somewhere safe: gatehouse keeps only a digest and cannot show it again.`),
      h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, input, copy), status),
    ],
    actions: [done],
  });
  input.focus();
  input.select();
  return d;
}

// confirm asks a yes/no question; it resolves to the chosen action's value.
export function choose({ title, message, choices }) {
  return new Promise((resolve) => {
    let d;
    const alertEl = h('div', { class: 'alert', role: 'alert', hidden: true });
    const btns = choices.map((c) => button(c.label, {
      kind: c.kind || 'secondary',
      onClick: async () => {
        if (!c.run) { d.close(); resolve(c.value); return; }
        btns.forEach((b) => { b.disabled = true; });
        try {
          await c.run();
          d.close();
          resolve(c.value);
        } catch (e) {
          showErrors([], alertEl, e);
        } finally {
          btns.forEach((b) => { b.disabled = false; });
        }
      },
    }));
    d = dialog({ title, content: [alertEl, ...[].concat(message)], actions: btns, onClose: () => resolve(null) });
  });
}

// notice announces a result in the polite live region.
export function notice(text) {
  const region = document.getElementById('notices');
  if (!region) return;
  const item = h('p', { class: 'toast' }, text);
  region.append(item);
  setTimeout(() => item.remove(), 5000);
}

export function badge(text, kind = '') {
  return h('span', { class: ['badge', kind] }, text);
}

const statusKinds = { active: 'ok', pending: 'warn', locked: 'bad', disabled: 'off', expired: 'off', approved: 'ok', denied: 'bad', cancelled: 'off', revoked: 'off' };
export function statusBadge(status) {
  return h('span', { class: ['status', statusKinds[status] || ''] }, h('span', { class: 'dot', 'aria-hidden': 'true' }), status);
}

// loading is the placeholder while a section loads.
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// pageHeader is the one level-1 heading of a view and its actions.
export function pageHeader(title, intro, ...actions) {
  return h('header', { class: 'page-head' },
    h('div', {}, h('h1', { id: 'page-title', tabindex: '-1' }, title), intro ? h('p', { class: 'intro' }, intro) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

// section loads content into a panel, showing a retry if it fails.
export async function load(target, fn) {
  replace(target, loading());
  try {
    const out = await fn();
    if (out !== undefined) replace(target, out);
  } catch (e) {
    replace(target, alertBox(e, () => load(target, fn)));
  }
}

// table lays rows out as a table on wide screens and as one card per row
// on narrow ones, each cell then labelled with its column. The explicit
// roles keep the table's semantics when CSS changes its display.
export function table({ caption, columns, rows }) {
  return h('div', { class: 'table-wrap' }, h('table', { role: 'table', class: 'stack' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, columns.map((c) => h('th', { scope: 'col', role: 'columnheader' }, c)))),
    h('tbody', { role: 'rowgroup' }, rows.map((cells) => tableRow(columns, cells)))));
}

// tableRow is one row of a table() (for lists that grow page by page).
export function tableRow(columns, cells) {
  return h('tr', { role: 'row' }, cells.map((c, i) => h('td', {
    role: 'cell', dataset: { label: columns[i] || '' }, class: columns[i] === '' ? 'actions' : undefined,
  }, h('div', { class: 'cell' }, c))));
}
