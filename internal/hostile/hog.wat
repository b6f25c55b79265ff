;; does: places three resting limit buys (10 USD at 1,000 to 1,002 on instrument 0) in every call, new cids
;;   from its first_cid on, never cancelling: it tries to take the whole account's order rate.
;; host must: charge its places to its own rate share (rate_weight; equal shares by default) and refuse
;;   the rest ("rate share used up", counted apart from the exchange's rejections) while every other
;;   plugin keeps its whole share; cancels and the host's own requests keep the reserve. It once got
;;   the market maker's amends and cancels refused and left ~140 orders it could not cancel at exit.
(module
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (global $cid (mut i64) (i64.const 0))
  ;; the start record is at the inbox's start during stratbox_init: first_cid at +16
  (func (export "stratbox_init") (param $n i32) (result i32)
    (global.set $cid (i64.load (i32.const 0x10010)))
    (i32.const 0))
  ;; one 80-byte place record at $p: buy limit GTC, price 1000 + $k USD, amount 10
  (func $place (param $p i32) (param $k i64)
    (i32.store16 (local.get $p) (i32.const 0x0200))
    (i32.store16 offset=2 (local.get $p) (i32.const 80))
    (i32.store offset=4 (local.get $p) (i32.wrap_i64 (global.get $cid)))
    (i64.store offset=8 (local.get $p) (global.get $cid))
    (i32.store offset=16 (local.get $p) (i32.const 0))
    (i32.store8 offset=20 (local.get $p) (i32.const 1))
    (i32.store8 offset=21 (local.get $p) (i32.const 1))
    (i32.store8 offset=22 (local.get $p) (i32.const 1))
    (i64.store offset=32 (local.get $p) (i64.mul (i64.add (i64.const 1000) (local.get $k)) (i64.const 100000000)))
    (i64.store offset=40 (local.get $p) (i64.const 1000000000))
    (global.set $cid (i64.add (global.get $cid) (i64.const 1))))
  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (call $place (i32.const 0x20000) (i64.const 0))
    (call $place (i32.const 0x20050) (i64.const 1))
    (call $place (i32.const 0x200a0) (i64.const 2))
    (i32.const 240))
)
