#!/usr/bin/env node
// Switchboard's one entry point: `switchboard controller` and `switchboard webhooks`.
import { calendarPublicRoutes, type PublicCalendarSync } from '../controller/calendar/index.ts'
import { runController } from '../controller/index.ts'
import { bridgeSinks, runWebhooks } from '../webhooks/index.ts'

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  // The webhook server without credentials hands refused deliveries and callback data to the
  // controller over the bridge; the controller writes them with the webhook server's own writers.
  controller: (argv) =>
    runController(argv, {
      bridgeSinks: ({ clients, logger, instance }) =>
        bridgeSinks({ core: clients.core, custom: clients.custom, logger, instance }),
    }),
  // The webhook server also serves the calendar feeds and free/busy documents, read from the
  // CalendarSync objects' status: wired here so that neither side imports the other.
  webhooks: (argv) =>
    runWebhooks(argv, {
      publicRoutes: (objects) => [
        calendarPublicRoutes({
          lookup: (namespace, name) =>
            objects.object('CalendarSync', namespace, name) as PublicCalendarSync | undefined,
        }),
      ],
    }),
}

const [command, ...rest] = process.argv.slice(2)
const run = command ? commands[command] : undefined
if (!run) {
  process.stderr.write(
    `Usage: switchboard <command> [options]\n\nCommands:\n  controller   run the controller\n  webhooks     run the webhook server\n`,
  )
  process.exit(command === '--help' || command === '-h' ? 0 : 2)
}
run(rest).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`switchboard ${command}: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
