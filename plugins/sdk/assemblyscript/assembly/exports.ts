// The wasm exports of a plugin (abi/README.md §4). A strategy's entry file
// re-exports them:  export * from "<sdk>/assembly/exports";

import { SIZE_DESCRIPTOR, PLUGIN_FAILED } from "./abi";
import { currentRunner, INBOX, INBOX_SIZE, OUTBOX, OUTBOX_SIZE, registeredFeatures, startRunner } from "./runner";

const DESCRIPTOR: usize = memory.data(SIZE_DESCRIPTOR, 8);

/** The version marker (§6): () -> (), never called. */
export function stratbox_abi_v1_0(): void {}

/** The address of the 32-byte descriptor (§7). */
export function stratbox_buffers(): usize {
  store<u16>(DESCRIPTOR, 1, 0);  // major
  store<u16>(DESCRIPTOR, 0, 2);  // minor
  store<u32>(DESCRIPTOR, registeredFeatures(), 4);
  store<u32>(DESCRIPTOR, <u32>INBOX, 8);
  store<u32>(DESCRIPTOR, INBOX_SIZE, 12);
  store<u32>(DESCRIPTOR, <u32>OUTBOX, 16);
  store<u32>(DESCRIPTOR, OUTBOX_SIZE, 20);
  store<u64>(DESCRIPTOR, 0, 24);
  return DESCRIPTOR;
}

export function stratbox_init(n: i32): i32 {
  return startRunner(n);
}

export function stratbox_on_events(n: i32): i32 {
  const r = currentRunner();
  return r == null ? PLUGIN_FAILED : r.onEvents(n);
}

export function stratbox_on_stop(): i32 {
  const r = currentRunner();
  return r == null ? 0 : r.onStop();
}
