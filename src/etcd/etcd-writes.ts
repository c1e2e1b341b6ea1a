import type { Etcd3, IKeyValue, IRequestOp } from "etcd3";
import { bounded, isLeaseInvalid } from "./etcd-client.js";
import type { EtcdLayout, EtcdRecord } from "./etcd-layout.js";
import type { EtcdLease } from "./etcd-lease.js";

/**
 * The writes of a namespace, each one etcd request (a transaction where a check and a change
 * must be one step), each bounded by a deadline. They return the revision they committed at,
 * so the caller can wait for its watch to show them.
 */
export interface WriteContext {
  readonly client: Etcd3;
  readonly layout: EtcdLayout;
  readonly lease: EtcdLease;
}

/** A key as read back: its record (undefined when the value is no valid registration), value and revisions. */
interface Stored {
  readonly record: EtcdRecord | undefined;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly lease: string;
}

/** Deletes per transaction: etcd refuses more than 128 operations in one by default. */
const DELETES_PER_TXN = 100;

/** Puts `record` under our lease (insert or replace); the revision it committed at. */
export async function putRecord(ctx: WriteContext, record: EtcdRecord, deadline: number): Promise<number> {
  const key = ctx.layout.keyOf(record.name);
  const value = ctx.layout.encode(record);
  return withLease(ctx, deadline, async (lease) => {
    const put = await bounded(`the registration of ${record.name}`, deadline, (options) => ctx.client.kv.put({ key, value, lease }, options));
    return Number(put.header.revision);
  });
}

/**
 * Creates `record` under our lease only if no one holds the name (compare-and-swap on the
 * key's create revision, so of two racing nameservers exactly one wins); the revision it
 * committed at, or undefined when the name was taken. `since`: a revision before the first
 * attempt, to recognise our own commit when an attempt's answer was lost and it is retried.
 */
export async function createRecord(ctx: WriteContext, record: EtcdRecord, deadline: number, since: number): Promise<number | undefined> {
  const key = ctx.layout.keyOf(record.name);
  const value = ctx.layout.encode(record);
  return withLease(ctx, deadline, async (lease) => {
    const txn = await bounded(`the registration of ${record.name}`, deadline, (options) =>
      ctx.client.kv.txn(
        {
          compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key, value, lease } }],
          failure: [{ request_range: { key } }],
        },
        options,
      ),
    );
    if (txn.succeeded) return Number(txn.header.revision);
    const held = txn.responses[0]?.response_range?.kvs[0];
    // Our own earlier attempt, committed though its answer was lost: the same value, under our lease, created since we began.
    if (held && held.value.equals(value) && held.lease === lease && Number(held.create_revision) > since) return Number(held.create_revision);
    return undefined;
  });
}

/**
 * Replaces the tags of a name, keeping its URI, origin and lease (compare-and-swap on the
 * key's mod revision, read again on a race); the revision it committed at, "unchanged" when the
 * name already had these tags, or undefined when the name is unknown (or holds no valid value).
 */
export async function updateTags(ctx: WriteContext, name: string, metadata: readonly string[], deadline: number): Promise<number | "unchanged" | undefined> {
  const key = ctx.layout.keyOf(name);
  let current = await read(ctx, name, deadline);
  for (;;) {
    if (!current?.record) return undefined;
    const value = ctx.layout.encode({ ...current.record, metadata });
    if (current.value.equals(value)) return "unchanged";
    const txn = await bounded(`the tags of ${name}`, deadline, (options) =>
      ctx.client.kv.txn(
        {
          compare: [{ key, target: "Mod", result: "Equal", mod_revision: current!.modRevision }],
          success: [{ request_put: { key, value, ignore_lease: true } }],
          failure: [{ request_range: { key } }],
        },
        options,
      ),
    );
    if (txn.succeeded) return Number(txn.header.revision);
    current = stored(ctx.layout, txn.responses[0]?.response_range?.kvs[0]);
  }
}

/** Deletes names; the records that were there (valid ones) and the revision of the last deletion (0: none). */
export async function deleteRecords(ctx: WriteContext, names: readonly string[], deadline: number): Promise<{ removed: EtcdRecord[]; revision: number }> {
  const removed: EtcdRecord[] = [];
  let revision = 0;
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += DELETES_PER_TXN) {
    const ops: IRequestOp[] = unique.slice(i, i + DELETES_PER_TXN).map((name) => ({ request_delete_range: { key: ctx.layout.keyOf(name), prev_kv: true } }));
    const txn = await bounded(`the removal of ${unique.length === 1 ? unique[0] : `${unique.length} names`}`, deadline, (options) =>
      ctx.client.kv.txn({ compare: [], success: ops, failure: [] }, options),
    );
    let deleted = false;
    for (const response of txn.responses) {
      for (const kv of response.response_delete_range?.prev_kvs ?? []) {
        deleted = true;
        const record = stored(ctx.layout, kv)?.record;
        if (record) removed.push(record);
      }
    }
    if (deleted) revision = Number(txn.header.revision);
  }
  return { removed, revision };
}

/** The key of `name` as etcd holds it now, or undefined. */
async function read(ctx: WriteContext, name: string, deadline: number): Promise<Stored | undefined> {
  const range = await bounded(`the registration of ${name}`, deadline, (options) => ctx.client.kv.range({ key: ctx.layout.keyOf(name) }, options));
  return stored(ctx.layout, range.kvs[0]);
}

function stored(layout: EtcdLayout, kv: IKeyValue | undefined): Stored | undefined {
  if (!kv) return undefined;
  const record = layout.decode(kv.key, kv.value);
  return { record: "invalid" in record ? undefined : record, value: kv.value, modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision), lease: kv.lease };
}

/** Runs a write under our current lease; a lease etcd no longer knows is replaced and the write tried again, all by `deadline`. */
async function withLease<T>(ctx: WriteContext, deadline: number, write: (lease: string) => Promise<T>): Promise<T> {
  for (;;) {
    const lease = await ctx.lease.current(deadline);
    try {
      return await write(lease);
    } catch (error) {
      if (!isLeaseInvalid(error)) throw error;
      ctx.lease.refused(lease);
    }
  }
}
