import { injectable, container as rootContainer, DependencyContainer } from 'tsyringe';
import { RegistryError, ConfigError } from '../errors/errors';
import { PLUGIN_KINDS, PluginDescriptor, PluginKind } from './plugin';

/**
 * A user-given name for a one-line message: 'name' when it is printable ASCII, else its JSON
 * string (newlines and control characters escaped).
 */
export function quoteName(name: unknown): string {
  return typeof name === 'string' && /^[\x20-\x7e]*$/.test(name) ? `'${name}'` : JSON.stringify(name) ?? String(name);
}

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
      throw new RegistryError(`unknown ${kind} ${quoteName(name)}; registered: ${known.length ? known.join(', ') : '(none)'}`);
    }
    return d as PluginDescriptor<T, O>;
  }

  /** Parse options with the plugin's schema and create an instance; bad options raise ConfigError. */
  create<T>(kind: PluginKind, name: string, options: unknown = {}, container: DependencyContainer = rootContainer, where = `${kind} ${quoteName(name)}`): T {
    const d = this.get<T>(kind, name);
    return d.create(this.parseOptions(kind, name, options, where), { container });
  }

  /**
   * Parse options with the plugin's schema without creating anything. Bad options raise
   * ConfigError naming `file` and the exact field: `where` (where the options sit, e.g.
   * `dataset.options`) followed by the option's path.
   */
  parseOptions<O = unknown>(kind: PluginKind, name: string, options: unknown = {}, where = `${kind} ${quoteName(name)}`, file?: string): O {
    const parsed = this.get(kind, name).options.safeParse(options ?? {});
    if (parsed.success) return parsed.data as O;
    const issue = parsed.error.issues[0];
    const at = [where, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      // Reported on the enclosing object: name the first unknown key as the field.
      throw new ConfigError(`unknown option(s) ${issue.keys.map(quoteName).join(', ')} of ${kind} ${quoteName(name)}`, file, [...at, issue.keys[0]].join('.'));
    }
    throw new ConfigError(issue.message, file, at.join('.'));
  }

  names(kind: PluginKind): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  list(kind?: PluginKind): PluginDescriptor[] {
    const kinds = kind ? [kind] : [...PLUGIN_KINDS];
    return kinds.flatMap((k) => [...(this.byKind.get(k)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name)));
  }
}
