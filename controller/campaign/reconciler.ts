import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import {
  createTwilioClient,
  Reason,
  rfc3339,
  StallingError,
  type TwilioClient,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'
import {
  apiVersion,
  type CampaignFailure,
  type CampaignTotals,
  ensureWebhookStatus,
  MAX_RECIPIENTS,
  MessageCampaignKind,
  type MessageCampaignSpec,
  type MessageCampaignStatus,
  type SkipReason,
  skipReasons,
  twilioCredentials,
  webhookSecretKeys,
} from '../api/index.ts'
import type { DeliveryRegistry } from '../destination/index.ts'
import { ConditionType, type ReconcileContext, type ReconcilerDefinition } from '../runtime/index.ts'
import { OutcomeReporter } from './outcomes.ts'
import { pacer } from './pace.ts'
import { advance, type Delivery, deliveryOf, type Entry, movedOn, Progress } from './progress.ts'
import { type MalformedLine, maskPhone, parseList, type Recipient, render } from './recipients.ts'
import { closesAt, isOpen, isValidTimeZone, nextOpen } from './window.ts'

interface State {
  client?: TwilioClient
  /** When this reconcile published a new callback URL. */
  publishedAt?: number
  recipients: Recipient[]
  malformed: MalformedLine[]
}

type Ctx = ReconcileContext<MessageCampaignSpec, MessageCampaignStatus, State>

export interface CampaignReconcilerOptions {
  /** Reads and writes the progress records (never through a cache). */
  core: CoreV1Api
  /** The Destinations' deliverers, for `destinationRefs`. */
  destinations: DeliveryRegistry
  logger: Logger
  /** Public base URL of the webhook server: status callbacks go to `status.webhook.url`. */
  publicUrl?: string | undefined
  /** Per-request timeout of Twilio calls (ms). Default 15000. */
  timeoutMs?: number | undefined
  /**
   * How long after a send's intent was recorded its outcome may still be unknown (a request in
   * flight when the controller died); only after it is the message list asked. Default: the
   * request timeout plus 5 s.
   */
  settleMs?: number | undefined
  /** Longest stretch of sending in one reconcile before it hands the worker back. Default 10 s. */
  sliceMs?: number | undefined
  /**
   * How long a message may stay `queued` or `sent` (no final status from a callback) before its
   * status is read from Twilio; each further read waits twice as long. Default 10 minutes.
   */
  recheckAfterMs?: number | undefined
  /** The clock the start time and the sending window are judged by (tests fix it). */
  now?: (() => Date) | undefined
}

/** Messages sent between two commits of the progress records, at most. */
const MAX_BATCH = 500
const RECENT_FAILURES = 10
/** Delivery statuses after which only `read` may follow. */
const FINAL = new Set<Delivery>(['delivered', 'undelivered', 'failed', 'read'])
/** After the last send, how long the inbox is looked at every few seconds (then every 5 minutes). */
const CALLBACK_WATCH_MS = 30 * 60_000
/** Status reads of messages without a final status, per reconcile at most (10 at a time). */
const MAX_RECHECKS = 50
/** Reads of one message's status before it is left at its last known status. */
const RECHECK_TRIES = 6
/** Twilio error codes that skip a recipient for good. */
const SKIP_CODES: Record<number, SkipReason> = {
  21211: 'invalidNumber',
  21610: 'optedOut',
  63016: 'outsideSessionWindow',
}

export function campaignReconciler(
  opts: CampaignReconcilerOptions,
): ReconcilerDefinition<MessageCampaignSpec, MessageCampaignStatus, State> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const settleMs = opts.settleMs ?? timeoutMs + 5_000
  const now = opts.now ?? (() => new Date())
  return {
    name: 'messagecampaign',
    kind: MessageCampaignKind,
    concurrency: 4,
    secretNames: (spec) => {
      const s = spec as {
        credentialsSecretRef?: { name?: unknown }
        recipients?: Array<{ secretRef?: { name?: unknown } }>
      }
      const names = [s?.credentialsSecretRef?.name, ...(s?.recipients ?? []).map((r) => r.secretRef?.name)]
      return [...new Set(names.filter((n): n is string => typeof n === 'string'))]
    },
    references: (spec) => {
      const refs =
        (spec as { destinationRefs?: Array<{ name?: unknown }> } | undefined)?.destinationRefs ?? []
      return refs
        .filter((r) => typeof r.name === 'string')
        .map((r) => ({ kind: 'Destination', name: r.name as string }))
    },
    interval: () => undefined,
    readyMessage: { reason: Reason.Succeeded, message: 'The campaign is on track' },
    init: () => ({ recipients: [], malformed: [] }),
    suspended: (status) => {
      if (status.phase !== 'Completed') status.phase = 'Paused'
    },
    steps: [
      { name: 'webhook', run: (ctx) => webhook(ctx, opts.publicUrl) },
      { name: 'connect', run: (ctx) => connect(ctx, timeoutMs) },
      { name: 'recipients', run: (ctx) => recipients(ctx) },
      { name: 'destinations', run: (ctx) => destinations(ctx, opts.destinations) },
      {
        name: 'send',
        run: (ctx) =>
          send(ctx, {
            core: opts.core,
            destinations: opts.destinations,
            settleMs,
            sliceMs: opts.sliceMs ?? 10_000,
            recheckAfterMs: opts.recheckAfterMs ?? 10 * 60_000,
            now,
          }),
      },
    ],
  }
}

