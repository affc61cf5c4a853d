/**
 * Shards: several controllers split the objects of one cluster by a label, as Flux's controllers
 * do. A controller started for shard `a` watches only objects labelled `switchboard.dev/shard=a`;
 * the default shard, once shards exist, watches only unlabelled objects. Each shard has its own
 * leader (its own Lease), so one object is reconciled by exactly one controller at a time.
 *
 * An object and the objects it uses (an integration and its Destinations) must be in the same
 * shard: a controller sees only its own shard's objects.
 */
export const SHARD_LABEL = 'switchboard.dev/shard'

/** A shard's name is a label value. */
const SHARD_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/

/**
 * The label selector of a shard: `name` for a named shard, `default` for the default shard of a
 * sharded installation (objects without the label), undefined for an unsharded one (everything).
 */
export function shardSelector(shard: { name: string } | 'default' | undefined): string | undefined {
  if (shard === undefined) return undefined
  if (shard === 'default') return `!${SHARD_LABEL}`
  if (!SHARD_NAME.test(shard.name)) {
    throw new Error(
      `shard name "${shard.name}" is not a valid label value (1-63 letters, digits, "-", "_", ".", starting and ending with a letter or digit)`,
    )
  }
  return `${SHARD_LABEL}=${shard.name}`
}
