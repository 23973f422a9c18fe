/**
 * Things to clean up after a test file: register them as they are made, then
 * `afterAll(() => disposables.disposeAll())`. Disposed in reverse order; every one runs even if
 * another fails.
 */
export class Disposables {
  private readonly items: (() => Promise<unknown> | unknown)[] = [];

  add<T>(value: T, dispose: (v: T) => Promise<unknown> | unknown): T {
    this.items.push(() => dispose(value));
    return value;
  }

  defer(fn: () => Promise<unknown> | unknown): void {
    this.items.push(fn);
  }

  async disposeAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.items.length) {
      try {
        await this.items.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  }
}
