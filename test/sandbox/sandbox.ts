/**
 * The provider sandbox: one Fastify app, one encapsulated plugin per provider, and the shared
 * fault injector and request log every plugin is instrumented with. See README.md.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { CasinoProvider } from '../../connectors/index.ts'
import { CalendlySandbox, type CalendlySandboxOptions, calendlyPlugin } from './calendly/index.ts'
import { registerCasinoPlugins } from './casino/index.ts'
import { CASINO_PREFIX, CasinoSandbox, type CasinoSandboxOptions } from './casino/state.ts'
import { controlPlugin } from './control.ts'
import { FacebookSandbox, type FacebookSandboxOptions, facebookPlugin } from './facebook/index.ts'
import { FaultInjector, pathOf } from './faults.ts'
import {
  GoogleCalendarSandbox,
  type GoogleCalendarSandboxOptions,
  googleCalendarPlugin,
} from './google-calendar/index.ts'
import { HttpReceiverSandbox, type HttpReceiverSandboxOptions, httpReceiverPlugin } from './http-receiver.ts'
import {
  PATREON_PATH_PREFIX,
  PatreonSandbox,
  type PatreonSandboxOptions,
  patreonPlugin,
} from './patreon/index.ts'
import { RequestLog } from './recording.ts'
import { SegmentSandbox, type SegmentSandboxOptions, segmentPlugin } from './segment.ts'
import { TWILIO_PATH_PREFIX, TwilioSandbox, type TwilioSandboxOptions, twilioPlugin } from './twilio/index.ts'
import { TWITCH_PATH_PREFIX, TwitchSandbox, type TwitchSandboxOptions, twitchPlugin } from './twitch/index.ts'

export interface SandboxOptions {
  /** Fastify request logging to stdout (paths only, no queries or headers). Default false. */
  logger?: boolean
  segment?: SegmentSandboxOptions
  http?: HttpReceiverSandboxOptions
  /** Casino platforms (SOFTSWISS, Altenar, BET Software, Playtech PAM): accounts and datasets. */
  casino?: CasinoSandboxOptions
  /** Google Calendar: calendars, events, sync tokens, freeBusy, watch channels, the token endpoint. */
  googleCalendar?: GoogleCalendarSandboxOptions
  /** Calendly: scheduled events API and signed webhooks (under /calendly). */
  calendly?: CalendlySandboxOptions
  /** Facebook Graph: page/group feeds (under /facebook). */
  facebook?: FacebookSandboxOptions
  /** Twilio Messaging: accounts, messages, signed status callbacks (under /twilio). */
  twilio?: TwilioSandboxOptions
  /** Twitch: app tokens, Helix users/streams, EventSub subscriptions and their sender (under /twitch). */
  twitch?: TwitchSandboxOptions
  /** Patreon API v2: campaigns, tiers, members, webhooks, the token endpoint (under /patreon). */
  patreon?: PatreonSandboxOptions
  /** Requests kept in the request log (a ring; the total is always counted). Default 10000. */
  maxRequestLog?: number
}

