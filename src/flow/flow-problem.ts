/**
 * What the flow validator reports: problems with the codes of FLOW_FORMAT.md, each pointing into the
 * flow with a JSON pointer. A module of its own so `validate.ts` and its rule files share it.
 */

export type ValidationCode =
  | 'schema'
  | 'duplicate_step_id'
  | 'missing_start_step'
  | 'dangling_target'
  | 'invalid_condition'
  | 'unknown_button'
  | 'bad_offer_index'
  | 'payment_without_outcome'
  | 'no_price'
  | 'terminal_has_exits'
  | 'dead_end'
  | 'eventless_cycle'
  | 'not_applicable';
export type WarningCode = 'unreachable_step' | 'unhandled_button';

/** One problem, pointing into the flow with a JSON pointer. */
export interface FlowProblem {
  code: ValidationCode | WarningCode;
  step_id?: string;
  path: string;
  message: string;
}

/** What the rule checks find, in the order they find it: errors make a flow invalid, warnings do not. */
export interface FlowProblems {
  errors: FlowProblem[];
  warnings: FlowProblem[];
}
