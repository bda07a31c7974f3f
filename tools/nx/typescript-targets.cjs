// Nx inference plugin for this workspace's TypeScript packages (registered in nx.json).
// Every package with a tsconfig.json and a package.json under packages/ gets:
//   build      tsc -p tsconfig.json        (emits dist/; one project at a time, never its references)
//   typecheck  tsc -p tsconfig.spec.json   (sources, specs and __fixtures__, no emit)
// dependsOn, inputs, outputs and caching come from targetDefaults in nx.json, so that file is the
// one place that says what a target reads and writes. @nx/js's own typescript plugin is not used
// because its typecheck target runs `tsc --build --emitDeclarationOnly`, which needs an emitting
// spec config and rebuilds referenced projects inside the typecheck task.
'use strict';
const fs = require('fs');
const path = require('path');

const createNodes = [
  'packages/**/tsconfig.json',
  (configFiles, _options, context) =>
    configFiles.flatMap((file) => {
      const root = path.dirname(file);
      const abs = path.join(context.workspaceRoot, root);
      if (!fs.existsSync(path.join(abs, 'package.json')) || root.split('/').includes('node_modules')) return [];
      const spec = fs.existsSync(path.join(abs, 'tsconfig.spec.json'));
      return [
        [
          file,
          {
            projects: {
              [root]: {
                targets: {
                  build: {
                    command: 'tsc -p tsconfig.json',
                    options: { cwd: root },
                    metadata: { technologies: ['typescript'], description: 'Compile src/ to dist/ (JavaScript, declarations, source maps)' },
                  },
                  typecheck: {
                    command: spec ? 'tsc -p tsconfig.spec.json' : 'tsc -p tsconfig.json --noEmit',
                    options: { cwd: root },
                    metadata: {
                      technologies: ['typescript'],
                      description: spec
                        ? 'Type-check sources, specs and fixtures (tsconfig.spec.json)'
                        : 'Type-check sources (add a tsconfig.spec.json to cover the specs)',
                    },
                  },
                },
              },
            },
          },
        ],
      ];
    }),
];

module.exports = { createNodes, createNodesV2: createNodes };
