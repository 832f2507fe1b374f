// The input caps, in one place: every file or TUF target attest reads is refused above its byte
// cap (the error names it), and every JSON document above its value cap, so that any input within
// the caps is answered in seconds and in well under 1 GB (measured peaks: see each cap). The gate
// (agent/gate.ts CAPS) refuses TUF targets above the same byte caps before downloading them.

const MiB = 1024 * 1024;

/** A file of Sigstore bundles / DSSE envelopes (JSON or JSON Lines). */
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
/** JSON values in one SBOM: a real 64 MiB CycloneDX holds about 3 million (23 bytes each). */
export const MAX_SBOM_VALUES = 2_500_000;

/** The OSV database (JSON array or JSON Lines of OSV records). */
export const MAX_OSV_BYTES = 64 * MiB;
/** JSON values in the OSV database: a real 64 MiB one holds about 3.5 million (19 bytes each). */
export const MAX_OSV_VALUES = 3_000_000;

/** The verification policy. */
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