/** How long a newly published callback URL is given to reach the webhook server before sending. */
const PUBLISH_DELAY_MS = 2_000

async function webhook(ctx: Ctx, publicUrl: string | undefined): Promise<void> {
  const before = ctx.status.webhook?.url
  const hook = ensureWebhookStatus(ctx.status, { provider: 'twilio', ...(publicUrl ? { publicUrl } : {}) })

  const secretName = ctx.spec.credentialsSecretRef.name
  const keys = webhookSecretKeys('twilio').authToken ?? []
  let data: Record<string, string> = {}
  try {
    data = ctx.secret(secretName).data ?? {}
  } catch {
    // a missing Secret is reported by the connect step
  }
  if (!keys.some((k) => data[k] !== undefined)) {
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.WebhookSecretMissing,
      `Secret "${secretName}" has no key "authToken" to verify status callbacks; delivery statuses are not tracked`,
    )
    return
  }
  if (!hook.url) {
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.NoPublicUrl,
      'no public URL is configured for the webhook server: messages are sent without a status callback',
    )
    return
  }
  const wasReady = ctx.obj.status?.conditions?.some(
    (c) => c.type === ConditionType.WebhookReady && c.status === 'True',
  )
  ctx.setCondition(ConditionType.WebhookReady, 'True', Reason.Published, `status callbacks go to ${hook.url}`)
  if (hook.url !== before || !wasReady) {
    // Callbacks to a path the webhook server has not seen (or not seen ready) are refused, and
    // Twilio does not retry them: publish first, and send once the webhook server could watch it.
    await ctx.checkpoint()
    ctx.state.publishedAt = Date.now()
  }
}

interface ClientEntry {
  client: TwilioClient
  verified: boolean
}

async function connect(ctx: Ctx, timeoutMs: number): Promise<void> {
  const secretName = ctx.spec.credentialsSecretRef.name
  try {
    const credentials = ctx.credentials(secretName, twilioCredentials as never) as {
      accountSid: string
      authToken?: string
      apiKeySid?: string
      apiKeySecret?: string
    }
    const secret = ctx.secret(secretName)
    const inputs = { e: ctx.spec.endpoint, v: secret.metadata?.resourceVersion }
    const entry = ctx.memo<ClientEntry>('client', inputs, () => ({
      verified: false,
      client: createTwilioClient({ credentials, endpoint: ctx.spec.endpoint, timeoutMs }),
    }))
    if (!entry.verified) {
      const status = await entry.client.accountStatus()
      if (status !== 'active') {
        throw new StallingError(Reason.AccountInactive, `the Twilio account is ${status}`, {
          field: 'accountSid',
        })
      }
      entry.verified = true
    }
    ctx.state.client = entry.client
    ctx.setCondition(
      ConditionType.CredentialsValid,
      'True',
      Reason.Succeeded,
      'the Twilio account exists and is active',
    )
  } catch (err) {
    const e = toSwitchboardError(err)
    if (e.kind === 'stalling' || e.reason === Reason.Unauthorized) {
      ctx.setCondition(ConditionType.CredentialsValid, 'False', e.reason, e.message)
    }
    throw e
  }
}

