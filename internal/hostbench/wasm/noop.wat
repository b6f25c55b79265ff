;; noop: the baseline of `host bench`. It walks the batch record by record
;; (reading each header's size, as any plugin must) and returns no intent: the
;; cost of the plugin boundary itself. Build: wat2wasm noop.wat -o noop.wasm
(module
  (memory (export "memory") 3)
  ;; descriptor at 8: ABI 1.0, no features, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (global $seen (mut i64) (i64.const 0))  ;; records seen, so that the walk is not dead code
  (func (export "stratbox_abi_v1_0"))
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.const 0x10000))
    (local.set $end (i32.add (i32.const 0x10000) (local.get $n)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (global.set $seen (i64.add (global.get $seen) (i64.const 1)))
      (br_if $done (i32.lt_u (i32.load16_u offset=2 (local.get $p)) (i32.const 8)))
      (local.set $p (i32.add (local.get $p) (i32.load16_u offset=2 (local.get $p))))
      (br $next)))
    (i32.const 0)))
