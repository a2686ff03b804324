import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidIdError } from '../errors';
import { tempDir } from '../../test/helpers';
import { profileLockHolder, removeSingletonFiles, resolvesInside, sessionFolder } from './profile';

describe('session folders', () => {
  it('tells a folder reached through a symlink below the sessions folder from one that is where its path says', async () => {
    const dir = await tempDir('inside');
    try {
      const real = path.join(dir, 'real-sessions');
      const root = path.join(dir, 'sessions'); // the sessions folder itself may be a link (another disk)
      const outside = path.join(dir, 'outside');
      await fs.mkdir(path.join(real, 'w1', 's1'), { recursive: true });
      await fs.mkdir(path.join(outside, 's2'), { recursive: true });
      await fs.symlink(real, root);
      await fs.symlink(outside, path.join(real, 'w2'));
      await fs.symlink(path.join(outside, 's2'), path.join(real, 'w1', 's3'));
      expect(await resolvesInside(root, path.join(root, 'w1', 's1'))).toBe(true);
      expect(await resolvesInside(root, path.join(root, 'w1', 'gone'))).toBe(true); // nothing there to follow
      expect(await resolvesInside(root, path.join(root, 'w2', 's2'))).toBe(false); // workspace folder links out
      expect(await resolvesInside(root, path.join(root, 'w1', 's3'))).toBe(false); // session folder links out
      expect(await resolvesInside(root, root)).toBe(false);
      expect(await resolvesInside(root, path.join(dir, 'outside'))).toBe(false);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('places a session under its workspace and refuses ids that could leave it', () => {
    expect(sessionFolder('/srv/sessions', 'ws_1', 'webjs_1_abc')).toBe('/srv/sessions/ws_1/webjs_1_abc');
    for (const bad of ['..', '../x', 'a/b', '', 'a b', 'x'.repeat(101), '.']) {
      expect(() => sessionFolder('/srv/sessions', 'ws', bad)).toThrow(InvalidIdError);
      expect(() => sessionFolder('/srv/sessions', bad, 'id')).toThrow(InvalidIdError);
    }
  });

  it('removes stale Singleton files, including a dangling SingletonLock from another host', async () => {
    const dir = await tempDir('singleton');
    try {
      await fs.symlink('other-host-4242', path.join(dir, 'SingletonLock'));
      await fs.writeFile(path.join(dir, 'SingletonCookie'), '1');
      await fs.writeFile(path.join(dir, 'Preferences'), '{}');
      expect(await removeSingletonFiles(dir)).toEqual(['SingletonLock', 'SingletonCookie']);
      expect((await fs.readdir(dir)).sort()).toEqual(['Preferences']);
      expect(await removeSingletonFiles(path.join(dir, 'missing'))).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads who holds a profile from its SingletonLock', async () => {
    const dir = await tempDir('lock');
    try {
      expect(await profileLockHolder(dir)).toBeNull();
      await fs.symlink('my-host-1-4242', path.join(dir, 'SingletonLock'));
      expect(await profileLockHolder(dir)).toEqual({ host: 'my-host-1', pid: 4242 });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
