// A throwaway PostgreSQL server (Debian's postgresql package) for tests, the demo and benchmarks.
export {
  DEFAULT_PG_BIN,
  type LocalPostgres,
  pgBinDir,
  postgresLogTail,
  type StartPostgresOptions,
  startPostgres,
} from './postgres.ts'
