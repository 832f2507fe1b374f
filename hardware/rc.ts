// TPM response codes (Library Part 2, TPM_RC): decoding of format-0 and format-1 codes into spec
// names plus the parameter/handle/session index, and TPMError, the error every non-zero RC becomes.
import { TollgateError, type ErrorClass } from './errors.ts';
import { ccName } from './constants.ts';

const RC_VER1 = 0x100;
const RC_FMT1 = 0x080;
const RC_WARN = 0x900;

interface RCEntry { name: string; text: string }

// Format-0 errors (RC_VER1 + n).
const FMT0: Record<number, RCEntry> = {
  0x000: { name: 'INITIALIZE', text: 'the TPM has not been started (TPM2_Startup not run)' },
  0x001: { name: 'FAILURE', text: 'the TPM is in failure mode' },
  0x003: { name: 'SEQUENCE', text: 'improper use of a sequence handle' },
  0x00b: { name: 'PRIVATE', text: 'private area error' },
  0x019: { name: 'HMAC', text: 'HMAC error' },
  0x020: { name: 'DISABLED', text: 'the command is disabled' },
  0x021: { name: 'EXCLUSIVE', text: 'the command failed because the audit sequence required exclusivity' },
  0x024: { name: 'AUTH_TYPE', text: 'the authorization handle is not correct for the command' },
  0x025: { name: 'AUTH_MISSING', text: 'the command requires an authorization session for a handle and none was present' },
  0x026: { name: 'POLICY', text: 'the policy is not correct for the command' },
  0x027: { name: 'PCR', text: 'the PCR check failed' },
  0x028: { name: 'PCR_CHANGED', text: 'the PCR values changed since the policy session checked them' },
  0x02d: { name: 'UPGRADE', text: 'the TPM is in field-upgrade mode' },
  0x02e: { name: 'TOO_MANY_CONTEXTS', text: 'the context ID counter is at its maximum' },
  0x02f: { name: 'AUTH_UNAVAILABLE', text: 'the authValue or authPolicy is not available for the selected entity' },
  0x030: { name: 'REBOOT', text: 'a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation' },
  0x031: { name: 'UNBALANCED', text: 'the protection algorithms (hash and symmetric) are not reasonably balanced' },
  0x042: { name: 'COMMAND_SIZE', text: 'the command size value is inconsistent with the contents of the command buffer' },
  0x043: { name: 'COMMAND_CODE', text: 'the command code is not supported by this TPM' },
  0x044: { name: 'AUTHSIZE', text: 'the authorization area size is out of range or inconsistent' },
  0x045: { name: 'AUTH_CONTEXT', text: 'a session was used for a command that cannot have an authorization session' },
  0x046: { name: 'NV_RANGE', text: 'the NV offset plus size is out of range' },
  0x047: { name: 'NV_SIZE', text: 'the requested NV allocation size is larger than allowed' },
  0x048: { name: 'NV_LOCKED', text: 'the NV index is locked for this operation' },
  0x049: { name: 'NV_AUTHORIZATION', text: 'the NV index access was not authorized' },
  0x04a: { name: 'NV_UNINITIALIZED', text: 'the NV index has not been written yet' },
  0x04b: { name: 'NV_SPACE', text: 'there is not enough NV space left' },
  0x04c: { name: 'NV_DEFINED', text: 'an NV index is already defined at that handle' },
  0x050: { name: 'BAD_CONTEXT', text: 'the context in TPM2_ContextLoad is not valid' },
  0x051: { name: 'CPHASH', text: 'cpHash value already set or not correct for use' },
  0x052: { name: 'PARENT', text: 'the handle is not a valid parent' },
  0x053: { name: 'NEEDS_TEST', text: 'some function needs testing' },
  0x054: { name: 'NO_RESULT', text: 'an internal function cannot process a request due to an unspecified problem' },
  0x055: { name: 'SENSITIVE', text: 'the sensitive area did not unmarshal correctly after decryption' },
};

