;; does: arms timer 1 at after_ns = INT64_MAX when it starts and again in every call.
;; host must: saturate the due time (year 2262: never) instead of overflowing it, in process and in a
;;   child process alike, and so never wake the plugin for it (it once made the host call a child
;;   ~150,000 times in 5 s).
(module
  (import "stratbox" "set_timer" (func $set_timer (param i32 i64) (result i32)))
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32)
    (drop (call $set_timer (i32.const 1) (i64.const 0x7fffffffffffffff)))
    (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (drop (call $set_timer (i32.const 1) (i64.const 0x7fffffffffffffff)))
    (i32.const 0))
)
