import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The Swagger UI files served, with their types: nothing else of the package is reachable. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>wa-worker API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: '/docs/json',
      dom_id: '#swagger-ui',
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: 'StandaloneLayout',
    });
  </script>
</body>
</html>
`;

/**
 * `/docs`: the OpenAPI document (`/docs/json`, from @fastify/swagger) and Swagger UI over it.
 * The UI's files are read from swagger-ui-dist on first request and kept: registering
 * @fastify/swagger-ui (a static file server over them) cost ~25 ms of every start.
 */
export function docsRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  let distDir: string | null = null;
  const hidden = { schema: { hide: true } };

  app.get('/docs', hidden, (_request, reply) => reply.redirect('/docs/'));
  app.get('/docs/', hidden, (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/docs/json', hidden, () => app.swagger());
  app.get<{ Params: { file: string } }>('/docs/static/:file', hidden, async (request, reply) => {
    const type = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
    if (!type) return reply.code(404).send({ error: { code: 'not_found', message: 'No such documentation file' } });
    let body = cache.get(request.params.file);
    if (!body) {
      distDir ??= path.dirname(require.resolve('swagger-ui-dist/package.json'));
      body = await readFile(path.join(distDir, request.params.file));
      cache.set(request.params.file, body);
    }
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
  });
}
