// people.js: user ids to people, for lists that name users by id (access
// requests, group members, tokens, the audit log). Each id is read once per
// page load (ctx.userCache), all of a list's at once; with no right to read
// users the short id is shown instead.
import { get, enc } from './api.js';

export function people(ctx) {
  const cache = ctx.userCache;
  return {
    async resolve(ids) {
      const wanted = [...new Set(ids.filter((id) => id && !cache.has(id)))];
      if (!ctx.can('users:read')) {
        if (ctx.me && wanted.includes(ctx.me.id)) cache.set(ctx.me.id, ctx.me);
        return;
      }
      await Promise.all(wanted.map(async (id) => {
        try {
          cache.set(id, await get(`/users/${enc(id)}`));
        } catch {
          cache.set(id, null); // deleted, or not ours to read
        }
      }));
    },
    get: (id) => cache.get(id) || null,
    name: (id) => {
      if (!id) return '';
      const u = cache.get(id);
      return u ? u.username : `user ${String(id).slice(0, 8)}`;
    },
  };
}
