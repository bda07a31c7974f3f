import { Command } from 'commander';
import { PLUGIN_KINDS, PluginKind } from '@certkd/core';
import { createRegistry } from '@certkd/pipeline';

export function pluginsCommand(): Command {
  return new Command('plugins')
    .description('list every registered plugin by kind')
    .option('--kind <kind>', `only this kind (${PLUGIN_KINDS.join(', ')})`)
    .option('--plugin <package...>', 'also load these third-party plugin packages')
    .option('--json', 'machine-readable output')
    .action((o: { kind?: string; plugin?: string[]; json?: boolean }) => {
      // Named on the command line by the user, so paths anywhere are fine (unlike a recipe's).
      const registry = createRegistry(o.plugin ?? [], process.cwd(), { allowExternal: true });
      const kinds = (o.kind ? [o.kind] : PLUGIN_KINDS) as PluginKind[];
      const rows = kinds.flatMap((k) => registry.list(k).map((d) => ({ kind: d.kind, name: d.name, description: d.description, source: d.source })));
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const k of kinds) {
        const list = rows.filter((r) => r.kind === k);
        if (!list.length) continue;
        process.stdout.write(`${k}:\n`);
        for (const r of list) process.stdout.write(`  ${r.name.padEnd(20)} ${r.description}${r.source ? `  [${r.source}]` : ''}\n`);
      }
    });
}
