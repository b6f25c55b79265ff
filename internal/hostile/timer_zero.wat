;; does: arms all 256 timers at after_ns = 0 when it starts and again in every call, so that every
;;   call leaves 256 timers due at once.
;; host must: raise each to the plugin's minimum timer interval (timer_min, 2 ms by default), wake the
;;   plugin for its timers at most once per interval, and never let the timer events make a batch larger
;;   than the plugin's inbox (the ones that do not fit wait for the next call; no fault).
(module
  (import "stratbox" "set_timer" (func $set_timer (param i32 i64) (result i32)))
  (func (export "stratbox_abi_v1_0"))
  (memory (export "memory") 3)
  ;; descriptor: version 1, flags 0, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (func (export "stratbox_buffers") (result i32) (i32.const 8))
  (func $arm (local $i i32)
    (loop $next
      (drop (call $set_timer (local.get $i) (i64.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 256)))))
  (func (export "stratbox_init") (param $n i32) (result i32) (call $arm) (i32.const 0))
  (func (export "stratbox_on_events") (param $n i32) (result i32) (call $arm) (i32.const 0))
)
