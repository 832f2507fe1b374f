import SPDX_LIST from '../sbom/schemas/spdx.schema.json' with { type: 'json' };

// The SPDX licence and exception identifiers, taken from the SPDX list CycloneDX vendors in
// spdx.schema.json: its enum lists licences first, then exceptions (starting at "389-exception").
// Identifiers match case-insensitively (SPDX spec Annex D); the map gives the canonical spelling.

const FIRST_EXCEPTION = '389-exception';

const licenses = new Map<string, string>();
const exceptions = new Map<string, string>();
{
  const ids = (SPDX_LIST as { enum: string[] }).enum;
  const split = ids.indexOf(FIRST_EXCEPTION);
  ids.forEach((id, i) => (split >= 0 && i >= split ? exceptions : licenses).set(id.toLowerCase(), id));
}

export const SPDX_LICENSE_LIST_VERSION: string = (SPDX_LIST as { $comment?: string }).$comment ?? 'unknown';

export function canonicalLicenseId(id: string): string | undefined {
  return licenses.get(id.toLowerCase());
}

export function canonicalExceptionId(id: string): string | undefined {
  return exceptions.get(id.toLowerCase());
}
