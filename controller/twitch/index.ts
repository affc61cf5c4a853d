export { compareInstants } from './order.ts'
export { TWITCH_EVENT_NAMES, type TwitchReconcilerOptions, twitchReconciler } from './reconciler.ts'
