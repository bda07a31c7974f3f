import { RunContext } from '../engine/context';
import { teacherChecks } from './report';

const ctxWith = (results: RunContext['results']) => ({ results }) as unknown as RunContext;

describe('teacherChecks (METHODS 7: a teacher must be stronger than its student)', () => {
  it('states the teacher and student PGD-40 and flags a teacher that is not stronger', () => {
    const checks = teacherChecks(
      ctxWith({
        weak: { architecture: 'cnn-small', role: 'teacher', clean_acc: 0.99, pgd_acc: 0.945 },
        strong: { architecture: 'cnn-small', role: 'teacher', clean_acc: 0.99, pgd_acc: 0.975 },
        a: { architecture: 'cnn-small', role: 'student', clean_acc: 0.985, pgd_acc: 0.9675, teacher: 'weak' },
        b: { architecture: 'cnn-small', role: 'student', clean_acc: 0.985, pgd_acc: 0.9675, teacher: 'strong' },
        c: { architecture: 'cnn-small', role: 'student', clean_acc: 0.985, teacher: 'strong' },
      }),
    );
    expect(checks).toHaveLength(2);
    expect(checks[0]).toEqual({
      weak: true,
      line: expect.stringMatching(/^WARNING: the teacher 'weak' PGD-40 94\.50%.*student 'a' PGD-40 96\.75%.*not stronger/),
    });
    expect(checks[1]).toEqual({ weak: false, line: expect.stringMatching(/teacher 'strong' PGD-40 97\.50%.*stronger by 0\.75 points/) });
  });
});
