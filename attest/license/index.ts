// SPDX licence expressions: parsing (Annex D), canonical form, and evaluation against allow/deny lists.
export { parseLicenseExpression, formatLicenseExpression, licenseLeaves, LicenseExpressionError, MAX_EXPRESSION_LENGTH } from './expression.ts';
export type { LicenseExpression, LicenseNode, LicenseLeaf } from './expression.ts';
export { evaluateLicense, leafUsable, parseLicenseListEntry, type LicenseLists, type LicenseVerdict } from './evaluate.ts';
export { canonicalLicenseId, canonicalExceptionId, SPDX_LICENSE_LIST_VERSION } from './list.ts';
