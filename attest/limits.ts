// The input caps, in one place: every file or TUF target attest reads is refused above its byte
// cap (the error names it), and every JSON document above its value cap, so that any input within
// the caps is answered in seconds and under 1 GB. Peak RSS of `dist/tollgate verify` measured at
// the caps (real-shaped and hostile-shaped inputs; /usr/bin/time) is noted at each cap; all of
// evidence, SBOM and OSV database at their caps in one run peaked at 790-810 MB. The gate
// (agent/gate.ts CAPS) refuses TUF targets above the same byte caps before downloading them.
// Memory follows the number of JSON values more than bytes (a value parses into ~100-200 bytes:
// 16 MiB of `{},` is 5.6 million objects and 680 MB), hence the value caps.

const MiB = 1024 * 1024;

/** A file of Sigstore bundles / DSSE envelopes (JSON or JSON Lines): 434 MB at the cap (4 × 16 MiB envelopes). */
export const MAX_EVIDENCE_BYTES = 64 * MiB;
/**
 * Items (bundles, envelopes) in all evidence files together. Real files hold a handful; a fully
 * verified bundle costs 10-20 ms of CPU, so 100 of them are answered in seconds (10,000 took 205 s).
 */
export const MAX_EVIDENCE_ITEMS = 100;
/** JSON values (arrays, objects and their elements) in one whole evidence file. */
export const MAX_EVIDENCE_VALUES = 2_000_000;

/** One SBOM (CycloneDX or SPDX JSON). */
export const MAX_SBOM_BYTES = 64 * MiB;
/**
 * JSON values in one SBOM; a syft-like CycloneDX holds one per 23 bytes, so about 43 MiB of it fits.
 * Peaks at the cap: 446 MB (a real-shaped 43 MiB CycloneDX, 90,000 components), 579 MB (666,000
 * minimal components). Before the caps a 128 MiB SBOM took 913 MB, a 200 MB one 1.9 GB.
 */
export const MAX_SBOM_VALUES = 2_000_000;

/** The OSV database (JSON array or JSON Lines of OSV records). */
export const MAX_OSV_BYTES = 64 * MiB;
/**
 * JSON values in the OSV database; real records hold one per 19 bytes, so about 45 MiB of them
 * fit. Peaks at the cap: 493 MB (311,000 minimal records, 16 MiB SBOM), 657 MB (a real-shaped
 * 45 MiB database with a real-shaped 43 MiB SBOM, and also both hostile-shaped at their caps).
 */
export const MAX_OSV_VALUES = 2_500_000;

/** The verification policy: 112 MB at the cap; 269 MB with 27,000 identities and 100 bundles. */
export const MAX_POLICY_BYTES = 4 * MiB;
/** A Sigstore trusted root. */
export const MAX_TRUSTED_ROOT_BYTES = 8 * MiB;
/** An OpenVEX document (the gate caps VEX targets like evidence; parsing is bounded by the default value cap). */
export const MAX_VEX_BYTES = 64 * MiB;
/** A PEM public key file. */
export const MAX_KEY_BYTES = 1 * MiB;

/**
 * (component, OSV advisory) pairs one vulnerability scan evaluates; more is a failed scan. A real
 * 100,000-component SBOM against a full ecosystem database evaluates far fewer; each costs up to
 * ~35 µs with its finding (250,000 took 8.5 s of CPU), so this bounds a scan to seconds.
 */
export const MAX_VULN_EVALUATIONS = 100_000;
/** Findings listed one check each; the rest are decided and counted in one `vuln.more` check. */
export const MAX_VULN_FINDINGS_LISTED = 1_000;
