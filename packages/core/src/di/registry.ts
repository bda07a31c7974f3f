import { injectable, container as rootContainer, DependencyContainer } from 'tsyringe';
import { RegistryError, ConfigError } from '../errors/errors';
import { PLUGIN_KINDS, PluginDescriptor, PluginKind } from './plugin';

/** Registry of plugin descriptors by (kind, name). Refuses duplicates; unknown names list the known ones. */
@injectable()
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, PluginDescriptor>>();

  register(d: PluginDescriptor, source?: string): void {
    if (!PLUGIN_KINDS.includes(d.kind)) {
      throw new RegistryError(`plugin '${d.name}' has unknown kind '${d.kind}' (kinds: ${PLUGIN_KINDS.join(', ')})`);
    }
    if (!/^[a-z0-9][a-z0-9-]*$/.test(d.name)) {
      throw new RegistryError(`plugin name '${d.name}' must be lowercase kebab-case`);
    }
    let m = this.byKind.get(d.kind);
    if (!m) this.byKind.set(d.kind, (m = new Map()));
    const prev = m.get(d.name);
    if (prev) {
      throw new RegistryError(
        `a ${d.kind} plugin named '${d.name}' is already registered${prev.source ? ` by ${prev.source}` : ''}; choose another name`,
      );
    }
    m.set(d.name, source && !d.source ? { ...d, source } : d);
  }

  has(kind: PluginKind, name: string): boolean {
    return this.byKind.get(kind)?.has(name) ?? false;
  }

  get<T = unknown, O = unknown>(kind: PluginKind, name: string): PluginDescriptor<T, O> {
    const d = this.byKind.get(kind)?.get(name);
    if (!d) {
      const known = this.names(kind);
      throw new RegistryError(`unknown ${kind} '${name}'; registered: ${known.length ? known.join(', ') : '(none)'}`);
    }
    return d as PluginDescriptor<T, O>;
  }

  /** Parse options with the plugin's schema and create an instance; bad options raise ConfigError. */
  create<T>(kind: PluginKind, name: string, options: unknown = {}, container: DependencyContainer = rootContainer, where = `${kind} '${name}'`): T {
    const d = this.get<T>(kind, name);
    const parsed = d.options.safeParse(options ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(issue.message, undefined, `${where}${issue.path.length ? '.' + issue.path.join('.') : ''}`);
    }
    return d.create(parsed.data, { container });
  }

  names(kind: PluginKind): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  list(kind?: PluginKind): PluginDescriptor[] {
    const kinds = kind ? [kind] : [...PLUGIN_KINDS];
    return kinds.flatMap((k) => [...(this.byKind.get(k)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name)));
  }
}