function recipients(ctx: Ctx): void {
  const idKey = ctx.obj.metadata.uid ?? `${ctx.obj.metadata.namespace}/${ctx.obj.metadata.name}`
  const seen = new Set<string>()
  const list: Recipient[] = []
  const malformed: MalformedLine[] = []
  for (const [i, source] of ctx.spec.recipients.entries()) {
    const name = source.secretRef.name
    let secret: ReturnType<Ctx['secret']>
    try {
      secret = ctx.secret(name)
    } catch (err) {
      const e = toSwitchboardError(err)
      const message = `spec.recipients[${i}]: Secret "${name}" not found`
      ctx.setCondition(ConditionType.RecipientsValid, 'False', e.reason, message)
      throw new StallingError(e.reason, message, { field: `spec.recipients[${i}].secretRef.name` })
    }
    const raw = secret.data?.[source.key]
    if (raw === undefined) {
      const message = `spec.recipients[${i}]: Secret "${name}" has no key "${source.key}"`
      ctx.setCondition(ConditionType.RecipientsValid, 'False', Reason.SecretKeyMissing, message)
      throw new StallingError(Reason.SecretKeyMissing, message, { field: source.key })
    }
    // parsed (and every number hashed) once per version of the Secret, not at every batch
    const parsed = ctx.memo(
      `recipients:${i}`,
      { name, key: source.key, format: source.format, version: secret.metadata?.resourceVersion, idKey },
      () =>
        parseList(
          Buffer.from(raw, 'base64').toString('utf8'),
          source.format,
          `Secret "${name}" key "${source.key}"`,
          idKey,
        ),
    )
    malformed.push(...parsed.malformed)
    for (const r of parsed.recipients) {
      if (seen.has(r.id)) continue
      seen.add(r.id)
      list.push(r)
    }
  }
  if (list.length > MAX_RECIPIENTS) {
    const message = `the lists hold ${list.length} recipients; a campaign takes ${MAX_RECIPIENTS} at most`
    ctx.setCondition(ConditionType.RecipientsValid, 'False', Reason.TooManyRecipients, message)
    throw new StallingError(Reason.TooManyRecipients, message, { field: 'spec.recipients' })
  }
  if (ctx.spec.window && !isValidTimeZone(ctx.spec.window.timeZone)) {
    throw new StallingError(
      Reason.InvalidSpec,
      `spec.window.timeZone: unknown time zone "${ctx.spec.window.timeZone}"`,
      {
        field: 'spec.window.timeZone',
      },
    )
  }
  ctx.state.recipients = list
  ctx.state.malformed = malformed
  if (malformed.length > 0) {
    const shown = malformed.slice(0, 5).map((m) => `${m.where}: ${m.problem}`)
    const more = malformed.length > 5 ? `; and ${malformed.length - 5} more` : ''
    ctx.setCondition(
      ConditionType.RecipientsValid,
      'False',
      Reason.RecipientsMalformed,
      `${malformed.length} line(s) skipped: ${shown.join('; ')}${more}`,
    )
  } else {
    ctx.setCondition(ConditionType.RecipientsValid, 'True', Reason.Succeeded, `${list.length} recipient(s)`)
  }
}

