;; does: imports a WASI function that does not exist (wasi_snapshot_preview1.sock_open, which is not in
;;   preview 1) and otherwise looks like any plugin.
;; host must: refuse it at load, naming the import, in `host run` exactly as `host inspect` says (one
;;   check): it once loaded, then failed at every start until the circuit breaker.
(module
  (import "wasi_snapshot_preview1" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32) (i32.const 0))
)
