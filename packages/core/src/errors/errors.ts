/**
 * The one error hierarchy of CertKD. Every error says what was wrong, where (file, field,
 * layer) and, where possible, what to do. `exitCode` is what the CLI exits with: 2 for bad
 * input, 1 for a failed run.
 */
export class CertkdError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A recipe, option or command-line value is invalid. */
export class ConfigError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
    readonly field?: string,
  ) {
    super([file, field].filter(Boolean).length ? `${[file, field].filter(Boolean).join(': ')}: ${message}` : message);
  }
}

/** A dataset file is missing, truncated or malformed. */
export class DataError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
  }
}

/** A model file (CertKD format or ONNX) is malformed or uses something unsupported. */
export class ModelFormatError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
    readonly node?: string,
  ) {
    super([file, node ? `node ${node}` : undefined, message].filter(Boolean).join(': '));
  }
}

/** A property file (VNN-LIB) is malformed. */
export class PropertyFormatError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file ?? '<input>'}${line !== undefined ? `:${line}:${column ?? 1}` : ''}: ${message}`);
  }
}

/** A layer kind has no relaxation (or attack/loss support) registered. */
export class UnsupportedLayerError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    readonly layerKind: string,
    readonly where: string,
    hint = 'register a relaxation for this layer kind (see docs/plugins/relaxation.md)',
  ) {
    super(`layer kind '${layerKind}' is not supported by ${where}: ${hint}`);
  }
}

/** A computation produced NaN/Inf or otherwise broke numerically. */
export class NumericalError extends CertkdError {}

/** A plugin name or kind is unknown, or registered twice. */
export class RegistryError extends CertkdError {
  override readonly exitCode = 2;
}

/** The user interrupted a run (Ctrl-C); work was stopped cleanly. */
export class CancelledError extends CertkdError {
  override readonly exitCode = 130;
}

/** Exit code for an arbitrary thrown value. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CertkdError ? err.exitCode : 1;
}
