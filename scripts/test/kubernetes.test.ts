import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../packages/worker/src/config';

// deploy/kubernetes rendered the way an operator renders it (`kubectl kustomize`, offline: no
// cluster needed), every object checked against the Kubernetes API's schemas (unknown keys
// included), and the properties the fleet relies on asserted on what kubectl actually produces.
const ROOT = path.resolve(__dirname, '..', '..');
const BASE = path.join(ROOT, 'deploy', 'kubernetes', 'base');
const EXAMPLE = path.join(ROOT, 'deploy', 'kubernetes', 'overlays', 'example');
const SCHEMA_CHECK = path.join(__dirname, 'kubernetes-schema.mjs');

// Only the fields these tests read; the schema check covers the rest.
type Json = Record<string, any>;
interface K8sObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}
interface SchemaResult {
  apiVersion: string;
  kind: string;
  name: string;
  errors: string[];
}

/** The `kubectl` on PATH. Throws when there is none: these tests fail loudly without it, they never skip. */
function kubectlPath(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'kubectl');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new Error('kubectl is not on PATH: install it (https://kubernetes.io/docs/tasks/tools/; `kubectl kustomize` needs no cluster) to run the Kubernetes tests');
}

/** `kubectl kustomize <dir>`, parsed: one object per YAML document. */
function render(dir: string): K8sObject[] {
  const yaml = execFileSync(kubectlPath(), ['kustomize', dir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } });
  return parseAllDocuments(yaml).map((document) => {
    if (document.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${document.errors[0]!.message}`);
    return document.toJS() as K8sObject;
  });
}

/** kubernetes-schema.mjs over `objects` (a child node: kubernetes-models is ESM-only). */
function checkSchemas(objects: unknown[]): SchemaResult[] {
  const run = spawnSync(process.execPath, [SCHEMA_CHECK], { input: JSON.stringify(objects), encoding: 'utf8', cwd: ROOT });
  if (run.status !== 0) throw new Error(`kubernetes-schema.mjs exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as SchemaResult[];
}

/** Objects with errors, as `Kind/name: error` lines: [] when all are valid. */
const schemaFailures = (results: SchemaResult[]) => results.flatMap((result) => result.errors.map((error) => `${result.kind}/${result.name}: ${error}`));

const only = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
};

/** A ConfigMap by the name its manifest gives (kustomize appends a content hash). */
const configMap = (objects: K8sObject[], name: string): Record<string, string> =>
  objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name.startsWith(`${name}-`))!.data;

