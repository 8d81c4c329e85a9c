/**
 * @module
 * The client side of the live stream in AWS: API Gateway's management API of the stage's WebSocket API, in its own
 * module so that only the entry points that push to connections (the stream consumer, the pinger) bundle its client.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { DroverConfig } from '../config.js';
import type { ConnectionPoster } from './websocket-gateway.js';

/**
 * The management API of a WebSocket API stage (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`).
 *
 * @example
 * const poster = new ApiGatewayPoster(new ApiGatewayManagementApiClient({ endpoint: callbackUrl }));
 * await poster.post('Ab1=', JSON.stringify({ name: 'ping' }));
 */
export class ApiGatewayPoster implements ConnectionPoster {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, data: string): Promise<'sent' | 'gone'> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(data) }));
      return 'sent';
    } catch (e) {
      if (isGone(e)) return 'gone';
      throw e;
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }
}

const isGone = (e: unknown) => (e as { name?: string })?.name === 'GoneException' || (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 410;

/**
 * The stage's poster when the stack names its management endpoint (`DROVER_WEBSOCKET_ENDPOINT`).
 *
 * @example
 * const drover = await stageDrover({ connectionPoster: connectionPosterOf });
 */
export function connectionPosterOf(config: DroverConfig): ApiGatewayPoster | undefined {
  return posterAt(config.region, config.websocketEndpoint);
}

/**
 * The poster of the agents' doorbell when the stack names its management endpoint (`DROVER_AGENT_DOORBELL_ENDPOINT`).
 *
 * @example
 * const drover = await stageDrover({ doorbellPoster: doorbellPosterOf });
 */
export function doorbellPosterOf(config: DroverConfig): ApiGatewayPoster | undefined {
  return posterAt(config.region, config.agentDoorbellEndpoint);
}

function posterAt(region: string, endpoint: string | undefined): ApiGatewayPoster | undefined {
  return endpoint ? new ApiGatewayPoster(new ApiGatewayManagementApiClient({ region, endpoint })) : undefined;
}
