/**
 * Whether the kernel paths are in use, as a module of its own: the public
 * `isNativeAvailable` and `nativeUnavailableReason` (index.ts re-exports
 * them) for callers that should not load the whole library to ask, such as
 * the CLI's startup warning.
 */
export { isNativeAvailable, nativeUnavailableReason } from './native/status.js';