// Format-1 errors (RC_FMT1 + n), which carry a parameter, handle or session number.
const FMT1: Record<number, RCEntry> = {
  0x001: { name: 'ASYMMETRIC', text: 'asymmetric algorithm not supported or not correct' },
  0x002: { name: 'ATTRIBUTES', text: 'inconsistent attributes' },
  0x003: { name: 'HASH', text: 'hash algorithm not supported or not appropriate' },
  0x004: { name: 'VALUE', text: 'value is out of range or is not correct for the context' },
  0x005: { name: 'HIERARCHY', text: 'hierarchy is not enabled or is not correct for the use' },
  0x007: { name: 'KEY_SIZE', text: 'key size is not supported' },
  0x008: { name: 'MGF', text: 'mask generation function not supported' },
  0x009: { name: 'MODE', text: 'mode of operation not supported' },
  0x00a: { name: 'TYPE', text: 'the type of the value is not appropriate for the use' },
  0x00b: { name: 'HANDLE', text: 'the handle is not correct for the use (nothing is loaded or defined there, or it is the wrong kind)' },
  0x00c: { name: 'KDF', text: 'unsupported key derivation function or function not appropriate for use' },
  0x00d: { name: 'RANGE', text: 'value was out of allowed range' },
  0x00e: { name: 'AUTH_FAIL', text: 'the authorization HMAC check failed and the DA counter was incremented' },
  0x00f: { name: 'NONCE', text: 'invalid nonce size or nonce value mismatch' },
  0x010: { name: 'PP', text: 'authorization requires assertion of physical presence' },
  0x012: { name: 'SCHEME', text: 'unsupported or incompatible scheme' },
  0x015: { name: 'SIZE', text: 'structure is the wrong size' },
  0x016: { name: 'SYMMETRIC', text: 'unsupported symmetric algorithm or key size, or not appropriate for the instance' },
  0x017: { name: 'TAG', text: 'incorrect structure tag' },
  0x018: { name: 'SELECTOR', text: 'union selector is incorrect' },
  0x01a: { name: 'INSUFFICIENT', text: 'the TPM was unable to unmarshal a value because there were not enough octets in the input buffer' },
  0x01b: { name: 'SIGNATURE', text: 'the signature is not valid' },
  0x01c: { name: 'KEY', text: 'key fields are not compatible with the selected use' },
  0x01d: { name: 'POLICY_FAIL', text: 'a policy check failed' },
  0x01f: { name: 'INTEGRITY', text: 'integrity check failed' },
  0x020: { name: 'TICKET', text: 'invalid ticket' },
  0x021: { name: 'RESERVED_BITS', text: 'reserved bits not set to zero as required' },
  0x022: { name: 'BAD_AUTH', text: 'authorization failure without DA implications' },
  0x023: { name: 'EXPIRED', text: 'the policy has expired' },
  0x024: { name: 'POLICY_CC', text: 'the commandCode in the policy is not the commandCode of the command, or the command code in a policy command references a command that is not implemented' },
  0x025: { name: 'BINDING', text: 'public and sensitive portions of an object are not cryptographically bound' },
  0x026: { name: 'CURVE', text: 'curve not supported' },
  0x027: { name: 'ECC_POINT', text: 'point is not on the required curve' },
  0x028: { name: 'FW_LIMITED', text: 'the hierarchy is firmware-limited but the firmware secret is unavailable' },
  0x029: { name: 'SVN_LIMITED', text: 'the hierarchy is SVN-limited but the firmware SVN secret is unavailable' },
};

