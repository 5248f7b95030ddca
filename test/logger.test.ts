import { afterEach, describe, expect, it, vi } from 'vitest';
import { logger, setLogger } from '../src/logger.js';

describe('logger', () => {
  let restore: ReturnType<typeof setLogger> | null = null;
  afterEach(() => {
    if (restore) setLogger(restore);
    restore = null;
    vi.restoreAllMocks();
  });

  it('setLogger routes messages to the given functions and returns the previous logger', () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const before = logger();
    restore = setLogger({ warn: (m) => warnings.push(m), info: (m) => infos.push(m) });
    expect(restore).toBe(before);
    logger().warn('w1');
    logger().info('i1');
    expect(warnings).toEqual(['w1']);
    expect(infos).toEqual(['i1']);
    const mine = setLogger(restore);
    mine.warn('w2');
    expect(warnings).toEqual(['w1', 'w2']);
    // restoring installs the previous logger's functions again
    expect(logger()).toEqual(before);
    expect(logger().warn).toBe(before.warn);
  });

  it('a partial logger keeps the default for the levels it leaves out; null restores the default', () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const infos: string[] = [];
    restore = setLogger({ info: (m) => infos.push(m) });
    logger().info('note');
    logger().warn('careful');
    logger().debug('ignored');
    expect(infos).toEqual(['note']);
    expect(spy).toHaveBeenCalledWith('[adapterkit] careful');
    setLogger(null);
    logger().info('dropped');
    logger().warn('again');
    expect(infos).toEqual(['note']);
    expect(spy).toHaveBeenLastCalledWith('[adapterkit] again');
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
