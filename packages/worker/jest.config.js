// @fastify/swagger-ui loads @fastify/static, which requires the ESM-only content-disposition:
// let @swc/jest compile it to CommonJS like chalk.
module.exports = require('../../jest.preset')(__dirname, {
  transformIgnorePatterns: ['/node_modules/(?!(chalk|content-disposition|cookie)/)'],
});