// Warnings (RC_WARN + n).
const WARN: Record<number, RCEntry> = {
  0x001: { name: 'CONTEXT_GAP', text: 'gap for context ID is too large' },
  0x002: { name: 'OBJECT_MEMORY', text: 'out of memory for object contexts; flush transient objects' },
  0x003: { name: 'SESSION_MEMORY', text: 'out of memory for session contexts; flush sessions' },
  0x004: { name: 'MEMORY', text: 'out of shared object/session memory or need space for internal operations' },
  0x005: { name: 'SESSION_HANDLES', text: 'out of session handles; a session must be flushed before a new session may be created' },
  0x006: { name: 'OBJECT_HANDLES', text: 'out of object handles; a transient object must be flushed before a new one may be created' },
  0x007: { name: 'LOCALITY', text: 'bad locality' },
  0x008: { name: 'YIELDED', text: 'the TPM has suspended operation on the command; retry it' },
  0x009: { name: 'CANCELED', text: 'the command was canceled' },
  0x00a: { name: 'TESTING', text: 'the TPM is performing self-tests' },
  0x010: { name: 'REFERENCE_H0', text: 'the 1st handle in the handle area references a transient object or session that is not loaded' },
  0x011: { name: 'REFERENCE_H1', text: 'the 2nd handle in the handle area references a transient object or session that is not loaded' },
  0x012: { name: 'REFERENCE_H2', text: 'the 3rd handle in the handle area references a transient object or session that is not loaded' },
  0x013: { name: 'REFERENCE_H3', text: 'the 4th handle in the handle area references a transient object or session that is not loaded' },
  0x014: { name: 'REFERENCE_H4', text: 'the 5th handle in the handle area references a transient object or session that is not loaded' },
  0x015: { name: 'REFERENCE_H5', text: 'the 6th handle in the handle area references a transient object or session that is not loaded' },
  0x016: { name: 'REFERENCE_H6', text: 'the 7th handle in the handle area references a transient object or session that is not loaded' },
  0x018: { name: 'REFERENCE_S0', text: 'the 1st authorization session handle references a session that is not loaded' },
  0x019: { name: 'REFERENCE_S1', text: 'the 2nd authorization session handle references a session that is not loaded' },
  0x01a: { name: 'REFERENCE_S2', text: 'the 3rd authorization session handle references a session that is not loaded' },
  0x01b: { name: 'REFERENCE_S3', text: 'the 4th authorization session handle references a session that is not loaded' },
  0x01c: { name: 'REFERENCE_S4', text: 'the 5th authorization session handle references a session that is not loaded' },
  0x01d: { name: 'REFERENCE_S5', text: 'the 6th authorization session handle references a session that is not loaded' },
  0x01e: { name: 'REFERENCE_S6', text: 'the 7th authorization session handle references a session that is not loaded' },
  0x020: { name: 'NV_RATE', text: 'the TPM is rate-limiting accesses to prevent wearout of NV' },
  0x021: { name: 'LOCKOUT', text: 'authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode' },
  0x022: { name: 'RETRY', text: 'the TPM was not able to start the command; retry it' },
  0x023: { name: 'NV_UNAVAILABLE', text: 'the command may require writing of NV and NV is not currently accessible' },
};

/** What to do about a failure, appended to the message where we know something useful. */
const HINT: Record<string, string> = {
  INITIALIZE: 'Run TPM2_Startup (opening the TPM through tollgate does this).',
  FAILURE: 'The TPM needs a power cycle (for swtpm: restart it, or send INIT on its control port).',
  LOCKOUT: 'Wait for the lockout recovery time or reset the dictionary-attack counter with the lockout authorization.',
  AUTH_FAIL: 'Check the authorization value; repeated failures lead to DA lockout.',
  BAD_AUTH: 'Check the authorization value.',
  POLICY_FAIL: 'The policy session does not satisfy the object\'s policy.',
  NV_LOCKED: 'The NV index is write- or read-locked; it unlocks only as its attributes allow (e.g. at the next TPM restart for WRITE_STCLEAR).',
  NV_DEFINED: 'Use the existing index or undefine it first.',
  NV_UNINITIALIZED: 'Write the NV index before reading it.',
  NV_AUTHORIZATION: 'Use the authorization handle and value the NV index attributes require.',
  NV_SPACE: 'Free NV space by undefining unused indices.',
  OBJECT_MEMORY: 'Flush unused transient objects (tpm2_flushcontext -t).',
  SESSION_MEMORY: 'Flush unused sessions (tpm2_flushcontext -s).',
  OBJECT_HANDLES: 'Flush unused transient objects (tpm2_flushcontext -t).',
  SESSION_HANDLES: 'Flush unused sessions (tpm2_flushcontext -s).',
  HANDLE: 'Check that the object, NV index or session exists at that handle.',
  COMMAND_CODE: 'This TPM does not implement the command.',
};

export interface RCInfo {
  rc: number;
  /** Spec name without the index, e.g. "TPM_RC_HANDLE". */
  name: string;
  /** The code with the parameter/handle/session number stripped (format-1), e.g. 0x08b for TPM_RC_HANDLE. */
  base: number;
  format: 0 | 1;
  warning: boolean;
  /** 1-based index of the parameter, handle or session the error refers to (format-1 only). */
  parameter?: number;
  handle?: number;
  session?: number;
  /** Human description, e.g. "the handle is not correct for the use (...)", with " (handle 1)". */
  description: string;
}

function hexRC(rc: number): string {
  return '0x' + rc.toString(16).padStart(3, '0');
}

