import { RegistryError, ConfigError } from '../errors/errors';
import { ContractOf, PLUGIN_KINDS, PluginDescriptor, PluginKind } from './plugin';

/**
 * A user-given name for a one-line message: 'name' when it is printable ASCII, else its JSON
 * string (newlines and control characters escaped).
 */
export function quoteName(name: unknown): string {
  return typeof name === 'string' && /^[\x20-\x7e]*$/.test(name) ? `'${name}'` : (JSON.stringify(name) ?? String(name));
}

/**
 * Registry of plugin descriptors by (kind, name). Refuses duplicates; unknown names list the
 * known ones. A run's registry is a child of the process's: it sees every built-in plugin and
 * adds the run's third-party ones without touching the parent.
 */
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, PluginDescriptor>>();

  constructor(private readonly parent?: PluginRegistry) {}

  register(d: PluginDescriptor, source?: string): void {
    if (!PLUGIN_KINDS.includes(d.kind)) {
      throw new RegistryError(`plugin '${d.name}' has unknown kind '${d.kind}' (kinds: ${PLUGIN_KINDS.join(', ')})`);
    }
    if (!/^[a-z0-9][a-z0-9-]*$/.test(d.name)) {
      throw new RegistryError(`plugin name '${d.name}' must be lowercase kebab-case`);
    }
    let m = this.byKind.get(d.kind);
    if (!m) this.byKind.set(d.kind, (m = new Map()));
    const prev = this.find(d.kind, d.name);
    if (prev) {
      throw new RegistryError(`a ${d.kind} plugin named '${d.name}' is already registered${prev.source ? ` by ${prev.source}` : ''}; choose another name`);
    }
    m.set(d.name, source && !d.source ? { ...d, source } : d);
  }

  private find(kind: PluginKind, name: string): PluginDescriptor | undefined {
    return this.byKind.get(kind)?.get(name) ?? this.parent?.find(kind, name);
  }

  has(kind: PluginKind, name: string): boolean {
    return this.find(kind, name) !== undefined;
  }

  get(kind: PluginKind, name: string): PluginDescriptor {
    const d = this.find(kind, name);
    if (!d) {
      const known = this.names(kind);
      throw new RegistryError(`unknown ${kind} ${quoteName(name)}; registered: ${known.length ? known.join(', ') : '(none)'}`);
    }
    return d;
  }

  /**
   * Parse options with the plugin's schema and create an instance of the kind's contract; bad
   * options raise ConfigError naming `where` and the field.
   */
  create<K extends PluginKind>(kind: K, name: string, options: unknown = {}, where = `${kind} ${quoteName(name)}`, file?: string): ContractOf<K> {
    const d = this.get(kind, name);
    // The one place a descriptor's product meets its kind's contract: register() files every
    // descriptor under its own kind, so what it creates is that kind's contract.
    return d.create(this.parseOptions(kind, name, options, where, file), { registry: this }) as ContractOf<K>;
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
    return [...new Set([...(this.parent?.names(kind) ?? []), ...(this.byKind.get(kind)?.keys() ?? [])])].sort();
  }

  list(kind?: PluginKind): PluginDescriptor[] {
    const kinds = kind ? [kind] : [...PLUGIN_KINDS];
    return kinds.flatMap((k) => this.names(k).map((n) => this.get(k, n)));
  }

  /** The typed view of one kind (what the kind's container token resolves to). */
  catalog<K extends PluginKind>(kind: K): PluginCatalog<K> {
    return new PluginCatalog(this, kind);
  }
}

/** The plugins of one kind: what `container.resolve(PLUGIN_TOKENS[kind])` returns. */
export class PluginCatalog<K extends PluginKind> {
  constructor(
    private readonly registry: PluginRegistry,
    readonly kind: K,
  ) {}

  names(): string[] {
    return this.registry.names(this.kind);
  }

  has(name: string): boolean {
    return this.registry.has(this.kind, name);
  }

  create(name: string, options: unknown = {}, where?: string, file?: string): ContractOf<K> {
    return this.registry.create(this.kind, name, options, where, file);
  }
}
