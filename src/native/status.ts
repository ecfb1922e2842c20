/**
 * Public view of whether the kernel paths are in use.
 */
import { loadFailure } from './binding.js';
import { getNative } from './capabilities.js';

/** True when the native addon is loaded (Linux with a successful build). */
export function isNativeAvailable(): boolean {
  return getNative() !== null;
}

/** Why transfers copy through user space, or undefined when the addon is loaded. */
export function nativeUnavailableReason(): string | undefined {
  return getNative() === null ? (loadFailure ?? 'disabled') : undefined;
}
