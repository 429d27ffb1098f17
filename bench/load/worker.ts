/**
 * A load worker process: started by the runner (pinned to the load core), it runs the commands it
 * receives over IPC — hold subscribers, trigger events, churn connections, run the inbox
 * benchmark — and answers each. It exits when the runner disconnects.
 */
import { fanOutPush, singleUserLatency } from '../inbox.js';
import { processCpuMicros, processRssBytes } from '../server-process.js';
import { runChurn } from './churn.js';
import type { Command, InboxReply, Request, Response } from './commands.js';
import { closeSubscribers, connectSubscribers, resetSubscribers, subscriberProgress, subscriberStats } from './subscribers.js';
import { runTrigger } from './trigger.js';

async function run(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connectSubscribers(command.server, command.firstIndex, command.count, command.channels, command.concurrency);
    case 'reset':
      resetSubscribers();
      return null;
    case 'progress':
      return subscriberProgress();
    case 'stats':
      return subscriberStats();
    case 'close':
      closeSubscribers();
      return null;
    case 'trigger':
      return runTrigger(command.server, command.plan);
    case 'churn':
      return runChurn(command.server, command.plan);
    case 'inbox': {
      const pid = command.serverPid;
      const probe = pid === null ? null : { cpuMicros: () => processCpuMicros(pid), rssBytes: () => processRssBytes(pid) };
      const target = { ...command.server, probe };
      const reply: InboxReply = { fanOut: await fanOutPush(target, command.users), singleUser: await singleUserLatency(target, command.pushes) };
      return reply;
    }
  }
}

function answer(response: Response): void {
  process.send?.(response);
}

if (!process.send) {
  process.stderr.write('bench/load/worker.js is started by bench/run.js over IPC\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('message', (message: Request) => {
  run(message.command).then(
    (result) => answer({ id: message.id, ok: true, result: result ?? null }),
    (error: unknown) => answer({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
