/**
 * The stage bootstrap once per stage: a cold start of a set-up stage makes one store request (the marker), a new
 * stage or a changed admin key gets the full setup, and the marker written last lets a start that died redo it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createDrover } from '../runtime.js';
import { startTestStore, type TestStore } from '../../test/helpers/store.js';
import { bootstrap, bootstrapStage, BOOTSTRAP_VERSION, type BootstrapMarker } from './bootstrap.js';
import { Authenticator } from './credentials.js';
import { seedWakame } from './wakame/seed.js';

let t: TestStore;
/** Store requests sent through the test store's DynamoDB client since the last `take()`. */
const sent: string[] = [];
const take = () => sent.splice(0);

beforeEach(async () => {
  t = await startTestStore();
  t.client.middlewareStack.add(
    (next, ctx) => async (args) => {
      sent.push(String(ctx.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'bootstrapCounter' },
  );
});
afterEach(() => t.close());

const admin = { accessKey: 'STAGEADMIN', secretKey: 'stage-secret' };
const coldStart = () => createDrover({ config: loadConfig({ DROVER_RUNNER: 'inline' }), client: t.client, tableName: t.store.tableName, admin });

describe('bootstrapStage', () => {
  it('makes a cold start of a set-up stage one read, where every start used to set it up again', async () => {
    const first = await coldStart();
    expect(take().length).toBeGreaterThan(5);
    // Before: the setup and the Wakame seeding ran on every cold start, already done or not.
    await bootstrap(t.store, { admin });
    await seedWakame(t.store, first.defaultProjectId);
    expect(take()).toHaveLength(7);

    const again = await coldStart();
    expect(take()).toEqual(['GetItemCommand']);
    expect(again.defaultProjectId).toBe(first.defaultProjectId);
    const marker = (await t.store.getConfig<BootstrapMarker>('bootstrap'))!;
    expect(marker).toMatchObject({ version: BOOTSTRAP_VERSION, defaultProjectId: first.defaultProjectId, admin: { accessKey: admin.accessKey } });
    // The cursor secret comes from the marker: cursors a start signs, every other start reads.
    expect(marker.cursorSecret).toBe(await t.store.getConfig('cursorSecret'));
    again.stop();
    first.stop();
  });

  it('sets the stage up again when the marker is older or records another admin key, and after a start that died midway', async () => {
    await bootstrapStage(t.store, { admin });
    await t.store.putConfig<BootstrapMarker>('bootstrap', { ...(await t.store.getConfig<BootstrapMarker>('bootstrap'))!, version: BOOTSTRAP_VERSION - 1 });
    take();
    await bootstrapStage(t.store, { admin });
    expect(take().length).toBeGreaterThan(1);
    expect((await t.store.getConfig<BootstrapMarker>('bootstrap'))!.version).toBe(BOOTSTRAP_VERSION);

    // A new admin key in the stage's environment is installed by the next start, and the old one stops working.
    await bootstrapStage(t.store, { admin: { accessKey: 'ROTATED', secretKey: 'rotated-secret' } });
    const auth = new Authenticator(t.store);
    await expect(auth.authenticate(`Basic ${Buffer.from('ROTATED:rotated-secret').toString('base64')}`)).resolves.toMatchObject({ role: 'admin' });
    await expect(new Authenticator(t.store).authenticate(`Basic ${Buffer.from(`${admin.accessKey}:${admin.secretKey}`).toString('base64')}`)).rejects.toMatchObject({ status: 401 });

    // No marker (a start died before writing it): the next start does the whole setup, converging on the same project.
    const { defaultProjectId } = await bootstrapStage(t.store);
    await t.store.doc.send(new (await import('@aws-sdk/lib-dynamodb')).DeleteCommand({ TableName: t.store.tableName, Key: { pk: 'config#bootstrap', sk: 'C' } }));
    take();
    expect((await bootstrapStage(t.store)).defaultProjectId).toBe(defaultProjectId);
    expect(take().length).toBeGreaterThan(1);
    expect(await t.store.getConfig('bootstrap')).toBeDefined();
  });
});
