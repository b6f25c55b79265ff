;; Test strategy plugin. Inbox: 64-byte events at 0x1000 (price i64 @+8, qty i64 @+16).
;; Outbox: 16-byte intents at 0x10000. State in globals (survives between calls, lost on re-instantiate).
(module
  (memory (export "memory") 4)
  (global $state (mut i64) (i64.const 0))
  (global $calls (mut i64) (i64.const 0))
  (global $fuel (export "fuel") (mut i64) (i64.const 0))
  (func (export "in_ptr") (result i32) (i32.const 0x1000))
  (func (export "out_ptr") (result i32) (i32.const 0x10000))
  (func (export "calls") (result i64) (global.get $calls))

  ;; well-behaved handler
  (func (export "on_events") (param $n i32) (result i32)
    (local $i i32) (local $p i32) (local $price i64) (local $qty i64) (local $k i32) (local $o i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $p (i32.const 0x1000))
    (loop $l
      (local.set $price (i64.load offset=8 (local.get $p)))
      (local.set $qty (i64.load offset=16 (local.get $p)))
      (global.set $state (i64.add (global.get $state) (i64.mul (local.get $price) (local.get $qty))))
      (if (i64.gt_s (local.get $price) (i64.const 1000000))
        (then
          (local.set $o (i32.add (i32.const 0x10000) (i32.shl (local.get $k) (i32.const 4))))
          (i64.store (local.get $o) (local.get $price))
          (i64.store offset=8 (local.get $o) (i64.sub (i64.const 0) (local.get $qty)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $k))

  ;; same handler with injected fuel metering at the loop header (what a fuel injector would emit)
  (func (export "on_events_fuel") (param $n i32) (result i32)
    (local $i i32) (local $p i32) (local $price i64) (local $qty i64) (local $k i32) (local $o i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $p (i32.const 0x1000))
    (loop $l
      (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
      (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
      (local.set $price (i64.load offset=8 (local.get $p)))
      (local.set $qty (i64.load offset=16 (local.get $p)))
      (global.set $state (i64.add (global.get $state) (i64.mul (local.get $price) (local.get $qty))))
      (if (i64.gt_s (local.get $price) (i64.const 1000000))
        (then
          (local.set $o (i32.add (i32.const 0x10000) (i32.shl (local.get $k) (i32.const 4))))
          (i64.store (local.get $o) (local.get $price))
          (i64.store offset=8 (local.get $o) (i64.sub (i64.const 0) (local.get $qty)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $k))

  ;; runaway: loop $iters times (pass -1 / huge for "forever"), pure compute, no host calls
  (func (export "spin") (param $iters i64) (result i64)
    (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005)) (i64.const 1442695040888963407)))
      (local.set $iters (i64.sub (local.get $iters) (i64.const 1)))
      (br_if $l (i64.ne (local.get $iters) (i64.const 0))))
    (local.get $acc))

  ;; runaway with fuel metering injected
  (func (export "spin_fuel") (param $iters i64) (result i64)
    (local $acc i64)
    (loop $l
      (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
      (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005)) (i64.const 1442695040888963407)))
      (local.set $iters (i64.sub (local.get $iters) (i64.const 1)))
      (br_if $l (i64.ne (local.get $iters) (i64.const 0))))
    (local.get $acc))
)
