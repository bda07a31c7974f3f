import { z } from 'zod';
import { PluginRegistry, quoteName } from './registry';
import { registerCore } from './register-core';
import { createPluginContainer, pluginRegistry } from './container';
import { PLUGIN_KINDS } from './plugin';
import { PLUGIN_TOKENS, TOKENS } from './tokens';
import { ConfigError, RegistryError } from '../errors/errors';

const plugin = (name: string) => ({
  kind: 'attack' as const,
  name,
  description: `attack ${name}`,
  options: z.object({ steps: z.number().int().positive().default(3) }).strict(),
  create: (o: { steps: number }) => ({ name, steps: o.steps }),
});

describe('PluginRegistry', () => {
  it('registers, lists by kind and creates with parsed options', () => {
    const r = new PluginRegistry();
    r.register(plugin('pgd'));
    r.register(plugin('fgsm'));
    expect(r.names('attack')).toEqual(['fgsm', 'pgd']);
    const steps = (o?: unknown) => (r.create('attack', 'pgd', o) as unknown as { steps: number }).steps;
    expect(steps()).toBe(3);
    expect(steps({ steps: 7 })).toBe(7);
  });

  it('refuses a duplicate (kind, name) and names who registered it', () => {
    const r = new PluginRegistry();
    r.register(plugin('pgd'), '@certkd/attacks');
    expect(() => r.register(plugin('pgd'))).toThrow(/already registered by @certkd\/attacks/);
  });

  it('answers an unknown name with the registered names', () => {
    const r = new PluginRegistry();
    r.register(plugin('pgd'));
    r.register(plugin('fgsm'));
    expect(() => r.get('attack', 'cw')).toThrow(RegistryError);
    expect(() => r.get('attack', 'cw')).toThrow("unknown attack 'cw'; registered: fgsm, pgd");
    expect(() => r.get('dataset', 'x')).toThrow('registered: (none)');
  });

  it('rejects invalid options with a ConfigError naming the field', () => {
    const r = new PluginRegistry();
    r.register(plugin('pgd'));
    expect(() => r.create('attack', 'pgd', { steps: -1 })).toThrow(ConfigError);
    expect(() => r.create('attack', 'pgd', { steps: -1 })).toThrow(/attack 'pgd'\.steps/);
    expect(() => r.create('attack', 'pgd', { stepz: 2 })).toThrow(ConfigError);
  });

  it('parseOptions names the file and the exact option field, creating nothing', () => {
    const r = new PluginRegistry();
    const created = jest.fn();
    r.register({ ...plugin('pgd'), create: created });
    expect(r.parseOptions('attack', 'pgd', { steps: 5 }, 'stages.0.attack.options', 'r.yaml')).toEqual({ steps: 5 });
    expect(() => r.parseOptions('attack', 'pgd', { steps: 1.5 }, 'stages.0.attack.options', 'r.yaml')).toThrow(/^r\.yaml: stages\.0\.attack\.options\.steps: /);
    expect(() => r.parseOptions('attack', 'pgd', { foo: 1 }, 'stages.0.attack.options', 'r.yaml')).toThrow(
      "r.yaml: stages.0.attack.options.foo: unknown option(s) 'foo' of attack 'pgd'",
    );
    expect(created).not.toHaveBeenCalled();
  });

  it('quotes user-given names on one line', () => {
    expect(quoteName('cw')).toBe("'cw'");
    expect(quoteName('a\nb')).toBe('"a\\nb"');
    const r = new PluginRegistry();
    expect(() => r.get('attack', 'x\ny')).toThrow('unknown attack "x\\ny"; registered: (none)');
  });

  it('rejects bad kinds and names', () => {
    const r = new PluginRegistry();
    expect(() => r.register({ ...plugin('x'), kind: 'nope' as never })).toThrow(/unknown kind/);
    expect(() => r.register(plugin('Bad Name'))).toThrow(/kebab-case/);
  });

  it('core registers the four architectures', () => {
    const c = createPluginContainer();
    registerCore(c);
    expect(pluginRegistry(c).names('architecture')).toEqual(['cnn-medium', 'cnn-small', 'cnn7', 'mlp']);
  });
});

describe('plugin containers', () => {
  it('a run container sees the root plugins, adds its own without touching the root, and refuses shadowing', () => {
    const root = createPluginContainer();
    registerCore(root);
    const run = createPluginContainer(root);
    pluginRegistry(run).register(plugin('pgd'), 'third-party');
    expect(run.resolve(PLUGIN_TOKENS.architecture).names()).toEqual(['cnn-medium', 'cnn-small', 'cnn7', 'mlp']);
    expect(run.resolve(PLUGIN_TOKENS.attack).names()).toEqual(['pgd']);
    expect(root.resolve(PLUGIN_TOKENS.attack).names()).toEqual([]);
    expect(run.resolve(PLUGIN_TOKENS.architecture).create('mlp').name).toBe('mlp');
    expect(() => pluginRegistry(run).register({ ...plugin('mlp'), kind: 'architecture' })).toThrow(/already registered by @certkd\/core/);
    expect(run.resolve(TOKENS.Registry)).toBe(pluginRegistry(run));
    for (const k of PLUGIN_KINDS) expect((run.resolve(PLUGIN_TOKENS[k] as never) as { kind: string }).kind).toBe(k);
  });

  it('hands the creating registry to plugin factories', () => {
    const root = createPluginContainer();
    const run = createPluginContainer(root);
    root.resolve(TOKENS.Registry).register({ ...plugin('outer'), create: (_o: unknown, s: { registry: PluginRegistry }) => s.registry.names('attack') });
    pluginRegistry(run).register(plugin('inner'));
    expect(pluginRegistry(run).create('attack', 'outer')).toEqual(['inner', 'outer']);
  });
});
