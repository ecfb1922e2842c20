/**
 * Colours for people, never for machines: only when the stream is a
 * terminal, and never when NO_COLOR is set to anything but '' (no-color.org).
 * Pipes, files and CI logs get plain text.
 */

/** Whether to colour what goes to `stream`, given the environment. */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

const RESET = '\x1b[0m';

/** Wraps text in an SGR sequence when `enabled`; returns it as is otherwise. */
export type Paint = (text: string) => string;

function sgr(code: string, enabled: boolean): Paint {
  return enabled ? (text) => `\x1b[${code}m${text}${RESET}` : (text) => text;
}

/** The few styles the CLI uses. */
export interface Palette {
  url: Paint;
  dim: Paint;
  warn: Paint;
  /** The colour of an HTTP status: 2xx green, 3xx cyan, 4xx yellow, 5xx red. */
  status(status: number): Paint;
}

/** A palette that paints when `enabled`, and is the identity otherwise. */
export function createPalette(enabled: boolean): Palette {
  const green = sgr('32', enabled);
  const cyan = sgr('36', enabled);
  const yellow = sgr('33', enabled);
  const red = sgr('31', enabled);
  return {
    url: sgr('36;4', enabled),
    dim: sgr('2', enabled),
    warn: yellow,
    status: (status) => (status >= 500 ? red : status >= 400 ? yellow : status >= 300 ? cyan : green),
  };
}
