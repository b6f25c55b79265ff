(module

  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32) (i32.const 0))
  ;; fills its whole outbox (4096 bytes) with 256 cancel intents on every call:
  ;; a flood the host must stop
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      ;; header: kind 0x0202, size 16, seq i+1
      (i32.store (i32.add (i32.const 0x20000) (i32.mul (local.get $i) (i32.const 16))) (i32.const 0x00100202))
      (i32.store offset=4 (i32.add (i32.const 0x20000) (i32.mul (local.get $i) (i32.const 16))) (i32.add (local.get $i) (i32.const 1)))
      ;; cid i+1
      (i64.store offset=8 (i32.add (i32.const 0x20000) (i32.mul (local.get $i) (i32.const 16)))
        (i64.extend_i32_u (i32.add (local.get $i) (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 256))))
    (i32.const 4096))
)
