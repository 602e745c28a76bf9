/**
 * `botflow simulate <flow.json> [--events FILE.jsonl] [--json]`: the operator's preview. With events it
 * replays them and prints the transcript; without, it is a chat in the terminal.
 */
import { BotflowError } from '../../errors.ts';
import { compileFlow } from '../../flow/compile.ts';
import { parseSimEvents } from '../../flow/parse-sim-events.ts';
import type { SimEvent, SimOutput, Simulator } from '../../flow/simulator.ts';
import { createSimulator } from '../../flow/simulator.ts';
import { formatBrl } from '../../telegram/render-effect.ts';
import type { CliIo } from '../io.ts';
import { readFlowFile } from '../read-flow.ts';

const HELP = [
  'Type a reply, a button number, or a command:',
  '  /start [payload]   restart   /pay  /expire  /fail   settle the open PIX charge',
  '  /check             press "I have paid"   /wait N   let N minutes pass   /quit',
].join('\n');

/** Renders outputs as chat lines. */
function formatOutputs(outputs: SimOutput[], minutes?: number): string {
  const stamp = minutes === undefined ? '' : `[+${minutes.toFixed(minutes % 1 === 0 ? 0 : 1)} min] `;
  return outputs
    .map((o) => {
      const head = `${stamp}bot (${o.step ?? '-'})`;
      switch (o.kind) {
        case 'buttons':
          return `${head}: ${o.text}\n${(o.buttons ?? []).map((b, i) => `    ${i + 1}) ${b}`).join('\n')}`;
        case 'charge':
          return `${head}: PIX charge ${formatBrl(Math.round((o.amount ?? 0) * 100))} - ${o.description}`;
        case 'access':
          return `${head}: access granted to ${o.chat_id ?? o.link}`;
        default:
          return `${head} ${o.kind === 'message' ? '' : `[${o.kind}] `}${o.text ?? ''}`;
      }
    })
    .join('\n');
}

/** The commands a typed line may start with (anything else starting with / is a typo, not an answer). */
const COMMANDS = ['/quit', '/exit', '/help', '/start', '/pay', '/expire', '/fail', '/check', '/wait'];

/** Turns a typed line into a simulator event (null to ignore it). */
function parseTypedLine(line: string, sim: Simulator): SimEvent | 'quit' | 'help' | null {
  const text = line.trim();
  if (text === '') return null;
  const [command, ...rest] = text.split(/\s+/);
  const arg = rest.join(' ');
  switch (command) {
    case '/quit':
    case '/exit':
      return 'quit';
    case '/help':
      return 'help';
    case '/start':
      return arg === '' ? { type: 'start' } : { type: 'start', payload: arg };
    case '/pay':
      return { type: 'pay' };
    case '/expire':
      return { type: 'expire' };
    case '/fail':
      return { type: 'fail' };
    case '/check':
      return { type: 'check_payment' };
    case '/wait': {
      const minutes = Number(arg);
      if (arg === '' || !Number.isFinite(minutes) || minutes < 0)
        throw new BotflowError('BAD_REQUEST', '/wait takes minutes, e.g. /wait 10');
      return { type: 'wait', minutes };
    }
  }
  if (/^\/[A-Za-z]/.test(text) && !COMMANDS.includes(command!))
    throw new BotflowError('BAD_REQUEST', `unknown command ${command}; /help lists them`);
  const board = sim.lastKeyboard();
  // A number picks a button of the keyboard the buyer is looking at; elsewhere it is an answer.
  if (board !== null && board.step === sim.transcript().current_step && /^\d+$/.test(text)) {
    const button = board.buttons[Number(text) - 1];
    if (button === undefined)
      throw new BotflowError(
        'BAD_REQUEST',
        `no button ${text}: the buttons are numbered 1 to ${board.buttons.length}`,
      );
    return { type: 'click', text: button, step: board.step };
  }
  return { type: 'text', text };
}

async function runInteractive(io: CliIo, sim: Simulator): Promise<number> {
  io.stdout.write(`${HELP}\n`);
  const show = (outputs: SimOutput[]) => {
    if (outputs.length > 0) io.stdout.write(`${formatOutputs(outputs, sim.now() / 60_000)}\n`);
  };
  show(sim.apply({ type: 'start' }));
  if (io.stdin === undefined) return 0;
  for await (const line of io.stdin) {
    try {
      const event = parseTypedLine(line, sim);
      if (event === 'quit') break;
      if (event === 'help') io.stdout.write(`${HELP}\n`);
      else if (event !== null) {
        const outputs = sim.apply(event);
        show(outputs);
        if (event.type === 'wait' && outputs.length === 0)
          io.stdout.write(`  (${event.minutes} min passed; nothing was due)\n`);
      }
    } catch (error) {
      if (!(error instanceof BotflowError)) throw error;
      io.stdout.write(`  (${error.message})\n`);
    }
    const t = sim.transcript();
    if (t.status !== 'waiting')
      io.stdout.write(
        `  (conversation ${t.status} at ${t.current_step}; /start to restart, /quit to leave)\n`,
      );
  }
  return 0;
}

/** Runs the simulation; an invalid flow exits 1 with its validation errors. */
export async function runSimulate(
  io: CliIo,
  file: string,
  options: { events?: string; json: boolean },
): Promise<number> {
  const result = await readFlowFile(io, file);
  if (!result.valid) throw new BotflowError('INVALID_FLOW', `${file} is invalid`, { details: result.errors });
  const sim = createSimulator(compileFlow(result.flow));
  if (options.events === undefined) return runInteractive(io, sim);

  let text: string;
  try {
    text = await io.readFile(options.events);
  } catch (error) {
    throw new BotflowError(
      'BAD_REQUEST',
      `cannot read events file ${options.events} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  for (const event of parseSimEvents(text)) sim.apply(event);
  const transcript = sim.transcript();
  if (options.json) io.stdout.write(`${JSON.stringify(transcript)}\n`);
  else {
    io.stdout.write(`${formatOutputs(transcript.outputs)}\n`);
    io.stdout.write(`-- ${transcript.status} at ${transcript.current_step ?? '(none)'}\n`);
  }
  return 0;
}