/** Nothing is sent while a Destination named in destinationRefs is missing or not ready. */
function destinations(ctx: Ctx, registry: DeliveryRegistry): void {
  const { namespace } = ctx.obj.metadata
  const refs = ctx.spec.destinationRefs ?? []
  const missing = refs.filter((d) => !registry.has(namespace, d.name)).map((d) => d.name)
  for (const d of missing) registry.notifyWhenReady(namespace, d, ctx.obj.metadata.name)
  if (missing.length > 0) {
    const message = `Destination ${missing.map((m) => `"${m}"`).join(', ')} not found or not ready in namespace "${namespace}"`
    // a Destination turning Ready re-enqueues this object; the wait is only a fallback
    throw new WaitingError(Reason.DestinationNotFound, message, 60_000)
  }
}

interface SendOptions {
  core: CoreV1Api
  destinations: DeliveryRegistry
  settleMs: number
  sliceMs: number
  recheckAfterMs: number
  now: () => Date
}

/** When each message without a final status is next read from Twilio (this process only). */
type Rechecks = Map<string, { due: number; tries: number }>

function addressOf(spec: MessageCampaignSpec, phone: string): string {
  return spec.channel === 'whatsapp' ? `whatsapp:${phone}` : phone
}

async function send(ctx: Ctx, opts: SendOptions): Promise<void> {
  const client = ctx.state.client
  if (!client) throw new StallingError(Reason.Internal, 'the send step ran without a connected client')
  const { namespace, name, uid = '' } = ctx.obj.metadata
  const started = Date.now()
  // Loaded once per controller process and kept: only this process writes the records while it
  // leads (a writer elsewhere makes the next commit conflict, and the records are read again).
  const held = ctx.memo<{ progress?: Progress | undefined; outcomes?: OutcomeReporter; rechecks?: Rechecks }>(
    'progress',
    { uid },
    () => ({}),
  )
  // What was delivered is remembered for one set of Destinations: another set gets every outcome.
  const reportedTo = [...new Set((ctx.spec.destinationRefs ?? []).map((d) => d.name))].sort().join(',')
  if (held.outcomes?.reportedTo !== reportedTo) {
    held.outcomes = new OutcomeReporter({ namespace, name, uid, channel: ctx.spec.channel }, reportedTo)
  }
  if (!held.progress) {
    held.progress = await Progress.load(opts.core, {
      namespace,
      name,
      uid,
      apiVersion,
      kind: MessageCampaignKind.kind,
    })
    // outcomes in records written after these Destinations acknowledged them are not sent again
    held.outcomes.seed(held.progress.takeReported(reportedTo))
  }
  const progress = held.progress
  try {
    held.rechecks ??= new Map()
    await sendWith(ctx, opts, client, progress, held.outcomes, held.rechecks, started)
  } catch (err) {
    held.progress = undefined
    throw err
  }
}