const podSpec = (workload: K8sObject): Json => workload.spec.template.spec;
const mainContainer = (workload: K8sObject): Json => podSpec(workload).containers[0];
const allContainers = (workload: K8sObject): Json[] => [...(podSpec(workload).initContainers ?? []), ...podSpec(workload).containers];
const envValue = (container: Json, name: string): Json | undefined => container.env?.find((entry: Json) => entry.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

/** MiB in a Kubernetes memory quantity of the binary kind this repository uses (`2304Mi`, `2Gi`). */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`memory quantity ${quantity}: use Mi or Gi`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

const WORKLOADS = ['StatefulSet', 'Deployment', 'Job'];

describe('the Kubernetes manifests', () => {
  // Rendered once for every test; without kubectl each test fails with the reason.
  let base: K8sObject[];
  let example: K8sObject[];
  beforeAll(() => {
    base = render(BASE);
    example = render(EXAMPLE);
  });

  it('render, and every object of the base and of the example overlay passes the API schemas with no unknown key', () => {
    expect(example.map((object) => `${object.kind}/${object.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort()).toEqual([
      'ConfigMap/wa-sync',
      'ConfigMap/wa-worker',
      'Deployment/wa-sync',
      'Job/wa-sync-migrate',
      'Namespace/wa-session-sync',
      'NetworkPolicy/wa-worker',
      'PodDisruptionBudget/wa-worker',
      'Secret/wa-session-sync',
      'Service/wa-worker',
      'StatefulSet/wa-worker',
    ]);
    const results = checkSchemas([...base, ...example]);

    expect(results).toHaveLength(base.length + example.length);
    expect(schemaFailures(results)).toEqual([]);
  });

  it('the schema check rejects an unknown key at any depth and a wrong type, and accepts any key of a map', () => {
    const statefulSet = only(example, 'StatefulSet');
    const typo = structuredClone(statefulSet);
    typo.spec.template.spec.containers[0].securityContext.runAsNonroot = true; // runAsNonRoot
    const extra = structuredClone(statefulSet);
    extra.spec.replica = 3;
    const wrongType = structuredClone(statefulSet);
    wrongType.spec.template.spec.terminationGracePeriodSeconds = 'forty-five';
    const labelled = structuredClone(statefulSet);
    labelled.metadata.labels = { ...labelled.metadata.labels, 'example.com/any-key': 'x' };
    const unknownKind = { apiVersion: 'example.com/v1', kind: 'Fleet', metadata: { name: 'x' } };

    expect(checkSchemas([typo, extra, wrongType, labelled, unknownKind]).map((result) => result.errors)).toEqual([
      ['/spec/template/spec/containers/0/securityContext/runAsNonroot: unknown field'],
      ['/spec/replica: unknown field'],
      [expect.stringMatching(/^\/spec\/template\/spec\/terminationGracePeriodSeconds: /)],
      [],
      ['no schema for apiVersion "example.com/v1" kind "Fleet"'],
    ]);
  });

  it('run the workers as a StatefulSet behind a headless Service: the pod name is the worker id and its DNS name', () => {
    for (const objects of [base, example]) {
      const workers = only(objects, 'StatefulSet');
      const service = only(objects, 'Service', workers.spec.serviceName);
      const container = mainContainer(workers);

      expect(service.spec.clusterIP).toBe('None');
      expect(service.spec.publishNotReadyAddresses).toBe(true);
      expect(matches(service.spec.selector, workers.spec.template.metadata.labels)).toBe(true);
      expect(matches(workers.spec.selector.matchLabels, workers.spec.template.metadata.labels)).toBe(true);
      expect(envValue(container, 'WHATSAPP_WORKER_ID')).toEqual({ name: 'WHATSAPP_WORKER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
      expect(service.spec.ports).toEqual([expect.objectContaining({ port: 3001, targetPort: 'http' })]);
      expect(container.ports).toEqual([{ name: 'http', containerPort: 3001, protocol: 'TCP' }]);
      expect(envValue(container, 'PORT')?.value).toBe('3001');
      expect(envValue(container, 'HOST')?.value).toBe('0.0.0.0');
    }
    expect(only(example, 'StatefulSet').spec.replicas).toBe(3);
  });

  it('give the controller one URL per worker pod, through the headless Service', () => {
    for (const objects of [base, example]) {
      const workers = only(objects, 'StatefulSet');
      const port = mainContainer(workers).ports[0].containerPort;
      const expected = Array.from({ length: workers.spec.replicas }, (_, i) => `http://${workers.metadata.name}-${i}.${workers.spec.serviceName}:${port}`);

      expect(configMap(objects, 'wa-sync').WHATSAPP_NODE_SERVICE_URLS!.split(',')).toEqual(expected);
    }
  });

  it('keep the sessions folder, /tmp and HOME in emptyDirs under a read-only root, with the auth in Postgres', () => {
    const workers = only(example, 'StatefulSet');
    const container = mainContainer(workers);
    const volumeAt = (mountPath: string) => {
      const mount = container.volumeMounts.find((m: Json) => m.mountPath === mountPath);
      return podSpec(workers).volumes.find((v: Json) => v.name === mount?.name);
    };

    expect(workers.spec.volumeClaimTemplates).toBeUndefined();
    for (const folder of [envValue(container, 'WHATSAPP_SESSIONS_DIR')!.value, envValue(container, 'LOG_DIR')!.value, '/tmp', '/home/node']) {
      expect({ folder, emptyDir: volumeAt(folder)?.emptyDir }).toEqual({ folder, emptyDir: {} });
    }
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(configMap(example, 'wa-worker')).toEqual(expect.objectContaining({ WHATSAPP_AUTH_STORE: 'postgres', WHATSAPP_LEASE_TTL_SECONDS: '30' }));
    expect(envValue(container, 'WHATSAPP_WEBJS_BROWSER_ARGS')?.value).toBe('--no-sandbox');
  });

  it('probe /health three ways, the startup probe long enough for the preflight', () => {
    const container = mainContainer(only(example, 'StatefulSet'));

    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect({ probe, httpGet: container[probe]?.httpGet }).toEqual({ probe, httpGet: { path: '/health', port: 'http' } });
    }
    const startup = container.startupProbe;
    expect(startup.periodSeconds * startup.failureThreshold).toBeGreaterThanOrEqual(120);
    // args, not command: the image's ENTRYPOINT (tini) stays PID 1; the preflight runs first.
    expect(container.command).toBeUndefined();
    expect(container.args).toEqual(['sh', '-c', 'wa-worker --check && exec wa-worker']);
  });

  it('give a worker more time to stop than its shutdown bound and hard stop (+5 s in service.ts)', () => {
    const workers = only(example, 'StatefulSet');
    const configured = configMap(example, 'wa-worker').WHATSAPP_SHUTDOWN_TIMEOUT_MS;
    const bound = loadConfig({ WHATSAPP_NODE_API_KEY: '5c0f3e9a7b21d4c86e1f0a9b3d7c2e54', WHATSAPP_SHUTDOWN_TIMEOUT_MS: configured }).shutdownTimeoutMs + 5_000;

    expect(read('packages/worker/src/service.ts')).toContain('config.shutdownTimeoutMs + 5000');
    // The final auth saves come on top of the bound: at least 15 s more for them.
    expect(podSpec(workers).terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(bound + 15_000);
  });

  it('size a worker from its session cap: the memory limit holds the cap times the per-session budget', () => {
    const container = mainContainer(only(example, 'StatefulSet'));
    const settings = configMap(example, 'wa-worker');
    const browsers = Number(settings.WHATSAPP_MAX_SESSIONS) * Number(settings.WHATSAPP_SESSION_MEMORY_MB);
    const limit = mebibytes(container.resources.limits.memory);

    expect(Number(settings.WHATSAPP_MAX_SESSIONS)).toBe(10);
    // The worker's own process (~70 MiB private, BENCHMARKS.md) on top of the browsers.
    expect(limit).toBeGreaterThanOrEqual(browsers + 70);
    expect(container.resources.requests.memory).toBe(container.resources.limits.memory);
  });

  it('run every container as the image user, unprivileged: no escalation, no capability, RuntimeDefault seccomp', () => {
    expect(read('Dockerfile')).toContain('\nUSER node\n'); // uid 1000 in the node images
    for (const objects of [base, example]) {
      for (const workload of objects.filter((object) => WORKLOADS.includes(object.kind))) {
        const pod = podSpec(workload);
        expect({ workload: workload.kind, pod: pod.securityContext }).toEqual({
          workload: workload.kind,
          pod: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        });
        expect(pod.automountServiceAccountToken).toBe(false);
        for (const container of allContainers(workload)) {
          expect({ container: container.name, securityContext: container.securityContext }).toEqual({
            container: container.name,
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
          });
        }
      }
    }
  });

  it('hand every secret as a 0600 file of the process user: copied from the Secret into memory by an init container', () => {
    const secret = only(example, 'Secret');
    for (const workload of example.filter((object) => WORKLOADS.includes(object.kind))) {
      const pod = podSpec(workload);
      const volume = (name: string) => pod.volumes.find((v: Json) => v.name === name);
      const [init] = pod.initContainers;
      const source = volume(init.volumeMounts.find((m: Json) => m.readOnly).name).secret;
      const target = init.volumeMounts.find((m: Json) => !m.readOnly);
      const files = mainContainer(workload).env.filter((entry: Json) => entry.name.endsWith('_FILE'));

      expect(init.command.join(' ')).toContain(`install -m 0600 /run/secrets-source/* ${target.mountPath}/`);
      expect(volume(target.name).emptyDir.medium).toBe('Memory');
      expect(source.secretName).toBe(secret.metadata.name);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(path.dirname(file.value)).toBe(target.mountPath);
        expect(source.items.map((item: Json) => item.path)).toContain(path.basename(file.value));
      }
      for (const item of source.items) expect(Object.keys(secret.stringData)).toContain(item.key);
    }
    // Secrets stay out of the base, so that no real overlay inherits a placeholder.
    expect(base.filter((object) => object.kind === 'Secret')).toEqual([]);
  });

  it("the example Secret's placeholders are refused by the worker at start", () => {
    const { stringData } = only(example, 'Secret');

    expect(() => loadConfig({ WHATSAPP_NODE_API_KEY: stringData['node-api-key'] })).toThrow(/WHATSAPP_NODE_API_KEY/);
    expect(() =>
      loadConfig({ WHATSAPP_NODE_API_KEY: '5c0f3e9a7b21d4c86e1f0a9b3d7c2e54', WHATSAPP_WEBHOOK_URL: 'https://app.example.com/hook', WHATSAPP_WEBHOOK_SECRET: stringData['webhook-secret'] }),
    ).toThrow(/WHATSAPP_WEBHOOK_SECRET/);
  });

  it('run the controller as one Deployment replica in --watch mode, and the migration as a Job', () => {
    for (const objects of [base, example]) {
      const controller = only(objects, 'Deployment');
      const migrate = only(objects, 'Job');

      expect(controller.spec.replicas).toBe(1);
      expect(mainContainer(controller).args).toEqual(expect.arrayContaining(['wa-sync', 'sync-sessions', '--watch']));
      expect(mainContainer(controller).args.slice(0, 2)).toEqual(['wa-sync', 'sync-sessions']);
      expect(mainContainer(migrate).args).toEqual(['wa-sync', 'migrate']);
      expect(podSpec(migrate).restartPolicy).toBe('OnFailure');
    }
  });

  it('let one worker at a time be disrupted, and only the controller and labelled clients reach the workers', () => {
    const workers = only(example, 'StatefulSet');
    const controller = only(example, 'Deployment');
    const migrate = only(example, 'Job');
    const budget = only(example, 'PodDisruptionBudget');
    const policy = only(example, 'NetworkPolicy');
    const [rule] = policy.spec.ingress;
    const admitted = (labels: Record<string, string>) => rule.from.some((peer: Json) => matches(peer.podSelector.matchLabels, labels));

    expect(budget.spec.maxUnavailable).toBe(1);
    expect(matches(budget.spec.selector.matchLabels, workers.spec.template.metadata.labels)).toBe(true);
    expect(matches(policy.spec.podSelector.matchLabels, workers.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toHaveLength(1);
    expect(rule.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    expect(rule.from.every((peer: Json) => Object.keys(peer).join() === 'podSelector')).toBe(true);
    expect(admitted(controller.spec.template.metadata.labels)).toBe(true);
    expect(admitted({ 'wa-session-sync/client': 'true' })).toBe(true);
    expect(admitted(migrate.spec.template.metadata.labels)).toBe(false);
    expect(admitted(workers.spec.template.metadata.labels)).toBe(false);
  });

  it('put the example overlay in its own namespace, with its image', () => {
    const namespace = only(example, 'Namespace').metadata.name;

    for (const object of example.filter((o) => o.kind !== 'Namespace')) expect(`${object.kind}:${object.metadata.namespace}`).toBe(`${object.kind}:${namespace}`);
    for (const workload of example.filter((object) => WORKLOADS.includes(object.kind))) {
      for (const container of allContainers(workload)) expect(container.image).toBe('registry.example.com/wa-session-sync:0.1.0');
    }
  });
});

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}