export interface Sandbox {
  /** The Fastify app; `app.inject()` works without listening. */
  app: FastifyInstance
  /** Base URL (`http://127.0.0.1:<port>`) once `listen` resolved; throws before. */
  readonly url: string
  /** Listens on loopback (port 0: a free port) and resolves the base URL. */
  listen(port?: number, host?: string): Promise<string>
  close(): Promise<void>
  segment: SegmentSandbox
  http: HttpReceiverSandbox
  /** The casino platforms' accounts, datasets and counters. */
  casino: CasinoSandbox
  /** Base URL of a casino platform plugin (a connector's `endpoint`); needs `listen` first. */
  casinoEndpoint(provider: CasinoProvider): string
  googleCalendar: GoogleCalendarSandbox
  calendly: CalendlySandbox
  facebook: FacebookSandbox
  twilio: TwilioSandbox
  /** Base URL of the Twilio plugin (a MessageCampaign's `endpoint`); needs `listen` first. */
  readonly twilioEndpoint: string
  twitch: TwitchSandbox
  /** Base URL of the Twitch plugin (a TwitchIntegration's API and auth endpoints); needs `listen` first. */
  readonly twitchEndpoint: string
  patreon: PatreonSandbox
  /** Base URL of the Patreon plugin (a PatreonIntegration's `endpoint`); needs `listen` first. */
  readonly patreonEndpoint: string
  faults: FaultInjector
  /** Every request that reached a provider plugin. */
  requests: RequestLog
  /** Clears faults, the request log and everything recorded; keeps the configuration. */
  reset(): void
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export async function buildSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const app = Fastify({
    logger: opts.logger
      ? {
          level: 'info',
          serializers: { req: (req) => ({ method: req.method, path: pathOf(req.url ?? '') }) },
        }
      : false,
    // large benchmark batches arrive through the per-plugin parsers, which set their own limits
    bodyLimit: 1024 * 1024,
    // a misspelt field in a control request is an error, not silently dropped
    ajv: { customOptions: { removeAdditional: false } },
  })
  const faults = new FaultInjector()
  const requests = new RequestLog(opts.maxRequestLog)
  const segment = new SegmentSandbox(opts.segment ?? {}, requests)
  const http = new HttpReceiverSandbox(opts.http ?? {}, requests)
  const casino = new CasinoSandbox(opts.casino)
  const googleCalendar = new GoogleCalendarSandbox(opts.googleCalendar ?? {}, requests)
  const calendly = new CalendlySandbox(opts.calendly ?? {}, requests)
  const facebook = new FacebookSandbox(opts.facebook ?? {}, requests)
  const twilio = new TwilioSandbox(opts.twilio ?? {})
  const twitch = new TwitchSandbox(opts.twitch ?? {})
  const patreon = new PatreonSandbox(opts.patreon ?? {})
  const inst = { faults, requests }
  const reset = () => {
    faults.reset()
    requests.clear()
    segment.reset()
    http.reset()
    casino.reset()
    googleCalendar.reset()
    calendly.reset()
    facebook.reset()
    twilio.reset()
    twitch.reset()
    patreon.reset()
  }

  await app.register(segmentPlugin(segment, inst))
  await app.register(httpReceiverPlugin(http, inst))
  await registerCasinoPlugins(app, casino, inst)
  await app.register(googleCalendarPlugin(googleCalendar, inst))
  await app.register(calendlyPlugin(calendly, inst))
  await app.register(facebookPlugin(facebook, inst))
  await app.register(twilioPlugin(twilio, inst))
  await app.register(twitchPlugin(twitch, inst))
  await app.register(patreonPlugin(patreon, inst))
  await app.register(controlPlugin({ faults, requests, segment, http, reset }))
  await app.ready()

  let url: string | undefined
  return {
    app,
    get url() {
      if (url === undefined) throw new Error('sandbox is not listening: call listen() first')
      return url
    },
    async listen(port = 0, host = '127.0.0.1') {
      if (!LOOPBACK.has(host)) throw new Error('the sandbox listens on loopback only')
      await app.listen({ port, host })
      const address = app.server.address()
      if (address === null || typeof address === 'string') throw new Error('sandbox has no TCP address')
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address
      url = `http://${h}:${address.port}`
      // Calendly's payloads carry API URIs: make them match where the API really is.
      calendly.setBaseUrl(`${url}/calendly`)
      return url
    },
    async close() {
      twilio.close()
      await app.close()
      url = undefined
    },
    segment,
    http,
    casino,
    googleCalendar,
    calendly,
    facebook,
    twilio,
    get twilioEndpoint() {
      if (url === undefined) throw new Error('sandbox is not listening: call listen() first')
      return `${url}${TWILIO_PATH_PREFIX}`
    },
    twitch,
    get twitchEndpoint() {
      if (url === undefined) throw new Error('sandbox is not listening: call listen() first')
      return `${url}${TWITCH_PATH_PREFIX}`
    },
    patreon,
    get patreonEndpoint() {
      if (url === undefined) throw new Error('sandbox is not listening: call listen() first')
      return `${url}${PATREON_PATH_PREFIX}`
    },
    casinoEndpoint(provider: CasinoProvider) {
      if (url === undefined) throw new Error('sandbox is not listening: call listen() first')
      return `${url}${CASINO_PREFIX[provider]}`
    },
    faults,
    requests,
    reset,
  }
}
