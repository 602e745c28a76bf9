/** Flows shared by runtime tests: small, so each event's effect is easy to follow. */

/** Asks for a password forever: every wrong answer re-asks (and counts an attempt). */
export const askForever = {
  id: 'ask-forever',
  flow_start_step_id: 'q',
  flow_steps: [
    {
      id: 'q',
      type: 'input',
      config: { text: 'Say the password' },
      conditions: [
        { type: 'text_validation', validation: 'equals', value: 'open sesame', target_step: 'done' },
      ],
    },
    { id: 'done', type: 'end', config: { text: 'welcome' } },
  ],
};
