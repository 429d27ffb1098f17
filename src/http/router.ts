/** A small method + path router; patterns are compiled once when routes are added. */

/** Path parameters by name, already URL-decoded. */
export type Params = Record<string, string>;

interface Route<H> {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: string[];
  readonly handler: H;
}

/** A match, or why there is none. */
export type RouteMatch<H> = { kind: 'found'; handler: H; params: Params } | { kind: 'method-not-allowed'; allowed: string[] } | { kind: 'not-found' };

/** Routes `METHOD /path/:param` patterns to handlers. */
export class Router<H> {
  private readonly routes: Route<H>[] = [];

  /** Adds a route; `:name` matches one path segment. */
  add(method: string, path: string, handler: H): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Finds the route of a request. A parameter that is not valid percent-encoding does not match. */
  match(method: string, path: string): RouteMatch<H> {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      if (route.method !== method) {
        if (!allowed.includes(route.method)) allowed.push(route.method);
        continue;
      }
      const params: Params = {};
      try {
        route.names.forEach((name, index) => (params[name] = decodeURIComponent(found[index + 1])));
      } catch {
        continue;
      }
      return { kind: 'found', handler: route.handler, params };
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' };
  }
}
