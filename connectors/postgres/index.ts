export {
  createPostgresDeliverer,
  errorFor as postgresError,
  type PostgresConnection,
  type PostgresDelivererOptions,
  type PostgresSslMode,
  parsePostgresUrl,
} from './deliverer.ts'
export { CURSOR_TABLE, TABLE_SHAPES, upsertStatements as postgresUpsertStatements } from './tables.ts'