/** Decodes a TPM_RC. Never throws. */
export function decodeRC(rc: number): RCInfo {
  rc >>>= 0;
  if (rc === 0) return { rc, name: 'TPM_RC_SUCCESS', base: 0, format: 0, warning: false, description: 'success' };
  if (rc & RC_FMT1) {
    const n = rc & 0x3f;
    const base = RC_FMT1 | n;
    const e = FMT1[n];
    const name = e ? `TPM_RC_${e.name}` : `TPM_RC_FMT1_${hexRC(base)}`;
    const info: RCInfo = { rc, name, base, format: 1, warning: false, description: e?.text ?? `unknown format-1 error ${hexRC(base)}` };
    const num = (rc >>> 8) & 0xf;
    let where = '';
    if (rc & 0x40) { if (num) { info.parameter = num; where = `parameter ${num}`; } }
    else if (rc & 0x800) { if (num & 7) { info.session = num & 7; where = `session ${num & 7}`; } }
    else if (num) { info.handle = num & 7; where = `handle ${num & 7}`; }
    if (where) info.description += ` (${where})`;
    return info;
  }
  if (!(rc & RC_VER1)) {
    // A TPM 1.2 code (e.g. 0x1e TPM_BADTAG from a TPM that does not speak 2.0 framing).
    return { rc, name: `TPM_RC_VER1_${hexRC(rc)}`, base: rc, format: 0, warning: false, description: `TPM 1.2 style error ${hexRC(rc)} (is this a TPM 2.0?)` };
  }
  if (rc & 0x400) {
    return { rc, name: `TPM_RC_VENDOR_${hexRC(rc)}`, base: rc, format: 0, warning: !!(rc & 0x800), description: `vendor-defined ${rc & 0x800 ? 'warning' : 'error'} ${hexRC(rc)}` };
  }
  const n = rc & 0x7f;
  const warning = !!(rc & 0x800);
  const e = warning ? WARN[n] : FMT0[n];
  const name = e ? `TPM_RC_${e.name}` : `TPM_RC_${warning ? 'WARN' : 'FMT0'}_${hexRC(rc)}`;
  return { rc, name, base: rc, format: 0, warning, description: e?.text ?? `unknown ${warning ? 'warning' : 'error'} ${hexRC(rc)}` };
}

/** The spec name of a response code with its index, e.g. "TPM_RC_BAD_AUTH (session 1)". */
export function rcToString(rc: number): string {
  const i = decodeRC(rc);
  const where = i.parameter ? ` (parameter ${i.parameter})` : i.handle ? ` (handle ${i.handle})` : i.session ? ` (session ${i.session})` : '';
  return `${i.name}${where}`;
}

// Failures that mean "you are not allowed", rather than "the TPM or its setup is broken".
const DENIED = new Set(['TPM_RC_AUTH_FAIL', 'TPM_RC_BAD_AUTH', 'TPM_RC_POLICY_FAIL', 'TPM_RC_POLICY_CC', 'TPM_RC_NV_AUTHORIZATION',
  'TPM_RC_NV_LOCKED', 'TPM_RC_AUTH_MISSING', 'TPM_RC_PP', 'TPM_RC_EXPIRED', 'TPM_RC_SIGNATURE', 'TPM_RC_TICKET']);

/** A TPM command answered with a non-zero response code. `code` is TPM_RC_<NAME> without the index. */
export class TPMError extends TollgateError {
  readonly rc: number;
  readonly info: RCInfo;
  /** The command code that failed (0 when not known). */
  readonly commandCode: number;

  constructor(rc: number, commandCode = 0, context?: string) {
    const info = decodeRC(rc);
    const cmd = commandCode ? ccName(commandCode) : 'TPM command';
    const hint = HINT[info.name.slice(7)];
    const ctx = context ? ` while ${context}` : '';
    super(info.name, `${cmd} failed${ctx}: ${info.name} (${hexRC(info.rc)}): ${info.description}.${hint ? ' ' + hint : ''}`,
      classOf(info), { details: { rc: info.rc, rcName: rcToString(info.rc), command: cmd, ...(info.parameter ? { parameter: info.parameter } : {}), ...(info.handle ? { handle: info.handle } : {}), ...(info.session ? { session: info.session } : {}) } });
    this.name = 'TPMError';
    this.rc = info.rc;
    this.info = info;
    this.commandCode = commandCode;
  }
}

function classOf(info: RCInfo): ErrorClass {
  return DENIED.has(info.name) ? 'denied' : 'environment';
}

/** True when `e` is a TPMError whose base code (index stripped) equals `base`, e.g. isRC(e, 0x08b). */
export function isRC(e: unknown, base: number): e is TPMError {
  return e instanceof TPMError && (e.info.base === base || e.rc === base);
}
