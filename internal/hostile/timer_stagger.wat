;; does: arms 256 timers 1 µs apart when it starts (timer i at 10 ms + i µs), and re-arms each timer that fires
;;   for 10 ms later, so that the 256 stay 1 µs apart for ever and every one is above the floor: without a cap
;;   on wake-ups it would be woken every microsecond.
;; host must: wake it for its timers at most once per minimum timer interval (2 ms) after its previous call,
;;   whatever it arms: the timers due meanwhile arrive together.
(module
  (import "stratbox" "set_timer" (func $set_timer (param i32 i64) (result i32)))
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func (export "stratbox_init") (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      (drop (call $set_timer (local.get $i)
        (i64.add (i64.const 10000000) (i64.mul (i64.extend_i32_u (local.get $i)) (i64.const 1000)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 256))))
    (i32.const 0))
  ;; walks the batch: every timer event (kind 0x0009, id at +8) re-arms its timer 10 ms out
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32)
    (local.set $p (i32.const 0x10000))
    (local.set $end (i32.add (i32.const 0x10000) (local.get $n)))
    (block $done (loop $walk
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $size (i32.load16_u offset=2 (local.get $p)))
      (br_if $done (i32.lt_u (local.get $size) (i32.const 8)))
      (if (i32.eq (i32.load16_u (local.get $p)) (i32.const 0x0009))
        (then (drop (call $set_timer (i32.load offset=8 (local.get $p)) (i64.const 10000000)))))
      (local.set $p (i32.add (local.get $p) (local.get $size)))
      (br $walk)))
    (i32.const 0))
)
