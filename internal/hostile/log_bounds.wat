;; does: calls log with lengths that reach past the end of its memory and reports each status in one
;;   experimental record (kind 0xF001, 24 bytes):
;;     +8  status of log(info, 0, 0xFFFFFFFF)       +12 status of log(info, 0x2FFFF, 2) (1 byte past the end)
;;     +16 status of log(info, 0x2F000, 0x1000)     +20 status of log(info, 0, 5000) (over 4096: cut)
;; host must: check the whole 32-bit length against memory before cutting the line to 4096 bytes
;;   (out_of_bounds, -2, for the first two: it once logged 4,096 bytes from address 0 and returned ok),
;;   and take the last two (0).
(module
  (import "stratbox" "log" (func $log (param i32 i32 i32) (result i32)))
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $o i32)
    (local.set $o (i32.const 0x20000))
    (i32.store16 (local.get $o) (i32.const 0xF001))
    (i32.store16 offset=2 (local.get $o) (i32.const 24))
    (i32.store offset=8 (local.get $o) (call $log (i32.const 1) (i32.const 0) (i32.const -1)))
    (i32.store offset=12 (local.get $o) (call $log (i32.const 1) (i32.const 0x2FFFF) (i32.const 2)))
    (i32.store offset=16 (local.get $o) (call $log (i32.const 1) (i32.const 0x2F000) (i32.const 0x1000)))
    (i32.store offset=20 (local.get $o) (call $log (i32.const 1) (i32.const 0) (i32.const 5000)))
    (i32.const 24))
)
