// Public surface of hardware/: the pure-TypeScript TPM 2.0 stack.
export * from './errors.ts';
