/**
 * The campaign's webhook at Patreon, managed by the controller:
 *
 * - registered with `status.webhook.url` and the member and pledge triggers; Patreon answers with
 *   the signing secret, which goes into the resource's Secret (key `webhookSecret`, through
 *   `writeSecretKeys`), where the webhook server reads it to verify deliveries;
 * - looked at on each reconcile: a webhook Patreon paused after failed deliveries is resumed (Patreon
 *   then sends what it queued), a changed URL or trigger list is updated, a webhook that vanished
 *   (or whose secret the Secret no longer has) is registered again;
 * - removed when the resource is deleted with `deletionPolicy: Delete` (the finalizer), left with
 *   `Orphan`.
 *
 * A webhook is a hint: whatever it says, it only asks for a sync (the webhook server sets
 * `switchboard.dev/requested-at`), so a lost one only delays until the next interval.
 */
import type { CoreV1Api } from '@kubernetes/client-node'
import {
  type PatreonClient,
  type PatreonWebhook,
  type PatreonWebhookTrigger,
  Reason,
  rfc3339,
  TransientError,
  toSwitchboardError,
} from '../../connectors/index.ts'
import {
  ensureWebhookStatus,
  type PatreonIntegrationSpec,
  type PatreonIntegrationStatus,
  readWebhookSecrets,
  webhookSecretKeys,
} from '../api/index.ts'
import {
  ConditionType,
  type ReconcileContext,
  SecretConflictError,
  writeSecretKeys,
} from '../runtime/index.ts'

export const PATREON_TRIGGERS: readonly PatreonWebhookTrigger[] = [
  'members:create',
  'members:update',
  'members:delete',
  'members:pledge:create',
  'members:pledge:update',
  'members:pledge:delete',
]

/** The Secret key the signing secret is written to (the first the provider description names). */
const SECRET_KEY = webhookSecretKeys('patreon').webhookSecret?.[0] ?? 'webhookSecret'

type Ctx = ReconcileContext<
  PatreonIntegrationSpec,
  PatreonIntegrationStatus,
  { client?: PatreonClient; campaignId?: string }
>

/** Writes the signing secret into the Secret; a conflict is read again and written on the new version. */
async function storeSecret(core: CoreV1Api, namespace: string, name: string, value: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await core.readNamespacedSecret({ namespace, name })
    try {
      await writeSecretKeys(core, {
        namespace,
        name,
        resourceVersion: current.metadata?.resourceVersion ?? '',
        set: { [SECRET_KEY]: value },
      })
      return
    } catch (err) {
      if (!(err instanceof SecretConflictError)) throw err
    }
  }
  throw new TransientError(
    Reason.Internal,
    `Secret "${name}" kept changing while the webhook secret was written`,
  )
}

function sameTriggers(a: readonly string[]): boolean {
  return a.length === PATREON_TRIGGERS.length && PATREON_TRIGGERS.every((t) => a.includes(t))
}

/**
 * What this process registered for the object. A reconcile that follows the one that registered
 * the webhook (its Secret write enqueues one) may see the object as the cache had it before that
 * reconcile's status write: without this, it would make a new path and register a second webhook.
 */
interface Registered {
  path?: string
  webhook?: NonNullable<PatreonIntegrationStatus['patreonWebhook']>
}

