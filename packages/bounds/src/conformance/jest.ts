import { ConformanceOptions, ConformanceViolation, checkActivationLines, checkNetwork, conformanceNetworkNames } from './check';

type TestRegistrar = (name: string, fn: () => void, timeout?: number) => void;

function format(v: ConformanceViolation[]): string {
  return v.map((x) => `[${x.check}] ${x.method} on ${x.network}: ${x.detail}`).join('\n');
}

/**
 * Register the relaxation conformance suite with the running test framework (Jest's global
 * describe/it): activation lines, then soundness (sampled and PGD points at every layer
 * boundary and on spec outputs), tightness order and tensor leaks on every conformance network.
 */
export function runRelaxationConformance(describeName: string, options: ConformanceOptions = {}): void {
  const g = globalThis as unknown as { describe?: (name: string, fn: () => void) => void; it?: TestRegistrar };
  const { describe, it } = g;
  if (!describe || !it) throw new Error('runRelaxationConformance must be called from a test file (describe/it are not defined)');
  describe(describeName, () => {
    it('activation relaxations stay between their lines', () => {
      const v = checkActivationLines(options);
      if (v.length) throw new Error(format(v));
    });
    for (const name of options.networks ?? conformanceNetworkNames()) {
      it(`is sound, ordered by tightness and leak-free on ${name}`, () => {
        const v = checkNetwork(name, options);
        if (v.length) throw new Error(format(v));
      }, 60000);
    }
  });
}
