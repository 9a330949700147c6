/**
 * What happened to a row: the one vocabulary of row actions. Events carry the upper-case form
 * (`"action":"INSERT"`); subjects, the table filter and metric labels the lower-case name.
 */

/** What happened to a row, as published in the event's `action`. */
export const Action = {
  Insert: 'INSERT',
  Update: 'UPDATE',
  Delete: 'DELETE',
  Truncate: 'TRUNCATE',
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** Every action, in a fixed order: the index of an action in per-action tables. */
export const ACTIONS: readonly Action[] = [Action.Insert, Action.Update, Action.Delete, Action.Truncate];

/** An action's name in lower case, as subjects, the table filter and metric labels write it. */
export type ActionName = Lowercase<Action>;

/** The lower-case name of an action. */
export function actionName(action: Action): ActionName {
  return action.toLowerCase() as ActionName;
}

/** Every action's name, in the order of `ACTIONS`. */
export const ACTION_NAMES: readonly ActionName[] = ACTIONS.map(actionName);

/** The position of `action` in `ACTIONS` (and `ACTION_NAMES`). */
export function actionIndex(action: Action): number {
  return ACTIONS.indexOf(action);
}