export async function manageWebhook(ctx: Ctx, core: CoreV1Api, publicUrl: string | undefined): Promise<void> {
  const registered = ctx.memo<Registered>('webhook', { uid: ctx.obj.metadata.uid }, () => ({}))
  if (!ctx.status.webhook && registered.path) ctx.status.webhook = { path: registered.path }
  if (!ctx.status.patreonWebhook && registered.webhook) ctx.status.patreonWebhook = { ...registered.webhook }
  const hook = ensureWebhookStatus(ctx.status, { provider: 'patreon', ...(publicUrl ? { publicUrl } : {}) })
  const secretName = ctx.spec.credentialsSecretRef.name
  const stored = readWebhookSecrets(ctx.secret(secretName).data ?? {}, webhookSecretKeys('patreon'), 'base64')
  if (!ctx.spec.manageWebhook) {
    delete ctx.status.patreonWebhook
    ctx.setCondition(
      ConditionType.WebhookReady,
      stored.webhookSecret ? 'True' : 'False',
      stored.webhookSecret ? Reason.Published : Reason.WebhookSecretMissing,
      stored.webhookSecret
        ? `webhooks are received at ${hook.url ?? hook.path} (registered by hand: spec.manageWebhook is false)`
        : `Secret "${secretName}" has no key "${SECRET_KEY}" to verify webhooks; members sync on the interval only`,
    )
    return
  }
  if (!hook.url) {
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.NoPublicUrl,
      'no public URL is configured for the webhook server, so no webhook is registered at Patreon; members sync on the interval only',
    )
    return
  }
  const { client, campaignId } = ctx.state
  if (!client || !campaignId) return
  try {
    const all = await client.webhooks({ signal: ctx.signal })
    const known = ctx.status.patreonWebhook?.id
    // ours: the one we registered, or one pointing at our (unguessable) URL
    let ours: PatreonWebhook | undefined =
      all.find((w) => w.id === known) ?? all.find((w) => w.uri === hook.url)
    if (ours && !stored.webhookSecret) {
      // its secret is lost (the key was removed): only a new webhook gives one
      await client.deleteWebhook(ours.id, { signal: ctx.signal })
      ours = undefined
    }
    let resumed = ctx.status.patreonWebhook?.resumed ?? 0
    if (!ours) {
      const created = await client.createWebhook({
        campaignId,
        uri: hook.url,
        triggers: PATREON_TRIGGERS,
        signal: ctx.signal,
      })
      if (!created.secret) {
        throw new TransientError(
          Reason.MalformedResponse,
          'Patreon registered the webhook without returning its secret',
        )
      }
      ctx.addSecretValue(created.secret)
      registered.path = hook.path
      registered.webhook = { id: created.id, paused: created.paused }
      ctx.status.patreonWebhook = { ...registered.webhook }
      // the id in status before the Secret write (which reconciles the object again)
      await ctx.checkpoint()
      // the webhook server reads the secret there to verify deliveries
      await storeSecret(core, ctx.obj.metadata.namespace, secretName, created.secret)
      ctx.log.info({ webhook: created.id }, 'webhook registered at Patreon')
      ours = created
    } else {
      const change: { uri?: string; triggers?: PatreonWebhookTrigger[]; paused?: boolean } = {}
      if (ours.uri !== hook.url) change.uri = hook.url
      if (!sameTriggers(ours.triggers)) change.triggers = [...PATREON_TRIGGERS]
      if (ours.paused) change.paused = false
      if (Object.keys(change).length > 0) {
        const wasPaused = ours.paused
        ours = await client.updateWebhook(ours.id, change, { signal: ctx.signal })
        if (wasPaused && !ours.paused) {
          resumed++
          ctx.event(
            'Normal',
            Reason.WebhookResumed,
            `Patreon had paused the webhook after ${ctx.status.patreonWebhook?.consecutiveFailures ?? 'several'} failed deliveries; resumed (Patreon sends what it queued)`,
          )
          ctx.log.info({ webhook: ours.id }, 'paused webhook resumed')
        }
      }
    }
    registered.path = hook.path
    ctx.status.patreonWebhook = {
      id: ours.id,
      paused: ours.paused,
      ...(ours.numConsecutiveTimesFailed !== undefined
        ? { consecutiveFailures: ours.numConsecutiveTimesFailed }
        : {}),
      ...(ours.lastAttemptedAt && !Number.isNaN(Date.parse(ours.lastAttemptedAt))
        ? { lastAttemptedAt: rfc3339(new Date(ours.lastAttemptedAt)) }
        : {}),
      ...(resumed > 0 ? { resumed } : {}),
    }
    registered.webhook = { ...ctx.status.patreonWebhook }
    ctx.setCondition(
      ConditionType.WebhookReady,
      'True',
      Reason.Published,
      `webhook ${ours.id} registered at Patreon for member and pledge events; received at ${hook.url}`,
    )
  } catch (err) {
    const e = toSwitchboardError(err)
    ctx.setCondition(ConditionType.WebhookReady, 'False', e.reason, e.message)
    throw e
  }
}

/** Before the resource goes (deletionPolicy Delete): the webhook at Patreon goes too. */
export async function removeWebhook(ctx: Ctx): Promise<void> {
  const id = ctx.status.patreonWebhook?.id
  const { client } = ctx.state
  if (!id || !client) return
  try {
    await client.deleteWebhook(id, { signal: ctx.signal })
  } catch (err) {
    const e = toSwitchboardError(err)
    // already gone at Patreon: nothing left to do
    if (e.reason !== Reason.ProviderRejected) throw e
  }
  ctx.log.info({ webhook: id }, 'webhook removed at Patreon')
}
