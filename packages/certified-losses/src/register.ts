import { pluginRegistry, type DependencyContainer, type PluginDescriptor } from '@certkd/core';
import { ibpLossPlugin } from './losses/ibp-loss';
import { crownIbpLossPlugin } from './losses/crown-ibp-loss';
import { sabrLossPlugin } from './losses/sabr-loss';
import { ccIbpLossPlugin } from './losses/cc-ibp-loss';
import { mtlIbpLossPlugin } from './losses/mtl-ibp-loss';
import { expIbpLossPlugin } from './losses/exp-ibp-loss';
import { standardLossPlugin } from './losses/standard-loss';

/** Every certified-loss plugin of this package. */
export const CERTIFIED_LOSS_PLUGINS: readonly PluginDescriptor[] = [
  ibpLossPlugin,
  crownIbpLossPlugin,
  sabrLossPlugin,
  ccIbpLossPlugin,
  mtlIbpLossPlugin,
  expIbpLossPlugin,
  standardLossPlugin,
] as unknown as PluginDescriptor[];

/** Composition root: registers the certified training losses. */
export function registerCertifiedLosses(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const p of CERTIFIED_LOSS_PLUGINS) registry.register(p, '@certkd/certified-losses');
}
