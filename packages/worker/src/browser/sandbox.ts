import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Whether Chromium runs with its own sandbox, and why (logged at start). */
export interface SandboxChoice {
  enabled: boolean;
  why: string;
}

/** What the choice depends on; the real machine's by default ({@link sandboxOnThisMachine}). */
export interface SandboxFacts {
  uid: number | undefined;
  /** `WHATSAPP_WEBJS_BROWSER_ARGS`: an operator's `--no-sandbox` is obeyed. */
  extraArgs: readonly string[];
  /** A file under /proc/sys, trimmed; undefined when the kernel has no such setting. */
  sysctl(name: string): string | undefined;
  /** Whether this user can create a user namespace (undefined: could not tell). */
  userNamespaceWorks(): boolean | undefined;
}

/**
 * Chromium's sandbox (a user namespace per renderer) stays on wherever the host allows it: it is
 * what keeps a compromised renderer from reading the worker's files and processes. Off for root
 * (Chromium refuses to start sandboxed as root) and where the kernel or a seccomp profile forbids
 * unprivileged user namespaces (Chromium would not start at all).
 */
export function chooseSandbox(facts: SandboxFacts): SandboxChoice {
  if (facts.extraArgs.includes('--no-sandbox')) return { enabled: false, why: 'WHATSAPP_WEBJS_BROWSER_ARGS has --no-sandbox' };
  if (facts.uid === 0) return { enabled: false, why: 'the worker runs as root, where Chromium refuses its sandbox: run it as a user of its own' };
  const off: Array<[string, string]> = [
    ['kernel/unprivileged_userns_clone', '0'],
    ['user/max_user_namespaces', '0'],
    ['kernel/apparmor_restrict_unprivileged_userns', '1'],
  ];
  for (const [name, value] of off) {
    if (facts.sysctl(name) === value) return { enabled: false, why: `unprivileged user namespaces are not allowed (${name.replace('/', '.')}=${value})` };
  }
  if (facts.userNamespaceWorks() === false) {
    return { enabled: false, why: 'creating a user namespace failed (a seccomp profile, e.g. Docker\'s default, blocks it)' };
  }
  return { enabled: true, why: 'unprivileged user namespaces are available' };
}

/** {@link chooseSandbox} on this machine: /proc/sys, and one `unshare --user true` (~3 ms) when not root. */
export function sandboxOnThisMachine(extraArgs: readonly string[]): SandboxChoice {
  return chooseSandbox({
    uid: process.getuid?.(),
    extraArgs,
    sysctl: (name) => {
      try {
        return fs.readFileSync(`/proc/sys/${name}`, 'utf8').trim();
      } catch {
        return undefined;
      }
    },
    userNamespaceWorks: () => {
      const tried = spawnSync('unshare', ['--user', 'true'], { stdio: 'ignore', timeout: 2000 });
      if (tried.error) return undefined; // no unshare(1) here: the sysctls above decided
      return tried.status === 0;
    },
  });
}
