import * as fs from 'fs';
import * as path from 'path';
import type { Network } from '@certkd/core';
import { loadTeacher } from '@certkd/teachers';
import { RunContext } from '../engine/context';
import { LoadTeacherStage } from '../recipe/schema';
import { asyncStage } from '../engine/async-stage';

/**
 * Load a frozen teacher from a CertKD model directory or an ONNX file. The teacher is also a model
 * of the run (role teacher), as a trained one is, so evaluate, certify and report stages can name
 * it: a recipe reads the same whether its teacher was trained in the run or loaded.
 */
export function loadTeacherStage(ctx: RunContext, st: LoadTeacherStage) {
  return asyncStage(ctx, async (emit) => {
    const file = path.resolve(path.dirname(ctx.recipeFile), st.path);
    const teacher = loadTeacher(file, { tap: st.tap });
    ctx.teachers.set(st.model, teacher);
    registerLoadedTeacher(ctx, st.model, file, teacher.net);
    emit({ type: 'log', stage: 'load-teacher', message: `teacher '${st.model}' from ${file}: ${teacher.featureWidth} features at '${st.tap}'` });
  });
}

/** A loaded teacher as a model of the run: its own copy of the network (the teacher owns the other). */
export function registerLoadedTeacher(ctx: RunContext, name: string, file: string, net: Network): void {
  if (ctx.models.has(name)) return;
  const architecture = file.toLowerCase().endsWith('.onnx') ? 'onnx' : architectureOf(file);
  ctx.models.set(name, { name, network: net.clone(), architecture, role: 'teacher', path: file });
  ctx.results[name] = { ...(ctx.results[name] ?? {}), architecture, role: 'teacher', loaded_from: file };
}

/** The architecture a CertKD model directory names (already read and checked by loadTeacher). */
function architectureOf(dir: string): string {
  const json = JSON.parse(fs.readFileSync(dir.endsWith('.json') ? dir : path.join(dir, 'model.json'), 'utf8')) as { metadata?: { architecture?: unknown } };
  return typeof json.metadata?.architecture === 'string' ? json.metadata.architecture : 'loaded';
}
