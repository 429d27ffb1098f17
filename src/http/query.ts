/** The query string of a request, parsed once for both the signature check and the handlers. */
import { badRequest } from '../protocol/errors.js';

/**
 * Parses a query string with every name lower-cased, as the Pusher signature signs them: a
 * handler then reads exactly what was signed, so `LIMIT=` cannot switch off a signed `limit=`.
 * A name given twice (in any case) is ambiguous and answered 400.
 */
export function parseQuery(text: string): URLSearchParams {
  const query = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(text)) {
    const lower = name.toLowerCase();
    if (query.has(lower)) throw badRequest(`Query parameter "${lower}" is given more than once`);
    query.append(lower, value);
  }
  return query;
}
