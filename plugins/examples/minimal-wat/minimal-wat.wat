;; minimal-wat: the smallest useful stratbox plugin, written by hand against abi/README.md alone.
;;
;; It joins the best bid of instrument 0: on a ticker with a bid, when it has no order, it places a
;; post-only limit buy of the instrument's minimum amount at the best bid (label "wat"); when that order
;; ends (filled, cancelled, rejected) it places a new one on the next ticker. On stop it cancels all.
;; It imports nothing. A batch it cannot frame (spec §8) makes it return -2 (bad input).
;;
;; Build: wat2wasm minimal-wat.wat -o minimal-wat.wasm   (wabt; `make plugins` runs it and checks the committed binary)
(module
  (memory (export "memory") 3)                    ;; 3 × 64 KiB: descriptor, inbox at 64 KiB, outbox at 128 KiB
  ;; descriptor (§7) at 8: version 1.0, no features, inbox 0x10000 (64 KiB), outbox 0x20000 (4 KiB)
  (data (i32.const 8) "\01\00\00\00" "\00\00\00\00" "\00\00\01\00" "\00\00\01\00" "\00\00\02\00" "\00\10\00\00")
  (global $next (mut i64) (i64.const 1))          ;; the next cid (start.first_cid)
  (global $min (mut i64) (i64.const 0))           ;; instrument 0's min_amount, fixed
  (global $live (mut i64) (i64.const 0))          ;; cid of our resting order, 0 when none

  (func (export "stratbox_abi_v1_0"))             ;; the version marker (§6)
  (func (export "stratbox_buffers") (result i32) (i32.const 8))

  ;; $frame returns the size of the record at $p if it lies whole within [$p, $end), else 0 (§8).
  (func $frame (param $p i32) (param $end i32) (result i32)
    (local $size i32)
    (if (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 8)) (then (return (i32.const 0))))
    (local.set $size (i32.load16_u offset=2 (local.get $p)))
    (if (i32.or (i32.lt_u (local.get $size) (i32.const 8))
          (i32.or (i32.and (local.get $size) (i32.const 7))
                  (i32.gt_u (local.get $size) (i32.sub (local.get $end) (local.get $p)))))
      (then (return (i32.const 0))))
    (local.get $size))

  ;; stratbox_init: the start-up blob (§10): start.first_cid and instrument 0's min_amount.
  (func (export "stratbox_init") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32) (local $kind i32)
    (local.set $p (i32.const 0x10000))
    (local.set $end (i32.add (i32.const 0x10000) (local.get $n)))
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $p) (local.get $end)))
      (local.set $size (call $frame (local.get $p) (local.get $end)))
      (if (i32.eqz (local.get $size)) (then (return (i32.const -2))))
      (local.set $kind (i32.load16_u (local.get $p)))
      (if (i32.eq (local.get $kind) (i32.const 0x0100))                          ;; start
        (then (if (i64.gt_u (i64.load offset=16 (local.get $p)) (i64.const 0))
          (then (global.set $next (i64.load offset=16 (local.get $p)))))))
      (if (i32.and (i32.eq (local.get $kind) (i32.const 0x0101))                 ;; instrument 0
                   (i32.eqz (i32.load offset=8 (local.get $p))))
        (then (global.set $min (i64.load offset=32 (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (local.get $size)))
      (br $next)))
    (if (i64.le_s (global.get $min) (i64.const 0)) (then (return (i32.const -3)))) ;; no instrument 0
    (i32.const 0))

  (func (export "stratbox_on_events") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32) (local $kind i32) (local $out i32)
    (local.set $p (i32.const 0x10000))
    (local.set $end (i32.add (i32.const 0x10000) (local.get $n)))
    (local.set $out (i32.const 0x20000))
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $p) (local.get $end)))
      (local.set $size (call $frame (local.get $p) (local.get $end)))
      (if (i32.eqz (local.get $size)) (then (return (i32.const -2))))
      (local.set $kind (i32.load16_u (local.get $p)))
      ;; ticker (0x0003) of instrument 0 with a bid, and no order of ours: place at the best bid
      (if (i32.and (i32.and (i32.eq (local.get $kind) (i32.const 0x0003))
                            (i32.eqz (i32.load offset=8 (local.get $p))))
                   (i32.and (i64.eqz (global.get $live))
                            (i64.gt_s (i64.load offset=24 (local.get $p)) (i64.const 0))))
        (then
          (i64.store (local.get $out) (i64.const 0x0000000000500200))            ;; place, size 80, seq 0
          (i64.store offset=8 (local.get $out) (global.get $next))               ;; cid
          (i64.store offset=16 (local.get $out) (i64.const 0x0001010100000000))  ;; instrument 0, buy, limit, gtc
          (i64.store offset=24 (local.get $out) (i64.const 1))                   ;; flags post_only
          (i64.store offset=32 (local.get $out) (i64.load offset=24 (local.get $p))) ;; price = best bid
          (i64.store offset=40 (local.get $out) (global.get $min))               ;; amount = min_amount
          (i64.store offset=48 (local.get $out) (i64.const 0x0000000000746177))  ;; label "wat"
          (i64.store offset=56 (local.get $out) (i64.const 0))
          (i64.store offset=64 (local.get $out) (i64.const 0))
          (i64.store offset=72 (local.get $out) (i64.const 0))
          (local.set $out (i32.add (local.get $out) (i32.const 80)))
          (global.set $live (global.get $next))
          (global.set $next (i64.add (global.get $next) (i64.const 1)))))
      ;; order_update (0x0005) of our order in a final state (filled 3, cancelled 4, rejected 5)
      (if (i32.and (i32.eq (local.get $kind) (i32.const 0x0005))
                   (i32.and (i64.eq (i64.load offset=8 (local.get $p)) (global.get $live))
                            (i32.ge_u (i32.load8_u offset=20 (local.get $p)) (i32.const 3))))
        (then (global.set $live (i64.const 0))))
      (local.set $p (i32.add (local.get $p) (local.get $size)))
      (br $next)))
    (i32.sub (local.get $out) (i32.const 0x20000)))

  ;; stratbox_on_stop: cancel_all (kind 0x0203, size 16), every instrument, both sides.
  (func (export "stratbox_on_stop") (result i32)
    (i64.store (i32.const 0x20000) (i64.const 0x0000000000100203))
    (i64.store (i32.const 0x20008) (i64.const 0x00000000FFFFFFFF))
    (i32.const 16)))
