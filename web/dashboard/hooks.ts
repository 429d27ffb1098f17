import { useEffect, useRef, useState } from 'preact/hooks';

/** What a polled value looks like to a page. */
export interface Polled<T> {
  readonly data: T | null;
  readonly error: string | null;
  /** Loads again now. */
  readonly reload: () => void;
}

/**
 * Loads `load()` now and every `intervalMs` while the page is visible (0: once); starts over when
 * `deps` change. An answer that arrives after a newer one was asked for is ignored.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number, deps: readonly unknown[]): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    let active = true;
    const tick = async (): Promise<void> => {
      if (!document.hidden) {
        try {
          const value = await loadRef.current(controller.signal);
          if (!active) return;
          setData(value);
          setError(null);
        } catch (caught) {
          if (!active) return;
          setError((caught as Error).message);
        }
      }
      if (active && intervalMs > 0) timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      active = false;
      controller.abort();
      if (timer !== null) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round, intervalMs]);

  return { data, error, reload: () => setRound((n) => n + 1) };
}

/** A value that follows `value` after it stayed unchanged for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return current;
}

/** "3 s ago", "5 min ago", or the time of day. */
export function ago(time: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return new Date(time).toLocaleString();
}
