import fs from 'node:fs/promises';
import path from 'node:path';
import { cleanEnv, spawnProcess } from './processes';
import { tempDir } from './temp-dir';

const node = (script: string) => spawnProcess(process.execPath, ['-e', script], { env: cleanEnv() });

describe('spawnProcess', () => {
  it('keeps stdout, stderr and both in order, and how the process ended', async () => {
    // Writes 100 ms apart: the order between two pipes is only defined across such a gap.
    const proc = node(
      "process.stdout.write('one '); setTimeout(() => process.stderr.write('two '), 100); setTimeout(() => { process.stdout.write('three'); process.exit(3); }, 200)",
    );
    const result = await proc.done;
    expect(result).toEqual({ code: 3, signal: null, stdout: 'one three', stderr: 'two ' });
    expect(proc.output()).toBe('one two three');
    expect(await proc.exited).toBe(3);
  });

  it('resolves outputMatching as soon as the pattern is written, and rejects when the process ends without it', async () => {
    const proc = node("console.log('listening on 4711'); setTimeout(() => {}, 60_000)");
    expect((await proc.outputMatching(/listening on (\d+)/))[1]).toBe('4711');
    expect(await proc.kill('SIGTERM')).toBeNull();
    expect(proc.child.signalCode).toBe('SIGTERM');
    await expect(proc.outputMatching(/never/)).rejects.toThrow(/exited .* before writing \/never\//);
    expect(await proc.kill()).toBeNull(); // already gone: answers at once
  });

  it('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const proc = node("process.on('SIGTERM', () => {}); console.log('ready'); setTimeout(() => {}, 60_000)");
    await proc.outputMatching(/ready/);
    await proc.stop(100);
    expect(proc.child.signalCode).toBe('SIGKILL');
  });

  it('rejects done when the command cannot start', async () => {
    const proc = spawnProcess('/nonexistent/command', [], { env: cleanEnv() });
    await expect(proc.done).rejects.toThrow(/ENOENT/);
    expect(await proc.exited).toBeNull();
  });
});

describe('spawnProcess with a log file', () => {
  it('lets the child write straight into the file and reads it back for outputMatching and output()', async () => {
    const dir = await tempDir('wa-test-support-');
    const logFile = path.join(dir, 'out.log');
    await fs.writeFile(logFile, 'an earlier run\n');
    try {
      const proc = spawnProcess(process.execPath, ['-e', "console.log('listening on 4711'); console.error('a warning'); setTimeout(() => {}, 60_000)"], { env: cleanEnv(), logFile });
      expect((await proc.outputMatching(/listening on (\d+)/))[1]).toBe('4711');
      await proc.outputMatching(/a warning/);
      await proc.kill();
      expect(proc.output()).toBe('listening on 4711\na warning\n');
      expect(await fs.readFile(logFile, 'utf8')).toBe('an earlier run\nlistening on 4711\na warning\n');
      expect([proc.stdout(), proc.stderr()]).toEqual(['', '']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('stops the child when its signal is aborted', async () => {
    const controller = new AbortController();
    const proc = spawnProcess(process.execPath, ['-e', "console.log('ready'); setTimeout(() => {}, 60_000)"], { env: cleanEnv(), signal: controller.signal });
    await proc.outputMatching(/ready/);
    controller.abort();
    expect(await proc.done).toMatchObject({ code: null, signal: 'SIGTERM', stdout: 'ready\n' });
  });
});
