import * as path from 'path';
import { loadTeacher } from '@certkd/teachers';
import { RunContext } from '../engine/context';
import { LoadTeacherStage } from '../recipe/schema';
import { asyncStage } from '../engine/async-stage';

/** Load a frozen teacher from a CertKD model directory or an ONNX file. */
export function loadTeacherStage(ctx: RunContext, st: LoadTeacherStage) {
  return asyncStage(ctx, async (emit) => {
    const file = path.resolve(path.dirname(ctx.recipeFile), st.path);
    const teacher = loadTeacher(file, { tap: st.tap });
    ctx.teachers.set(st.model, teacher);
    emit({ type: 'log', stage: 'load-teacher', message: `teacher '${st.model}' from ${file}: ${teacher.featureWidth} features at '${st.tap}'` });
  });
}
