(module
  (import "stratbox" "set_timer" (func $set_timer (param i32 i64) (result i32)))
  (memory (export "memory") 3)                  ;; 3 × 64 KiB
  ;; descriptor at 8: version 1.0, no features, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_abi_v1_0"))
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32)
    (drop (call $set_timer (i32.const 1) (i64.const 1000000000)))   ;; timer 1 in 1 s
    (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $out i32)
    (local.set $p (i32.const 0x10000))
    (local.set $end (i32.add (i32.const 0x10000) (local.get $n)))
    (local.set $out (i32.const 0x20000))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (i32.eq (i32.load16_u (local.get $p)) (i32.const 0x0009))  ;; kind timer
        (then
          ;; cancel_all: kind 0x0203, size 16, seq 0; instrument 0xFFFFFFFF, side 0
          (i64.store (local.get $out) (i64.const 0x0000000000100203))
          (i64.store offset=8 (local.get $out) (i64.const 0x00000000FFFFFFFF))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (drop (call $set_timer (i32.const 1) (i64.const 1000000000)))))
      (local.set $p (i32.add (local.get $p) (i32.load16_u offset=2 (local.get $p))))  ;; skip by size
      (br $next)))
    (i32.sub (local.get $out) (i32.const 0x20000))))
