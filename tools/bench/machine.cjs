'use strict';
/**
 * What the benchmarks ran on: CPU model and SIMD level from /proc/cpuinfo, cores, load average,
 * Node, onnxruntime-node, and what PyTorch (Debian's /usr/bin/python3) reports about itself.
 */
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');

const PYTHON = '/usr/bin/python3';

function cpuInfo() {
  let text = '';
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return { model: os.cpus()[0]?.model ?? 'unknown', simd: 'unknown (no /proc/cpuinfo)' };
  }
  const model = (text.match(/^model name\s*:\s*(.+)$/m) || [])[1] || 'unknown';
  const flags = new Set(((text.match(/^flags\s*:\s*(.+)$/m) || [])[1] || '').split(/\s+/));
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.has(f));
  const level = flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2' : flags.has('avx') ? 'AVX' : 'SSE';
  return { model, simd: `${level} (${simd.join(' ')})` };
}

/** torch version, default threads and the SIMD level its kernels use; a reason string when absent. */
function torchInfo() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  const code = [
    'import torch, re',
    'cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)',
    'cfg = torch.__config__.show()',
    'm = re.search(r"CPU capability usage: (\\S+)", cfg)',
    'print(torch.__version__, torch.get_num_threads(), cap() if cap else (m.group(1) if m else "?"))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} has no torch (apt-get install -y python3-torch)`;
  const [version, threads, capability] = r.stdout.trim().split(/\s+/);
  return { version, threads: Number(threads), capability };
}

function ortVersion() {
  try {
    return require('onnxruntime-node/package.json').version;
  } catch {
    return null;
  }
}

const cores = () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** One object and a few printable lines. */
function describeMachine() {
  const cpu = cpuInfo();
  const torch = torchInfo();
  const info = {
    cpu: cpu.model,
    simd: cpu.simd,
    cores: cores(),
    node: process.version,
    onnxruntime_node: ortVersion(),
    torch: typeof torch === 'string' ? null : torch,
    torch_note: typeof torch === 'string' ? torch : undefined,
    load_average: load(),
  };
  const lines = [
    `machine: ${info.cpu}, ${info.cores} cores, ${info.simd}`,
    `software: Node ${info.node}, onnxruntime-node ${info.onnxruntime_node ?? 'not installed'}, ${
      info.torch ? `PyTorch ${info.torch.version} (${info.torch.threads} threads by default, kernels ${info.torch.capability})` : `PyTorch: ${info.torch_note}`
    }`,
    `load average: ${info.load_average}`,
  ];
  return { info, lines };
}

module.exports = { describeMachine, cores, load, PYTHON };

if (require.main === module) {
  const { info, lines } = describeMachine();
  if (process.argv.includes('--json')) console.log(JSON.stringify(info));
  else console.log(lines.join('\n'));
}