async function sendWith(
  ctx: Ctx,
  opts: SendOptions,
  client: TwilioClient,
  progress: Progress,
  outcomes: OutcomeReporter,
  rechecks: Rechecks,
  started: number,
): Promise<void> {
  const { spec, status } = ctx
  const failures: CampaignFailure[] = [...(status.recentFailures ?? [])]
  const byId = new Map(ctx.state.recipients.map((r) => [r.id, r]))
  const deliverers = (spec.destinationRefs ?? []).map((d) =>
    opts.destinations.get(ctx.obj.metadata.namespace, d.name),
  )
  // the outcomes the records hold reach every Destination before the records are committed
  const commit = async () => {
    const sent = await outcomes.report(progress.entries, byId, deliverers, ctx.signal)
    if (sent > 0) ctx.log.debug({ events: sent }, 'outcomes delivered to the destinations')
    await progress.commit(outcomes.reportedTo)
  }
  const fail = (r: Recipient | undefined, reason: string, code?: number) => {
    failures.unshift({
      recipient: r ? maskPhone(r.phone) : '+*****',
      reason,
      ...(code === undefined ? {} : { code }),
      time: rfc3339(new Date()),
    })
    failures.length = Math.min(failures.length, RECENT_FAILURES)
  }

  if (ctx.state.publishedAt !== undefined) {
    const wait = ctx.state.publishedAt + PUBLISH_DELAY_MS - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
  // 1. Status callbacks the webhook server left in the inbox (removed from it only once the
  // progress records that hold them are committed: the status is written even if a commit fails).
  const drained = drainInbox(ctx, progress, byId, fail)

  // 2. Sends whose outcome is unknown (a crash, a timeout, a 5xx): ask Twilio's message list.
  let unsettled = 0
  const sender = { from: spec.from, messagingServiceSid: spec.messagingServiceSid }
  for (const [id, e] of progress.entries) {
    if (e.state !== 'q') continue
    const r = byId.get(id)
    if (!r) continue // removed from the lists while unsettled: kept, never sent again
    if (Date.now() - e.intentMs < opts.settleMs) {
      unsettled++
      continue
    }
    // second-precision dates at Twilio, and the two clocks: a minute of margin
    const found = await client.sentSince(addressOf(spec, r.phone), new Date(e.intentMs - 60_000), sender)
    const m = found.at(-1)
    if (m) {
      progress.set(id, {
        state: 's',
        sid: m.sid,
        delivery: deliveryOf(m.status) ?? 'queued',
        sentMs: e.intentMs,
      })
      ctx.log.info({ recipient: maskPhone(r.phone) }, 'an unconfirmed send had gone out')
    } else {
      progress.delete(id)
    }
  }
  // 2b. Messages whose final status never came (a lost callback): read them from Twilio.
  const nextRecheck = await recheck(ctx, opts, client, progress, rechecks, byId, fail)
  await commit()
  drained()

  // 3. Send in batches, each committed before (intents) and after (outcomes).
  // evenly spaced at the rate, never a burst of more than 20 ms worth
  const limiter = pacer(spec.rate)
  let rateLimitedMs: number | undefined
  let nextSendTime: Date | undefined
  for (;;) {
    if (ctx.signal.aborted || Date.now() - started > opts.sliceMs) {
      ctx.requeueAfter(10)
      break
    }
    const at = opts.now()
    if (spec.startAt && at < new Date(spec.startAt)) {
      nextSendTime = new Date(spec.startAt)
      break
    }
    if (!isOpen(spec.window, at)) {
      nextSendTime = nextOpen(spec.window, at)
      break
    }
    const closing = closesAt(spec.window, at)
    const batchSize = Math.max(1, Math.min(MAX_BATCH, Math.ceil(spec.rate * 2)))
    const batch: Array<{ r: Recipient; message: Message }> = []
    for (const r of ctx.state.recipients) {
      if (batch.length >= batchSize) break
      if (progress.get(r.id)) continue
      const message = compose(spec, r)
      if ('missing' in message) {
        progress.set(r.id, { state: 'x', reason: 'missingVariable' })
        fail(r, 'missingVariable')
        continue
      }
      batch.push({ r, message })
    }
    if (batch.length === 0) {
      await commit()
      break
    }
    const intentMs = Date.now()
    for (const { r } of batch) progress.set(r.id, { state: 'q', intentMs })
    await commit()
    let stop = false
    const inFlight: Promise<void>[] = []
    for (const { r, message } of batch) {
      if (stop || ctx.signal.aborted) {
        progress.delete(r.id) // never sent: free again
        continue
      }
      await limiter.removeTokens(1)
      if (closing && opts.now() >= closing) {
        stop = true
        progress.delete(r.id)
        continue
      }
      inFlight.push(
        (async () => {
          const out = await client.send({
            to: addressOf(spec, r.phone),
            from: spec.from,
            messagingServiceSid: spec.messagingServiceSid,
            ...message,
            mediaUrls: spec.template.mediaUrls,
            statusCallback: status.webhook?.url,
          })
          if (out.outcome === 'accepted') {
            progress.set(r.id, {
              state: 's',
              sid: out.sid,
              delivery: deliveryOf(out.status) ?? 'queued',
              sentMs: Date.now(),
            })
          } else if (out.outcome === 'rejected') {
            const reason = (out.code !== undefined && SKIP_CODES[out.code]) || 'rejected'
            progress.set(r.id, { state: 'x', reason, ...(out.code === undefined ? {} : { code: out.code }) })
            fail(r, reason, out.code)
          } else {
            // Twilio may have it: the entry stays an intent, settled against the message list
            unsettled++
            if (out.why === 'HTTP 429') {
              rateLimitedMs = out.retryAfterMs ?? 2_000
              stop = true
            }
          }
        })().catch((err: unknown) => {
          // unauthorised mid-campaign: the entry stays an intent and is settled later
          stop = true
          throw err
        }),
      )
    }
    const results = await Promise.allSettled(inFlight)
    await commit()
    const rejected = results.find((x) => x.status === 'rejected')
    if (rejected) throw toSwitchboardError((rejected as PromiseRejectedResult).reason)
    writeSummary(ctx, progress, failures)
    status.lastSyncTime = rfc3339(new Date())
    await ctx.checkpoint()
    ctx.log.debug({ messages: batch.length, durationMs: Date.now() - intentMs }, 'batch sent')
    // one batch per reconcile: a suspend or an edit is seen before the next one
    if (!stop) ctx.requeueAfter(10)
    break
  }

  // 4. Summary.
  const done = writeSummary(ctx, progress, failures)
  status.progressRecords = progress.records
  if (nextSendTime) status.nextSendTime = rfc3339(nextSendTime)
  else delete status.nextSendTime
  const inbox = Object.keys(status.deliveryInbox ?? {}).length
  if (done.complete) {
    status.phase = 'Completed'
    ctx.setCondition(
      ConditionType.Completed,
      'True',
      Reason.Completed,
      `every recipient was messaged or skipped (${done.totals.sent} sent, ${done.totals.skipped} skipped)`,
    )
    ctx.ready(Reason.Completed, 'the campaign is complete')
    // callbacks keep coming for a while: look at the inbox often while they may
    const lastSend = status.lastSyncTime ? Date.parse(status.lastSyncTime) : 0
    const awaiting = done.awaitingCallbacks > 0 && Date.now() - lastSend < CALLBACK_WATCH_MS
    const untilRecheck = nextRecheck === undefined ? 300_000 : Math.max(1_000, nextRecheck - Date.now())
    ctx.requeueAfter(Math.min(inbox > 0 ? 1_000 : awaiting ? 3_000 : 300_000, untilRecheck))
    return
  }
  ctx.setCondition(
    ConditionType.Completed,
    'False',
    Reason.NotCompleted,
    `${done.totals.pending} recipient(s) to go`,
  )
  if (rateLimitedMs !== undefined) {
    status.phase = 'Sending'
    throw new WaitingError(
      Reason.RateLimited,
      `Twilio is rate limiting; sending goes on in ${Math.ceil(rateLimitedMs / 1000)}s`,
      rateLimitedMs,
    )
  }
  if (nextSendTime) {
    status.phase = done.totals.sent + done.totals.skipped > 0 ? 'Sending' : 'Scheduled'
    ctx.ready(Reason.Scheduled, `the next messages go out at ${rfc3339(nextSendTime)}`)
    ctx.requeueAfter(Math.max(1_000, Math.min(60_000, nextSendTime.getTime() - opts.now().getTime())))
    return
  }
  status.phase = 'Sending'
  ctx.ready(Reason.Sending, `${done.totals.sent} sent of ${done.totals.recipients}`)
  ctx.requeueAfter(unsettled > 0 ? Math.min(opts.settleMs, 5_000) : 10)
}

type Message = { body: string } | { contentSid: string; contentVariables: string }

function compose(spec: MessageCampaignSpec, r: Recipient): Message | { missing: string[] } {
  const t = spec.template
  if (t.body !== undefined) {
    const out = render(t.body, r.variables)
    return 'missing' in out ? out : { body: out.text }
  }
  const vars: Record<string, string> = {}
  for (const [k, v] of Object.entries(t.contentVariables ?? {})) {
    const out = render(v, r.variables)
    if ('missing' in out) return out
    vars[k] = out.text
  }
  return { contentSid: t.contentSid as string, contentVariables: JSON.stringify(vars) }
}

/**
 * Reads from Twilio the status of messages still `queued` or `sent` (no final status) since
 * `recheckAfterMs` (then twice as long after each read, `RECHECK_TRIES` reads at most), at most
 * `MAX_RECHECKS` per reconcile, so the counts converge when a status callback was lost. The
 * clock starts when Twilio accepted the message (kept in the entry, so a restart keeps the
 * schedule); for entries written without that time, when this process first sees them. Returns
 * when the next read is due.
 */
async function recheck(
  ctx: Ctx,
  opts: SendOptions,
  client: TwilioClient,
  progress: Progress,
  rechecks: Rechecks,
  byId: ReadonlyMap<string, Recipient>,
  fail: (r: Recipient | undefined, reason: string, code?: number) => void,
): Promise<number | undefined> {
  const now = Date.now()
  const due: Array<[string, string]> = []
  for (const [id, e] of progress.entries) {
    if (e.state !== 's' || FINAL.has(e.delivery)) continue
    let r = rechecks.get(e.sid)
    if (!r) {
      r = recheckPlan(e.sentMs ?? now, now, opts.recheckAfterMs)
      rechecks.set(e.sid, r)
    }
    if (r.tries >= RECHECK_TRIES) continue
    if (r.due <= now && due.length < MAX_RECHECKS) due.push([id, e.sid])
  }
  // messages that reached a final status (or left the records) are no longer watched
  for (const sid of rechecks.keys()) {
    const id = progress.bySid.get(sid)
    const e = id === undefined ? undefined : progress.get(id)
    if (e?.state !== 's' || FINAL.has(e.delivery)) rechecks.delete(sid)
  }
  let read = 0
  let moved = 0
  for (let i = 0; i < due.length; i += 10) {
    await Promise.all(
      due.slice(i, i + 10).map(async ([id, sid]) => {
        const r = rechecks.get(sid)
        if (!r) return
        r.tries++
        r.due = Date.now() + opts.recheckAfterMs * 2 ** r.tries
        let found: Awaited<ReturnType<TwilioClient['messageStatus']>>
        try {
          found = await client.messageStatus(sid)
        } catch (err) {
          if (err instanceof StallingError) throw err
          return // read again when due
        }
        read++
        if (!found) {
          r.tries = RECHECK_TRIES // Twilio has no such message: left as it is
          return
        }
        const entry = progress.get(id)
        const next = deliveryOf(found.status)
        if (entry?.state !== 's' || !next || !advance(entry.delivery, next)) return
        const code = found.errorCode
        progress.set(id, movedOn(entry, next, code))
        moved++
        if (next === 'failed' || next === 'undelivered') {
          fail(
            byId.get(id),
            code !== undefined && SKIP_CODES[code] ? (SKIP_CODES[code] as string) : next,
            code,
          )
        }
      }),
    )
    if (ctx.signal.aborted) break
  }
  let next: number | undefined
  for (const r of rechecks.values()) if (r.tries < RECHECK_TRIES) next = Math.min(next ?? r.due, r.due)
  if (read > 0)
    ctx.log.info({ read, moved }, 'delivery statuses read from Twilio for messages without a final callback')
  return next
}

/**
 * Where a message's status reads stand when this process first looks at it: read k (from 0) is due
 * `after * (2^(k+1) - 1)` after the send, so a process started later skips the reads whose time
 * has passed but one, which is due now.
 */
export function recheckPlan(sentMs: number, now: number, after: number): { due: number; tries: number } {
  let tries = 0
  let due = sentMs + after
  while (tries < RECHECK_TRIES - 1 && sentMs + after * (2 ** (tries + 2) - 1) <= now) {
    tries++
    due = sentMs + after * (2 ** (tries + 1) - 1)
  }
  return { due, tries }
}

/** Applies the callbacks in `status.deliveryInbox` to the progress records, never backwards. */
function drainInbox(
  ctx: Ctx,
  progress: Progress,
  byId: ReadonlyMap<string, Recipient>,
  fail: (r: Recipient | undefined, reason: string, code?: number) => void,
): () => void {
  const inbox = ctx.status.deliveryInbox
  if (!inbox) return () => {}
  const keep: NonNullable<MessageCampaignStatus['deliveryInbox']> = {}
  const cutoff = Date.now() - 3_600_000
  for (const [sid, cb] of Object.entries(inbox)) {
    const id = progress.bySid.get(sid)
    const entry = id ? progress.get(id) : undefined
    const next = deliveryOf(cb.status)
    if (!id || entry?.state !== 's') {
      // not ours yet (its send is still being settled), or not ours at all: kept an hour
      if (Date.parse(cb.occurredAt) > cutoff) keep[sid] = cb
      continue
    }
    if (next && advance(entry.delivery, next)) {
      const code = typeof cb.errorCode === 'number' ? cb.errorCode : undefined
      progress.set(id, movedOn(entry, next, code))
      if (next === 'failed' || next === 'undelivered') {
        fail(byId.get(id), code !== undefined && SKIP_CODES[code] ? (SKIP_CODES[code] as string) : next, code)
      }
    }
    // Only final statuses leave the inbox: removing an interim one could drop the final one the
    // webhook server writes over it meanwhile (the removal is a merge patch, not a test-and-set).
    if (next !== undefined && !FINAL.has(next) && Date.parse(cb.occurredAt) > cutoff) keep[sid] = cb
  }
  // Never the whole map: removing it would also remove what the webhook server wrote since the
  // object was read. An emptied map makes the status write null each drained SID, one by one.
  return () => {
    ctx.status.deliveryInbox = keep
  }
}

function writeSummary(
  ctx: Ctx,
  progress: Progress,
  failures: CampaignFailure[],
): { totals: CampaignTotals; complete: boolean; awaitingCallbacks: number } {
  const skippedByReason = Object.fromEntries(skipReasons.map((r) => [r, 0])) as Record<SkipReason, number>
  skippedByReason.malformedNumber = ctx.state.malformed.length
  const t = { sent: 0, delivered: 0, undelivered: 0, failed: 0, read: 0 }
  let awaitingCallbacks = 0
  for (const e of progress.entries.values()) count(e)
  function count(e: Entry) {
    if (e.state === 'x') {
      const reason = (skipReasons as readonly string[]).includes(e.reason)
        ? (e.reason as SkipReason)
        : 'rejected'
      skippedByReason[reason]++
    } else if (e.state === 's') {
      t.sent++
      if (e.delivery === 'queued' || e.delivery === 'sent') awaitingCallbacks++
      if (e.delivery === 'failed' && e.code === 63016) skippedByReason.outsideSessionWindow++
      else if (e.delivery !== 'queued' && e.delivery !== 'sent')
        t[e.delivery as Exclude<Delivery, 'queued' | 'sent'>]++
    }
  }
  let pending = 0
  for (const r of ctx.state.recipients) {
    const e = progress.get(r.id)
    if (!e || e.state === 'q') pending++
  }
  const skipped = Object.values(skippedByReason).reduce((a, b) => a + b, 0)
  const recipients = ctx.state.recipients.length + ctx.state.malformed.length
  const totals: CampaignTotals = { recipients, pending, ...t, skipped, skippedByReason }
  ctx.status.totals = totals
  ctx.status.progress = `${recipients - pending}/${recipients}`
  if (failures.length > 0) ctx.status.recentFailures = failures
  return { totals, complete: pending === 0, awaitingCallbacks }
}
