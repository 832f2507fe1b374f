// A transport wrapper for tests: records every command and response as bytes, and can alter the
// next command or response of a given command code (one flipped bit, in transit). Plus a small
// parser of the command framing (handles, authorization area), written from Part 1 §18 so that
// assertions about the wire do not depend on how our encoder laid the bytes out.
import { commands, type CommandDef, type SendOptions, type Transport } from '../../hardware/index.ts';

const byCode = new Map<number, CommandDef>(Object.values(commands).map((d) => [d.code, d as CommandDef]));

export interface Exchange {
  cc: number;
  command: Buffer;
  response: Buffer;
}

export class Wire implements Transport {
  readonly inner: Transport;
  readonly uri: string;
  log: Exchange[] = [];
  /** Alters the response to the next command with this command code (in place). */
  alterResponse: { cc: number; fn: (r: Buffer) => void } | undefined;
  /** Alters the next command with this command code (in place) before it is sent. */
  alterCommand: { cc: number; fn: (c: Buffer) => void } | undefined;
  powerOn?: () => Promise<void>;

  constructor(inner: Transport) {
    this.inner = inner;
    this.uri = inner.uri;
    if (inner.powerOn) this.powerOn = () => inner.powerOn!();
  }

  async send(cmd: Uint8Array, opts?: SendOptions): Promise<Buffer> {
    const c = Buffer.from(cmd);
    const cc = c.readUInt32BE(6);
    const ac = this.alterCommand;
    if (ac && ac.cc === cc) { this.alterCommand = undefined; ac.fn(c); }
    const r = await this.inner.send(c, opts);
    const ar = this.alterResponse;
    if (ar && ar.cc === cc) { this.alterResponse = undefined; ar.fn(r); }
    this.log.push({ cc, command: c, response: Buffer.from(r) });
    return r;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  commands(cc: number): Exchange[] {
    return this.log.filter((x) => x.cc === cc);
  }

  sentBytes(): Buffer[] {
    return this.log.map((x) => x.command);
  }

  receivedBytes(): Buffer[] {
    return this.log.map((x) => x.response);
  }
}

export interface WireSession {
  handle: number;
  nonce: Buffer;
  attributes: number;
  hmac: Buffer;
}

export interface WireCommand {
  tag: number;
  cc: number;
  handles: number[];
  sessions: WireSession[];
  parameters: Buffer;
}

/** Splits a command into handles, authorization sessions and the parameter area. */
export function parseCommand(c: Buffer): WireCommand {
  const tag = c.readUInt16BE(0);
  const size = c.readUInt32BE(2);
  if (size !== c.length) throw new Error(`command size field ${size} != ${c.length}`);
  const cc = c.readUInt32BE(6);
  const def = byCode.get(cc);
  if (!def) throw new Error(`unknown command code 0x${cc.toString(16)}`);
  let at = 10;
  const handles: number[] = [];
  for (let i = 0; i < def.handles.length; i++, at += 4) handles.push(c.readUInt32BE(at));
  const sessions: WireSession[] = [];
  if (tag === 0x8002) {
    const authSize = c.readUInt32BE(at);
    at += 4;
    const end = at + authSize;
    while (at < end) {
      const handle = c.readUInt32BE(at); at += 4;
      const nn = c.readUInt16BE(at); at += 2;
      const nonce = c.subarray(at, at + nn); at += nn;
      const attributes = c[at]!; at += 1;
      const hn = c.readUInt16BE(at); at += 2;
      const hmac = c.subarray(at, at + hn); at += hn;
      sessions.push({ handle, nonce, attributes, hmac });
    }
    if (at !== end) throw new Error('authorization area overran its size');
  }
  return { tag, cc, handles, sessions, parameters: c.subarray(at) };
}

/** True when any `window`-byte run of `secret` occurs in any of `stream`. */
export function leaks(stream: readonly Buffer[], secret: Uint8Array, window = 8): boolean {
  const s = Buffer.from(secret);
  if (s.length < window) return stream.some((b) => b.includes(s));
  for (let i = 0; i + window <= s.length; i++) {
    const w = s.subarray(i, i + window);
    if (stream.some((b) => b.includes(w))) return true;
  }
  return false;
}
