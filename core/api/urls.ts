/**
 * @module
 * Builds the absolute, lower-cased URLs Rancher clients follow (cattle `DefaultUrlBuilder`): the base comes
 * from the request (or `X-Forwarded-*`), and a project sub-context keeps its `/v1/projects/<id>` prefix.
 */
import { schema } from '../schema/registry.js';
import type { ResourceSchema } from '../schema/types.js';
import type { Resource } from '../store/item.js';

const PROTO = /^https?$/i;
/** A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;
const PORT = /^\d{1,5}$/;

/**
 * URLs for one request.
 *
 * @example
 * const urls = UrlBuilder.fromRequest(new URL('http://h:8080/v1/containers'), headers, null);
 * urls.resource(res) // 'http://h:8080/v1/containers/1i5'
 */
export class UrlBuilder {
  constructor(
    /** `scheme://host[:port]` */
    readonly origin: string,
    /** `/v1` or `/v1/projects/<id>` */
    readonly prefix: string,
  ) {}

  static fromRequest(url: URL, header: (name: string) => string | undefined, urlProject: string | null): UrlBuilder {
    // Forwarded values are whatever a client sent: one that is not a plain scheme, host or port is ignored.
    const forwarded = (name: string, valid: RegExp) => {
      const v = header(name)?.split(',')[0].trim();
      return v && valid.test(v) ? v : undefined;
    };
    const proto = forwarded('x-forwarded-proto', PROTO)?.toLowerCase() || url.protocol.replace(':', '');
    let host = forwarded('x-forwarded-host', HOST) || forwarded('host', HOST) || url.host;
    const port = forwarded('x-forwarded-port', PORT);
    if (port && !/:\d+$/.test(host) && !((proto === 'http' && port === '80') || (proto === 'https' && port === '443'))) {
      host = `${host}:${port}`;
    }
    const prefix = urlProject ? `/v1/projects/${urlProject}` : '/v1';
    return new UrlBuilder(`${proto}://${host}`.toLowerCase(), prefix.toLowerCase());
  }

  get base(): string {
    return `${this.origin}${this.prefix}`;
  }

  schemas(): string {
    return `${this.base}/schemas`;
  }

  schema(id: string): string {
    return `${this.base}/schemas/${id.toLowerCase()}`;
  }

  collection(s: ResourceSchema): string {
    return `${this.base}/${s.pluralName.toLowerCase()}`;
  }

  resource(res: Resource): string {
    return `${this.collection(schema(res.type))}/${res.id}`;
  }

  link(res: Resource, name: string): string {
    return `${this.resource(res)}/${name.toLowerCase()}`;
  }

  action(res: Resource, name: string): string {
    return `${this.resource(res)}/?action=${name.toLowerCase()}`;
  }
}
