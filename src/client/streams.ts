/** Streams of the client SDK: `listen(callback)` returns a stop function, and they are async-iterable. */

type Listener<T> = (value: T) => void;

/** A stream of events; a listener's exception is reported, never thrown into the emitter. */
export class EventStream<T> implements AsyncIterable<T> {
  protected readonly listeners = new Set<Listener<T>>();
  private closed = false;
  private readonly closers = new Set<() => void>();

  constructor(protected readonly onListenerError: (error: unknown) => void = () => undefined) {}

  /** Calls `callback` with every value; returns a function that stops it. */
  listen(callback: Listener<T>): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(callback);
    return () => this.listeners.delete(callback);
  }

  /** Delivers a value to every listener. */
  emit(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Ends the stream: listeners are dropped, async iterators finish. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    for (const close of [...this.closers]) close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const queue: T[] = [];
    let wake: (() => void) | null = null;
    let done = this.closed;
    const stop = this.listen((value) => {
      queue.push(value);
      wake?.();
    });
    const finish = () => {
      done = true;
      wake?.();
    };
    this.closers.add(finish);
    const cleanup = () => {
      stop();
      this.closers.delete(finish);
      done = true;
    };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        while (queue.length === 0 && !done) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (queue.length > 0) return { value: queue.shift() as T, done: false };
        cleanup();
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T>> => {
        cleanup();
        return { value: undefined, done: true };
      },
    };
  }
}

/** A stream with a current value: late listeners (and iterators) get it at once; repeats are not re-sent. */
export class ValueStream<T> extends EventStream<T> {
  constructor(
    private current: T,
    onListenerError?: (error: unknown) => void,
    private readonly equals: (a: T, b: T) => boolean = Object.is,
  ) {
    super(onListenerError);
  }

  get value(): T {
    return this.current;
  }

  override listen(callback: (value: T) => void): () => void {
    const stop = super.listen(callback);
    if (!this.isClosed) {
      try {
        callback(this.current);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    return stop;
  }

  /** Sets the value and tells listeners if it changed. */
  set(value: T): void {
    if (this.equals(this.current, value)) return;
    this.current = value;
    this.emit(value);
  }
}
