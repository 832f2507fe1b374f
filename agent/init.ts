// `tollgate init` for the device: the gate configuration (the operator's trust choices) is written
// first, then the TUF state (pinned root, config) that makes the device look initialised. A crash
// in between leaves a gate.json without TUF state ("run init"), never TUF state without gate.json
// (which would fetch with no mandatory policy); readGateConfig refuses that case anyway.
import { initDevice, type InitResult } from '../tuf/index.ts';
import { writeGateConfig, type GateConfig } from './gate-config.ts';

export type InitDeviceOptions = Parameters<typeof initDevice>[0];

export async function initGate(o: { stateRoot: string; gate: GateConfig; device: InitDeviceOptions }): Promise<InitResult> {
  writeGateConfig(o.stateRoot, o.gate);
  return initDevice(o.device);
}
