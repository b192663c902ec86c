// The layering rule of DESIGN.md as a build failure: cli -> service -> common, never back.
const SERVICES = '(identity|image|compute|placement|network|volume|object|orchestration|metering|database|dashboard)';
module.exports = {
  forbidden: [
    { name: 'common-imports-no-service', severity: 'error', comment: 'src/common is shared plumbing: it must not know any service.',
      from: { path: '^src/common/' }, to: { path: `^src/(cli|${SERVICES})/` } },
    { name: 'services-do-not-import-cli', severity: 'error', comment: 'Entry points depend on services, not the reverse.',
      from: { path: `^src/${SERVICES}/` }, to: { path: '^src/cli/' } },
    { name: 'no-reaching-into-other-services', severity: 'error',
      comment: 'A service uses another only through that service\'s client.ts (its REST API), never its internals.',
      from: { path: `^src/(${SERVICES})/` }, to: { path: `^src/${SERVICES}/`, pathNot: ['^src/$1/', `^src/${SERVICES}/client\\.ts$`] } },
    { name: 'no-circular', severity: 'warn', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.test\\.ts$' },
  },
};
