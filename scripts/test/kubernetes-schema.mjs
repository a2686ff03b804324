// Validates Kubernetes objects against the API's schemas, for scripts/test/kubernetes.test.ts.
// A child process because kubernetes-models is ESM-only and jest runs the tests as CommonJS.
//
//   node scripts/test/kubernetes-schema.mjs < objects.json
//
// stdin: a JSON array of objects; stdout: a JSON array, one entry per object,
// `{ apiVersion, kind, name, errors: string[] }` (no errors: valid). Exit 0 whatever it finds;
// anything else (bad input, a validator that throws) exits 1 with the reason on stderr.
//
// kubernetes-models checks types, enums and required fields but accepts keys the schema does not
// know (a typo such as `runAsNonroot` would pass, and the API server would drop it in silence). It
// ships its schemas compiled (ajv standalone code), so there are no `properties` to read. A key is
// therefore known when the compiled schema looks at its value: put a value no JSON type accepts (a
// Symbol) under the key and see whether the validator complains at that path. A declared field
// always complains (its schema has a type); so does any key of a map (labels, ConfigMap data),
// whose `additionalProperties` schema checks every value; a key nothing checks is unknown. The
// only known fields this reports as unknown are untyped ones (`{}`, e.g. RawExtension): a false
// alarm, never a silent pass.

const PROBE = Symbol('probe');

/** `kubernetes-models/<apiVersion>` exports one model class per kind; core is `v1`. */
async function modelFor(apiVersion, kind) {
  let group;
  try {
    group = await import(`kubernetes-models/${apiVersion}`);
  } catch {
    return undefined;
  }
  return typeof group[kind]?.prototype?.validate === 'function' ? group[kind] : undefined;
}

/** ajv's errors for `object` (empty: valid); the model's validate() throws them as one error. */
function schemaErrors(Model, object) {
  try {
    Model.prototype.validate.call(object);
    return [];
  } catch (error) {
    if (!Array.isArray(error?.errors)) throw error;
    return error.errors;
  }
}

/** A JSON pointer segment (ajv's instancePath): `~` and `/` escaped. */
const pointer = (key) => String(key).replaceAll('~', '~0').replaceAll('/', '~1');

/** Every key of `root` the schema does not know, as JSON pointers (an unknown key's subtree is not walked). */
function unknownKeys(Model, root) {
  const unknown = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, `${path}/${index}`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const key of Object.keys(node)) {
      const at = `${path}/${pointer(key)}`;
      const value = node[key];
      node[key] = PROBE;
      let errors;
      try {
        errors = schemaErrors(Model, root);
      } finally {
        node[key] = value;
      }
      const known = errors.some((error) => error.instancePath === at || error.instancePath.startsWith(`${at}/`));
      if (known) walk(value, at);
      else unknown.push(at);
    }
  };
  walk(root, '');
  return unknown;
}

async function validate(object) {
  const { apiVersion, kind } = object ?? {};
  const result = { apiVersion, kind, name: object?.metadata?.name, errors: [] };
  const Model = typeof apiVersion === 'string' && typeof kind === 'string' ? await modelFor(apiVersion, kind) : undefined;
  if (!Model) {
    result.errors.push(`no schema for apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}`);
    return result;
  }
  const errors = schemaErrors(Model, object);
  // The walk needs an object the schema accepts: a probe's error would hide among the others.
  if (errors.length > 0) {
    result.errors.push(...errors.map((error) => `${error.instancePath || '/'}: ${error.message}`));
    return result;
  }
  result.errors.push(...unknownKeys(Model, object).map((at) => `${at}: unknown field`));
  return result;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
if (!Array.isArray(objects)) throw new Error('stdin must be a JSON array of Kubernetes objects');
const results = [];
for (const object of objects) results.push(await validate(object));
process.stdout.write(`${JSON.stringify(results)}\n`);
