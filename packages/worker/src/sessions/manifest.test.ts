import fs from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../../test/helpers';
import { BrokenManifestError, listSavedSessions, readManifest, writeManifest } from './manifest';

describe('session manifests', () => {
  it('keeps a manifest per session and finds saved sessions, reporting broken ones', async () => {
    const dir = await tempDir('manifest');
    try {
      const good = path.join(dir, 'ws1', 's1');
      await writeManifest(good, { workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: '628', updated_at: 'x' });
      expect(await readManifest(good)).toMatchObject({ workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: '628' });

      const broken = path.join(dir, 'ws1', 's2');
      await fs.mkdir(broken, { recursive: true });
      await fs.writeFile(path.join(broken, 'session.json'), '{not json');
      await expect(readManifest(broken)).rejects.toThrow(BrokenManifestError);

      const misnamed = path.join(dir, 'ws2', 's3');
      await writeManifest(misnamed, { workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: null, updated_at: 'x' });
      await expect(readManifest(misnamed)).rejects.toThrow('does not name its own folder');

      await fs.mkdir(path.join(dir, 'ws1', 'empty'), { recursive: true });
      await fs.mkdir(path.join(dir, 'bad id', 's9', 'session'), { recursive: true });
      expect((await listSavedSessions(dir)).map((s) => `${s.workspaceId}/${s.sessionId}`)).toEqual(['ws1/s1', 'ws1/s2', 'ws2/s3']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
