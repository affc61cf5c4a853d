export {
  type Binaries,
  type BinariesLogger,
  BUILD_SCRIPT,
  cacheDir,
  DEFAULT_ETCD_VERSION,
  DEFAULT_KUBE_VERSION,
  type FindBinariesOptions,
  findBinaries,
} from './binaries.ts'
export {
  ADMIN_USER,
  CONTEXT_NAME,
  type ControlPlane,
  logTail,
  type StartControlPlaneOptions,
  startControlPlane,
} from './controlplane.ts'
