export {
  buildCrd,
  type CustomResourceDefinition,
  crdFileName,
  crdName,
  crdObjects,
  crdsDir,
  header,
  renderCrd,
  renderCrds,
  staleFiles,
  writeCrds,
} from './generate.ts'
export { type InstallCrdsOptions, installCrds, toClientModel } from './install.ts'
export {
  type ConvertOptions,
  SchemaConversionError,
  type StructuralSchema,
  toStructuralSchema,
  type ValidationRule,
} from './openapi.ts'
export { structuralViolations } from './structural.ts'
