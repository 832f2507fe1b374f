// The `tollgate appraise ...` command group (verifier side). Its enrolment subcommand's handler
// lives with the other enrolment commands in enroll.ts; appraisal of evidence joins it here.
import type { CommandSpec } from '../command.ts';
import { appraiseEnroll } from './enroll.ts';

export const commands: CommandSpec[] = [appraiseEnroll];
