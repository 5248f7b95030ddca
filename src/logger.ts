/** Where the library's warnings and notes go. Replace with {@link setLogger} (tests capture warnings this way). */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (msg) => console.warn(`[adapterkit] ${msg}`),
};

let current: Logger = consoleLogger;

/** Replaces the library logger; returns the previous one. `setLogger(null)` restores the default. */
export function setLogger(logger: Partial<Logger> | null): Logger {
  const prev = current;
  current = logger ? { ...consoleLogger, ...logger } : consoleLogger;
  return prev;
}

/** The active logger. */
export function logger(): Logger {
  return current;
}
