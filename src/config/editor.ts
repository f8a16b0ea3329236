import { Environment } from './environment';

/** The operator's editor for `keys edit`: $VISUAL, else $EDITOR, else vi (it may carry arguments). */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string {
  const environment = new Environment(env);
  return environment.optional('VISUAL') ?? environment.string('EDITOR', 'vi');
}
