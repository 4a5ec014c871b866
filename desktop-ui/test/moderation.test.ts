import { describe, expect, it } from 'vitest';
import { mayModerate } from '../src/lib/moderation';
import type { User } from '../src/generated/User';

const user = (id: string, role: User['role'], deleted = false): User => ({
  id,
  username: id,
  display_name: null,
  avatar_url: null,
  role,
  created_at: 0,
  ...(deleted ? { deleted_at: 1 } : {}),
});

describe('who may moderate whom', () => {
  const admin = user('1', 'admin');
  const moderator = user('2', 'moderator');
  const member = user('3', 'member');

  it('lets admins act on members and moderators, never on admins or themselves', () => {
    expect(mayModerate(admin, member)).toBe(true);
    expect(mayModerate(admin, moderator)).toBe(true);
    expect(mayModerate(admin, user('4', 'admin'))).toBe(false);
    expect(mayModerate(admin, admin)).toBe(false);
  });

  it('lets moderators act on members only', () => {
    expect(mayModerate(moderator, member)).toBe(true);
    expect(mayModerate(moderator, user('5', 'moderator'))).toBe(false);
    expect(mayModerate(moderator, admin)).toBe(false);
  });

  it('gives members and the signed-out nothing, and leaves deleted accounts alone', () => {
    expect(mayModerate(member, user('6', 'member'))).toBe(false);
    expect(mayModerate(null, member)).toBe(false);
    expect(mayModerate(admin, user('7', 'member', true))).toBe(false);
  });
});
