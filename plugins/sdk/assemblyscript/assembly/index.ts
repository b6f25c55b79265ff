// The stratbox AssemblyScript SDK: import what a strategy needs from here,
// and re-export the plugin's exports from "./exports" in the entry file.

export * from "./abi";
export * from "./fixed";
export * from "./params";
export * from "./context";
export * from "./strategy";
export { register, INBOX_SIZE, OUTBOX_SIZE } from "./runner";
