import type { onnx } from 'onnx-proto';

/**
 * What an op handler may ask of the importer: the current activation's shape and layout are
 * kept by the importer; a handler maps one node whose activation input is input `k` and whose
 * output is `out` onto IR layers.
 */
export interface OpImporter {
  fail(msg: string): never;
  passThrough(out: string): void;
  shapeOf(out: string, node: onnx.NodeProto): void;
  relu(out: string): void;
  flatten(node: onnx.NodeProto, out: string): void;
  reshape(node: onnx.NodeProto, out: string): void;
  transpose(node: onnx.NodeProto, out: string): void;
  conv(node: onnx.NodeProto, out: string): void;
  avgPool(node: onnx.NodeProto, out: string): void;
  gemm(node: onnx.NodeProto, out: string): void;
  matmul(node: onnx.NodeProto, out: string): void;
  batchNorm(node: onnx.NodeProto, out: string): void;
  elementwise(node: onnx.NodeProto, op: 'Add' | 'Sub' | 'Mul' | 'Div', k: number, out: string): void;
}

/** Maps one ONNX node on the layer chain (activation at input `k`) to IR layers. */
export type OpHandler = (g: OpImporter, node: onnx.NodeProto, k: number, out: string) => void;

const needInput = (k: number, want: number, g: OpImporter, msg: string) => {
  if (k !== want) g.fail(msg);
};
const elementwise =
  (op: 'Add' | 'Sub' | 'Mul' | 'Div'): OpHandler =>
  (g, node, k, out) =>
    g.elementwise(node, op, k, out);

/**
 * The ONNX ops the importer maps onto the layer chain, one entry each (as tfjs registers a
 * kernel per op): adding an op is one entry here and, when it needs one, one importer method.
 */
export const CHAIN_OPS: Readonly<Record<string, OpHandler>> = {
  Identity: (g, _n, _k, out) => g.passThrough(out),
  Dropout: (g, _n, _k, out) => g.passThrough(out),
  // A shape computation (e.g. PyTorch's x.view(x.size(0), -1)); batch taken as 1.
  Shape: (g, node, _k, out) => g.shapeOf(out, node),
  Relu: (g, _n, _k, out) => g.relu(out),
  Flatten: (g, node, _k, out) => g.flatten(node, out),
  Reshape: (g, node, k, out) => {
    needInput(k, 0, g, 'the activation must be the data input');
    g.reshape(node, out);
  },
  Transpose: (g, node, _k, out) => g.transpose(node, out),
  Conv: (g, node, k, out) => {
    needInput(k, 0, g, 'the activation must be input 0');
    g.conv(node, out);
  },
  AveragePool: (g, node, _k, out) => g.avgPool(node, out),
  Gemm: (g, node, k, out) => {
    needInput(k, 0, g, 'the activation must be input A (0); a constant A is not supported');
    g.gemm(node, out);
  },
  MatMul: (g, node, k, out) => {
    needInput(k, 0, g, 'the activation must be the left operand; constant @ activation is not supported');
    g.matmul(node, out);
  },
  BatchNormalization: (g, node, k, out) => {
    needInput(k, 0, g, 'the activation must be input X (0)');
    g.batchNorm(node, out);
  },
  Add: elementwise('Add'),
  Sub: elementwise('Sub'),
  Mul: elementwise('Mul'),
  Div: elementwise('Div'),
};

/** Ops evaluated when every input is a constant (shape subgraphs some exporters emit for Reshape targets). */
export const CONSTANT_OPS: readonly string[] = ['Identity', 'Cast', 'Unsqueeze', 'Gather', 'Concat'];

/** Ops with more than one output of which only the first is used. */
export const MULTI_OUTPUT_OPS: readonly string[] = ['BatchNormalization', 'Dropout'];

/** The supported op types, for messages. */
export const SUPPORTED_OPS_TEXT =
  'Gemm, MatMul, Add, Sub, Mul, Div, Conv, Relu, Flatten, Reshape, Transpose, AveragePool, BatchNormalization, Identity, Dropout, Constant, and Shape/Gather/Unsqueeze/Concat/Cast on shapes';

/** Whether the importer knows op type `op` at all (on the chain, on constants, or as Constant). */
export function isKnownOp(op: string): boolean {
  return op === 'Constant' || op in CHAIN_OPS || CONSTANT_OPS.includes(op);
}

/** The unsupported ops of a graph: one message for all of them and the nodes, for the error's node field. */
export interface UnsupportedOps {
  message: string;
  /** `#3 'act1' (Softplus), #7 (Foo)`: every node with an unsupported op, in graph order. */
  nodes: string;
}

/**
 * Every node of the graph whose op type the importer does not know, grouped by op type, so that
 * a model with several unsupported ops is reported once rather than op by op; null when every
 * op type is known. Nodes of a domain other than the default one count as unknown.
 */
export function unsupportedOps(nodes: readonly onnx.INodeProto[]): UnsupportedOps | null {
  const byOp = new Map<string, string[]>();
  const where: string[] = [];
  nodes.forEach((node, idx) => {
    const op = node.opType ?? '';
    const foreign = !!node.domain && node.domain !== 'ai.onnx';
    if (!foreign && isKnownOp(op)) return;
    const key = foreign ? `${node.domain}:${op}` : op;
    const at = `#${idx}${node.name ? ` '${node.name}'` : ''}`;
    byOp.set(key, [...(byOp.get(key) ?? []), at]);
    where.push(`${at} (${key})`);
  });
  if (byOp.size === 0) return null;
  const list = (at: string[]) => (at.length > 5 ? `${at.slice(0, 5).join(', ')} and ${at.length - 5} more` : at.join(', '));
  const parts = [...byOp].map(([op, at]) => `'${op}' (node${at.length > 1 ? 's' : ''} ${list(at)})`);
  return {
    message: `unsupported op type${byOp.size > 1 ? 's' : ''} ${parts.join(', ')} (supported: ${SUPPORTED_OPS_TEXT}, in the default domain)`,
    nodes: where.length > 5 ? `${where.slice(0, 5).join(', ')} and ${where.length - 5} more` : where.join(', '),
  };
}
