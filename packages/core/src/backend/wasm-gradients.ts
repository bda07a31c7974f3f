/** Placeholder until the wasm gradient overrides land (being written now). */
export function registerWasmGradients(): void {}
