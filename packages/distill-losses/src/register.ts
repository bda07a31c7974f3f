import { pluginRegistry, type DependencyContainer, type PluginDescriptor } from '@certkd/core';
import { ccDistPlugin } from './cc-dist-loss';
import { adCertPlugin } from './ad-cert-loss';

/** Every distill-loss plugin of this package. */
export const DISTILL_LOSS_PLUGINS: readonly PluginDescriptor[] = [ccDistPlugin, adCertPlugin] as unknown as PluginDescriptor[];

/** Composition root: registers the distillation losses. */
export function registerDistillLosses(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const p of DISTILL_LOSS_PLUGINS) registry.register(p, '@certkd/distill-losses');
}
