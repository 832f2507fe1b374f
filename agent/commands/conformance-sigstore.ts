// `tollgate conformance sigstore verify-bundle …`: the verify half of the sigstore-conformance
// client protocol (docs/cli_protocol.md), so the suite can drive tollgate through a one-line
// wrapper (`exec tollgate conformance sigstore "$@"`). Exit 0 only when the bundle is valid for the
// artifact under the given identity or key. Signing is not something tollgate does.
import { TollgateError } from '../../hardware/index.ts';
import { verifyArtifact } from '../../attest/index.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { artifactArgument, keysFromFlags } from './verify.ts';

const one = (v: CommandContext['values'][string]): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) ? v[v.length - 1] : undefined);

function usage(message: string): TollgateError {
  return new TollgateError('USAGE', message, 'usage');
}

const conformance: CommandSpec = {
  path: ['conformance', 'sigstore'],
  summary: 'sigstore-conformance client protocol (verify-bundle); exit 0 only for a valid bundle.',
  usage:
    'tollgate conformance sigstore verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PUB.pem) [--trusted-root FILE] FILE_OR_DIGEST',
  positionals: [
    { name: 'verify-bundle', required: true },
    { name: 'FILE_OR_DIGEST', required: true },
  ],
  passThrough: true,
  options: {
    staging: { type: 'boolean', description: 'Use Sigstore staging (needs --trusted-root: there is no offline staging root)' },
    bundle: { type: 'string', description: 'The Sigstore bundle to verify', valueName: 'FILE' },
    'certificate-identity': { type: 'string', description: 'Expected certificate SAN, exact', valueName: 'ID' },
    'certificate-oidc-issuer': { type: 'string', description: 'Expected OIDC issuer, exact', valueName: 'URL' },
    key: { type: 'string', description: 'Verify with this public key instead of a certificate identity', valueName: 'PUB.pem' },
    'trusted-root': { type: 'string', description: 'trusted_root.json to verify against (default: public-good, offline)', valueName: 'FILE' },
  },
  async run(ctx: CommandContext): Promise<number> {
    const [mode, ...rest] = ctx.positionals;
    if (mode === 'sign-bundle') {
      throw new TollgateError('CONFORMANCE_UNSUPPORTED', 'tollgate implements only the verify half of the conformance protocol; sign-bundle is not supported.', 'denied');
    }
    if (mode !== 'verify-bundle') throw usage(`unknown conformance mode ${JSON.stringify(mode ?? '')}; expected verify-bundle.`);
    const unknown = rest.filter((a) => a.startsWith('--'));
    if (unknown.length) throw usage(`verify-bundle does not take ${unknown.join(', ')}.`);
    if (rest.length !== 1) throw usage('verify-bundle takes exactly one FILE_OR_DIGEST.');
    const bundle = one(ctx.values.bundle);
    if (bundle === undefined) throw usage('verify-bundle needs --bundle FILE.');
    const identity = one(ctx.values['certificate-identity']);
    const issuer = one(ctx.values['certificate-oidc-issuer']);
    const key = one(ctx.values.key);
    if (key !== undefined && (identity !== undefined || issuer !== undefined)) throw usage('Give --key or --certificate-identity/--certificate-oidc-issuer, not both.');
    if (key === undefined && (identity === undefined || issuer === undefined)) throw usage('verify-bundle needs --certificate-identity and --certificate-oidc-issuer, or --key.');
    const trustedRoot = one(ctx.values['trusted-root']);
    if (ctx.values.staging === true && trustedRoot === undefined) {
      throw new TollgateError('CONFORMANCE_NO_STAGING_ROOT', 'There is no offline Sigstore staging trusted root; pass --trusted-root with the staging trusted_root.json.', 'denied');
    }
    const abs = (p: string): string => (p.startsWith('/') ? p : `${ctx.cwd}/${p}`);
    const result = await verifyArtifact({
      artifact: artifactArgument(rest[0]!, ctx.cwd),
      bundles: [abs(bundle)],
      ...(trustedRoot !== undefined ? { trustedRoot: abs(trustedRoot) } : {}),
      expectations: key !== undefined ? { keys: await keysFromFlags([key], ctx.cwd) } : { identities: [{ issuer: issuer!, subject: identity! }] },
    });
    // Set-aside evidence (an untrusted signer) explains a failed threshold, so show it too.
    const failures = result.checks.filter((c) => c.status === 'failed' || (c.status === 'not-applicable' && c.id.startsWith('sigstore.bundle')));
    ctx.result(
      { valid: result.decision === 'allow', checks: result.checks },
      result.decision === 'allow' ? 'OK: the bundle is valid.' : `INVALID: ${failures.map((c) => `${c.id}: ${c.reason}`).join('; ')}`,
    );
    return result.decision === 'allow' ? 0 : 1;
  },
};

export const commands: CommandSpec[] = [conformance];
